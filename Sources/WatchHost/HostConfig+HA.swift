import Foundation
import WatchCore

/// `[ha]`: several hosts on one database, each plugin active on one of them at a time.
public struct HAConfig: Sendable, Equatable {
    /// Off (the default for one host): every plugin runs here, no lease is taken.
    public var enabled = false
    /// How long a lease lasts unrenewed; renewed every third of it, taken over once expired.
    public var leaseSeconds = 15
    /// This host's name in `plugin_leases.holder` (default: hostname-pid, unique per process).
    public var hostID = HAConfig.defaultHostID

    public init() {}

    /// With `[ha]` on, a session idle inside a transaction for two thirds of `lease_s` is ended
    /// by PostgreSQL: a host frozen mid-transaction (SIGSTOP, a long pause) would otherwise hold
    /// its row locks, and the host taking its leases over would wait on them. Our transactions
    /// never pause between statements for anything like that long.
    public var sessionSettings: [String] {
        guard enabled else { return [] }
        return ["SET idle_in_transaction_session_timeout = \(max(1_000, leaseSeconds * 2_000 / 3))"]
    }

    public static var defaultHostID: String { "\(ProcessInfo.processInfo.hostName)-\(getpid())" }

    static func read(_ section: ConfigSection) -> HAConfig {
        var ha = HAConfig()
        ha.enabled = section.bool("enabled", default: false)
        ha.leaseSeconds = section.int("lease_s", default: 15, range: 3...3_600)
        let id = section.string("host_id", default: nil)
        if let id {
            if id.isEmpty || id.count > 200 || id.contains(where: { $0.isNewline }) {
                section.problem("host_id", "\"\(Excerpt.of(id))\"", "expected a host name of 1 to 200 characters, no line breaks (or leave it out for hostname-pid)")
            } else {
                ha.hostID = id
            }
        }
        section.recordEffective("host_id", .string(ha.hostID))
        section.finish()
        return ha
    }
}
