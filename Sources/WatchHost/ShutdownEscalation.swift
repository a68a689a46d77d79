import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import WatchCore

/// The way out of a drain that takes too long. Listed last among the host's services, it hears
/// the graceful shutdown first and returns at once, leaving a watcher behind: a second SIGTERM
/// or SIGINT, or `limit` passing, ends the process there and then. Nothing is lost by that:
/// rows are marked published only once acknowledged, and every commit is one transaction.
struct ShutdownEscalation: Service {
    let limit: Duration
    let clock: any WatchClock
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        guard !Task.isCancelled else { return }
        logger.info("draining: a second SIGTERM or SIGINT exits at once", metadata: ["limit": "\(limit)"])
        let (limit, clock, logger) = (limit, clock, logger)
        Task.detached {
            await withTaskGroup(of: String.self) { group in
                group.addTask {
                    for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) { return "second \(signal)" }
                    return ""
                }
                group.addTask {
                    try? await clock.sleep(for: limit)
                    return "drain still running after \(limit)"
                }
                if let reason = await group.next(), !reason.isEmpty {
                    logger.warning("exiting before the drain finished; unacknowledged outbox rows stay unpublished", metadata: ["reason": "\(reason)"])
                    exit(1)
                }
            }
        }
    }
}
