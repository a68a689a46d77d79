import Foundation
import Logging
import PostgresStore
import Synchronization
import WatchCore

/// Without `[ha]`, one host per database is the rule, and this enforces it: each plugin runs
/// only while this host holds a session-level advisory lock named for it, on one connection of
/// its own. A second host on the same database finds the lock taken and stands by (its
/// `/plugins/<name>/state` names the holder); the lock goes with the holder's session, so when
/// that host dies or stops, the standby takes over within `renewEvery`. No fencing: with one
/// live host there is nothing to fence; `[ha]` is the mode for several.
final class SoloPluginLocks: Sendable {
    /// One connection for every plugin's lock: locks live and die with it.
    private let pool: PostgresPool
    private let hostID: String
    /// The backend pid each held lock was taken on: a new session (a reconnect) holds none.
    private let held = Mutex<[String: Int]>([:])

    init(url: String, hostID: String, logger: Logger) {
        self.hostID = hostID
        let name = "unrip-watch " + hostID.prefix(40).filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" }
        pool = PostgresPool(url: url, size: 1, maxAttempts: 1, logger: logger, sessionSettings: ["SET application_name = '\(name)'"])
    }

    static let keySQL = "hashtextextended('unrip-watch plugin ' || $1, 0)"

    /// Takes `plugin`'s lock, or confirms it is still held on the live session.
    func acquire(_ plugin: String) async -> LeaseAttempt {
        let known = held.withLock { $0[plugin] }
        do {
            let (pid, taken) = try await pool.withConnection { conn -> (Int, Bool) in
                let pid = try conn.query("SELECT pg_backend_pid() AS pid").first?.int("pid") ?? 0
                if pid == known { return (pid, true) }
                let row = try conn.query("SELECT pg_try_advisory_lock(\(Self.keySQL)) AS taken", [plugin]).first
                return (pid, row?.bool("taken") == true)
            }
            guard taken else {
                held.withLock { $0[plugin] = nil }
                return .heldElsewhere(await holder(plugin))
            }
            held.withLock { $0[plugin] = pid }
            return .held
        } catch {
            held.withLock { $0[plugin] = nil }
            return .failed("\(error)")
        }
    }

    func release(_ plugin: String) async {
        guard held.withLock({ $0.removeValue(forKey: plugin) }) != nil else { return }
        _ = try? await pool.withConnection { conn in try conn.query("SELECT pg_advisory_unlock(\(Self.keySQL))", [plugin]) }
    }

    func isHeld(_ plugin: String) -> Bool { held.withLock { $0[plugin] != nil } }

    /// Who holds `plugin`'s lock: the other session's application name, address and pid.
    private func holder(_ plugin: String) async -> String {
        let found = try? await pool.withConnection { conn in
            try conn.query(
                """
                SELECT a.application_name AS app, host(a.client_addr) AS addr, a.pid
                FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted
                  AND l.classid::bigint = ((\(Self.keySQL)) >> 32) & 4294967295 AND l.objid::bigint = (\(Self.keySQL)) & 4294967295
                LIMIT 1
                """, [plugin]
            ).first
        }
        guard let row = found.flatMap({ $0 }) else { return "another session on this database" }
        let app = row["app"].flatMap { $0.isEmpty ? nil : $0 } ?? "a session"
        return "\(app) (backend pid \(row["pid"] ?? "?"), from \(row["addr"] ?? "a local socket"))"
    }
}

/// One plugin's view of `SoloPluginLocks`, as the supervisor's lease.
final class SoloPluginLock: PluginLease {
    let plugin: String
    let locks: SoloPluginLocks
    let renewEvery = Duration.seconds(5)
    let validFor = Duration.seconds(15)
    private let lastHolder = Mutex<String?>(nil)
    /// Run when the lock is taken after another host held it (an adapter reloads its tracker).
    private let onTakenOver: @Sendable () async throws -> Void

    init(plugin: String, locks: SoloPluginLocks, onTakenOver: @escaping @Sendable () async throws -> Void) {
        self.plugin = plugin
        self.locks = locks
        self.onTakenOver = onTakenOver
    }

    func acquire() async -> LeaseAttempt {
        let before = lastHolder.withLock { $0 }
        let attempt = await locks.acquire(plugin)
        switch attempt {
        case .heldElsewhere(let holder):
            lastHolder.withLock { $0 = holder }
        case .held where before != nil:
            do {
                try await onTakenOver()
            } catch {
                await locks.release(plugin)
                return .failed("taking over: \(error)")
            }
            lastHolder.withLock { $0 = nil }
        case .held, .failed:
            break
        }
        return attempt
    }

    func release() async { await locks.release(plugin) }

    func state() -> JSONValue {
        [
            "mode": "one host per database (no [ha]): a session advisory lock per plugin",
            "held": .bool(locks.isHeld(plugin)),
            "holder": locks.isHeld(plugin) ? "this host" : .optional(lastHolder.withLock { $0 }),
        ]
    }
}
