import Logging
import PostgresStore
import WatchCore

/// At start, PostgreSQL may not be up yet (a host and its database booting together): `run`
/// retries with backoff, logging each attempt, until `[database] startup_timeout_s`.
enum DatabaseStartup {
    struct Unreachable: Error, CustomStringConvertible {
        let url: String
        let timeout: Duration
        let last: String
        var description: String {
            "PostgreSQL at \(url) did not answer within \(timeout) ([database] startup_timeout_s): \(last)"
        }
    }

    static func wait(for pool: PostgresPool, url: String, timeout: Duration, clock: any WatchClock, logger: Logger) async throws {
        let shown = Redact.credentials(url)
        let started = clock.now()
        let limit = Double(timeout.components.seconds)
        var pause = Duration.seconds(1)
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await pool.withConnection { conn in _ = try conn.query("SELECT 1") }
                if attempt > 1 { logger.notice("PostgreSQL answers; starting", metadata: ["url": "\(shown)", "attempts": "\(attempt)"]) }
                return
            } catch {
                let waited = clock.now().timeIntervalSince(started)
                let why = Excerpt.of(Redact.scrub("\(error)", fragments: Redact.secretFragments(ofURL: url)))
                guard waited + Double(pause.components.seconds) <= limit else {
                    throw Unreachable(url: shown, timeout: timeout, last: why)
                }
                logger.warning(
                    "PostgreSQL not reachable yet; retrying",
                    metadata: ["url": "\(shown)", "attempt": "\(attempt)", "retry_in": "\(pause)", "error": "\(why)"])
                try await clock.sleep(for: pause)
                pause = min(pause * 2, .seconds(10))
            }
        }
    }
}
