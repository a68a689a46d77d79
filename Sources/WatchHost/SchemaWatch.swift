import Foundation
import Logging
import PostgresStore
import ServiceLifecycle
import Synchronization
import WatchCore

/// Checks every `every` that the database still has this binary's schema: a database dropped
/// and recreated under a running host, or restored from an old dump, leaves every plugin
/// retrying "relation … does not exist" while it looks healthy. Missing or behind: the
/// migrations run again (under their advisory lock) and the plugins recover as their retries
/// succeed. Ahead (a newer binary migrated it): the host stops with both versions named. Until
/// the schema is right, `/healthz`, `/readyz` and every `/plugins/<name>/state` say why.
struct SchemaWatch: Service {
    let runner: MigrationRunner
    let pool: PostgresPool
    let board: SchemaBoard
    let clock: any WatchClock
    let logger: Logger
    /// After the migrations re-created the schema: the config's handles are registered again.
    let onRecreated: @Sendable () async throws -> Void
    var every: Duration = .seconds(10)

    func run() async throws {
        var resyncPending = false
        while !Task.isShuttingDownGracefully {
            do {
                try await clock.sleep(for: every)
            } catch {
                return
            }
            try await checkOnce(resyncPending: &resyncPending)
        }
    }

    /// One check; `resyncPending` carries a re-registration of the config's handles that has
    /// not succeeded yet (the board says so until it has: a watch-set reload meanwhile would
    /// drop the config's addresses).
    func checkOnce(resyncPending: inout Bool) async throws {
        let status: MigrationRunner.SchemaStatus
        do {
            status = try await runner.status(of: pool)
        } catch {
            return  // the database does not answer: /healthz says so already
        }
        switch status {
        case .current:
            break
        case .missing, .behind:
            let problem = status == .missing
                ? "the database has no unrip-watch schema (dropped or recreated under the running host?): re-running the migrations"
                : "the database's schema is behind this binary: re-running the migrations"
            board.set(problem)
            logger.error("database schema lost", metadata: ["status": "\(status)"])
            do {
                let applied = try await runner.apply(to: pool, logger: logger)
                logger.notice("migrations re-applied", metadata: ["versions": "\(applied.map(String.init).joined(separator: ","))"])
                resyncPending = true
            } catch {
                board.set("\(problem); they failed: \(Excerpt.of("\(error)"))")
                logger.error("could not re-apply the migrations", metadata: ["error": "\(error)"])
                return
            }
        case .ahead(let database, let binary):
            let error = MigrationError.newerDatabase(database: database, binary: binary)
            board.set(error.description)
            logger.critical("stopping: \(error)")
            throw error
        }
        if resyncPending {
            do {
                try await onRecreated()
                resyncPending = false
            } catch {
                board.set("the schema was re-created; registering the config's handles again failed (retried every \(every)): \(Excerpt.of("\(error)"))")
                return
            }
        }
        if board.problem != nil { logger.notice("database schema is current again") }
        board.set(nil)
    }
}

/// The schema's problem of the moment, for the control surface.
final class SchemaBoard: Sendable {
    private let current = Mutex<String?>(nil)
    var problem: String? { current.withLock { $0 } }
    func set(_ problem: String?) { current.withLock { $0 = problem } }
}
