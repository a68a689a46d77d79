import Foundation
import Logging
import PostgresStore
import Synchronization
import WatchCore

/// Without `[ha]`, one host per database is the rule, and this enforces it: the host's plugins
/// run only while it holds one session-level advisory lock, on a connection of its own. A second
/// host on the same database finds the lock taken and all its plugins stand by (their
/// `/plugins/<name>/state` names the holder), so the plugins of one database never split over
/// two hosts. The lock goes with the holder's session, so when that host dies or stops the
/// standby takes over within `renewEvery`. No fencing: with one live host there is nothing to
/// fence, and a host whose lock session is lost steps down at its next renewal instead of
/// writing on. `[ha]` is the mode for several hosts on purpose (leases, fencing, poolers).
final class SoloPluginLocks: Sendable {
    /// One connection: the lock lives and dies with its session.
    private let pool: PostgresPool
    /// The plugins running under the lock now: it is released when the last one stops.
    private let holders = Mutex<Set<String>>([])
    /// Bumped each time the lock is taken on a session: a plugin that saw another one had the
    /// lock taken anew since its last look (the session was lost and won back).
    private let generation = Mutex(0)

    init(url: String, hostID: String, logger: Logger) {
        let name = "unrip-watch " + hostID.prefix(40).filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" }
        pool = PostgresPool(url: url, size: 1, maxAttempts: 1, logger: logger, sessionSettings: ["SET application_name = '\(name)'"])
    }

    /// The lock's key and the condition that a `pg_locks` row is it (a bigint key is split
    /// into classid, objid; `objsubid` 1), in this database.
    static let key = "hashtextextended('unrip-watch host', 0)"
    static let isTheLock = """
        l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = (\(key) >> 32) & 4294967295 AND l.objid::bigint = \(key) & 4294967295
        """

    /// Whether this host holds the lock for `plugin` now: asked of `pg_locks` on the lock's
    /// session every time (a reconnected session holds nothing, whatever its pid); taken when
    /// free. With it, the generation of the session that holds it (see `generation`).
    func acquire(_ plugin: String) async -> (attempt: LeaseAttempt, generation: Int) {
        do {
            let (held, taken) = try await pool.withConnection { conn -> (Bool, Bool) in
                let mine = try conn.query("SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE \(Self.isTheLock) AND l.pid = pg_backend_pid()) AS mine")
                if mine.first?.bool("mine") == true { return (true, false) }
                let taken = try conn.query("SELECT pg_try_advisory_lock(\(Self.key)) AS taken").first?.bool("taken") == true
                return (taken, taken)
            }
            let now = generation.withLock { g -> Int in
                if taken { g += 1 }
                return g
            }
            guard held else {
                holders.withLock { _ = $0.remove(plugin) }
                return (.heldElsewhere(await holder()), now)
            }
            holders.withLock { _ = $0.insert(plugin) }
            return (.held, now)
        } catch {
            // The session may be gone, and the lock with it: another host may hold it already.
            let was = holders.withLock { $0.remove(plugin) != nil }
            let now = generation.withLock { $0 }
            return (was ? .heldElsewhere("unknown: the lock's session was lost (\(Excerpt.of("\(error)")))") : .failed("\(error)"), now)
        }
    }

    /// `plugin` stopped; the lock goes when no plugin of this host runs under it any more.
    func release(_ plugin: String) async {
        let last = holders.withLock { h -> Bool in
            guard h.remove(plugin) != nil else { return false }
            return h.isEmpty
        }
        guard last else { return }
        _ = try? await pool.withConnection { conn in try conn.query("SELECT pg_advisory_unlock_all()") }
    }

    func isHeld(_ plugin: String) -> Bool { holders.withLock { $0.contains(plugin) } }

    /// Who holds the lock: the other session's application name, address and pid.
    private func holder() async -> String {
        let found = try? await pool.withConnection { conn in
            try conn.query(
                """
                SELECT a.application_name AS app, host(a.client_addr) AS addr, a.pid
                FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE \(Self.isTheLock) LIMIT 1
                """
            ).first
        }
        guard let row = found.flatMap({ $0 }) else { return "another session on this database" }
        let app = row["app"].flatMap { $0.isEmpty ? nil : $0 } ?? "a session"
        return "\(app) (backend pid \(row["pid"] ?? "?"), from \(row["addr"] ?? "a local socket or a hidden address"))"
    }
}

/// One plugin's view of `SoloPluginLocks`, as the supervisor's lease.
final class SoloPluginLock: PluginLease {
    let plugin: String
    let locks: SoloPluginLocks
    let renewEvery = Duration.seconds(5)
    /// A renewal that fails steps the plugin down at once (`acquire` says so): the lock may be
    /// gone with its session.
    let validFor = Duration.seconds(5)
    /// The other holder last seen, and the lock's generation when this plugin last held it.
    private let seen = Mutex<(holder: String?, generation: Int?)>((nil, nil))
    /// Run when this plugin holds the lock on a session it did not hold it on before (an
    /// adapter reloads its tracker: another host may have moved on meanwhile).
    private let onTakenOver: @Sendable () async throws -> Void

    init(plugin: String, locks: SoloPluginLocks, onTakenOver: @escaping @Sendable () async throws -> Void) {
        self.plugin = plugin
        self.locks = locks
        self.onTakenOver = onTakenOver
    }

    func acquire() async -> LeaseAttempt {
        let (attempt, generation) = await locks.acquire(plugin)
        switch attempt {
        case .heldElsewhere(let holder):
            seen.withLock { $0.holder = holder }
        case .held:
            // Held on a session other than the one this plugin last held it on (or held for the
            // first time: a standby since the start): another host may have run the plugin.
            if seen.withLock({ $0.generation }) != generation {
                do {
                    try await onTakenOver()
                } catch {
                    return .failed("taking over: \(error)")
                }
            }
            seen.withLock { $0 = (nil, generation) }
        case .failed:
            break
        }
        return attempt
    }

    func release() async { await locks.release(plugin) }

    func state() -> JSONValue {
        let held = locks.isHeld(plugin)
        return [
            "mode": "one host per database (no [ha]): a session advisory lock for the host",
            "held": .bool(held),
            "holder": held ? "this host" : .optional(seen.withLock { $0.holder }),
        ]
    }
}
