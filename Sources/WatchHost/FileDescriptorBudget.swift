import Foundation
import Logging

/// File descriptors are shared by HTTP clients and what the service itself needs (PostgreSQL,
/// Kafka, node connections, files). At start the soft `RLIMIT_NOFILE` is raised to the hard
/// limit, and HTTP may hold at most what is left after a reserve, so a flood of idle clients
/// makes new clients wait instead of starving the service of descriptors.
enum FileDescriptorBudget {
    /// Kept for everything but HTTP.
    static let reserved = 256

    /// Raises the soft limit; returns the HTTP connection cap to use.
    static func httpConnections(configured: Int, logger: Logger) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return configured }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let available = Int(clamping: limit.rlim_cur)  // RLIM_INFINITY is the largest value
        let cap = max(1, min(configured, available - reserved))
        if cap < configured {
            logger.warning(
                "fewer file descriptors than [http] max_connections needs; serving fewer at once",
                metadata: ["max_connections": "\(configured)", "using": "\(cap)", "nofile": "\(available)"])
        }
        return cap
    }
}
