import Foundation
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// `plugin_leases` on the database's clock, and the fence every commit of a plugin checks.
@Suite struct PluginLeaseTests {
    /// Ends `plugin`'s lease now, as if its holder had stopped renewing it long ago.
    static func expire(_ db: TestDatabase, _ plugin: String) async throws {
        try await db.pool.withConnection { conn in
            _ = try conn.query("UPDATE plugin_leases SET expires_at = now() - interval '1 second' WHERE plugin = $1", [plugin])
        }
    }

    @Test func oneHolderAtATimeAndEachTakeoverBumpsTheEpoch() async throws {
        let db = try await TestDatabase.create()
        let leases = PluginLeaseStore(pool: db.pool)
        let first = try await leases.acquire("bitcoin", holder: "host-a", seconds: 15)
        #expect(first.held && first.row?.epoch == 1 && first.row?.holder == "host-a")
        // The other host stands by: the lease is not expired.
        let refused = try await leases.acquire("bitcoin", holder: "host-b", seconds: 15)
        #expect(!refused.held && refused.row?.holder == "host-a", "\(refused)")
        // Renewing keeps the epoch.
        let renewed = try await leases.acquire("bitcoin", holder: "host-a", seconds: 15)
        #expect(renewed.held && renewed.row?.epoch == 1)
        #expect(renewed.row!.expiresAt >= first.row!.expiresAt)
        // Unrenewed past its term, it goes to the standby under a new epoch.
        try await Self.expire(db, "bitcoin")
        let takeover = try await leases.acquire("bitcoin", holder: "host-b", seconds: 15)
        #expect(takeover.held && takeover.row?.epoch == 2 && takeover.row?.holder == "host-b")
        let late = try await leases.acquire("bitcoin", holder: "host-a", seconds: 15)
        #expect(!late.held, "the old holder took the lease back while the new one's is valid")
        // A release ends it at once: the other host takes it without waiting out the term.
        try await leases.release("bitcoin", holder: "host-b", epoch: 2)
        let back = try await leases.acquire("bitcoin", holder: "host-a", seconds: 15)
        #expect(back.held && back.row?.epoch == 3)
        // Leases are per plugin.
        #expect(try await leases.acquire("relay", holder: "host-b", seconds: 15).held)
    }

    static func write(_ pool: PostgresPool, _ value: String) async throws {
        try await pool.transaction { conn in
            _ = try conn.query("INSERT INTO fenced_writes (value) VALUES ($1)", [value])
        }
    }

    static func written(_ db: TestDatabase) async throws -> [String] {
        try await db.pool.withConnection { conn in try conn.query("SELECT value FROM fenced_writes ORDER BY value").compactMap { $0["value"] } }
    }

    @Test func aHostWhoseLeaseMovedOnCommitsNothing() async throws {
        let db = try await TestDatabase.create()
        try await db.pool.withConnection { conn in _ = try conn.query("CREATE TABLE fenced_writes (value text)") }
        let leases = PluginLeaseStore(pool: db.pool)
        let fenceA = PostgresFence(plugin: "relay", holder: "host-a")
        let poolA = db.pool.fenced(by: fenceA)
        // Without a lease, nothing commits; reads pass.
        await #expect(throws: LeaseLost.self) { try await Self.write(poolA, "before") }
        #expect(try await poolA.withConnection { try $0.query("SELECT 1 AS one").first?.int("one") } == 1)
        let held = try await leases.acquire("relay", holder: "host-a", seconds: 15)
        fenceA.hold(held.row?.epoch)
        try await Self.write(poolA, "a1")
        // Autocommit work through the fenced pool is fenced too.
        try await poolA.withConnection { conn in _ = try conn.query("INSERT INTO fenced_writes (value) VALUES ('a2')") }

        // Host A freezes; its lease expires and host B takes over and commits.
        try await Self.expire(db, "relay")
        let fenceB = PostgresFence(plugin: "relay", holder: "host-b")
        fenceB.hold(try await leases.acquire("relay", holder: "host-b", seconds: 15).row?.epoch)
        try await Self.write(db.pool.fenced(by: fenceB), "b1")
        // A wakes, still believing it holds epoch 1: every commit of it is refused.
        await #expect(throws: LeaseLost.self) { try await Self.write(poolA, "a3") }
        await #expect(throws: LeaseLost.self) {
            try await poolA.withConnection { conn in _ = try conn.query("INSERT INTO fenced_writes (value) VALUES ('a4')") }
        }
        #expect(try await Self.written(db) == ["a1", "a2", "b1"])
    }

    /// A host frozen inside a transaction keeps its row locks; the host taking over would wait
    /// on them. With `[ha]` the pool's sessions carry `idle_in_transaction_session_timeout`, and
    /// PostgreSQL ends such a session: its transaction commits nothing, the locks go.
    @Test func aSessionFrozenInsideATransactionIsEndedAndItsLocksReleased() async throws {
        let db = try await TestDatabase.create()
        try await db.pool.withConnection { conn in
            _ = try conn.query("CREATE TABLE cursor_row (id int PRIMARY KEY, holder text)")
            _ = try conn.query("INSERT INTO cursor_row VALUES (1, 'nobody')")
        }
        let frozen = PostgresPool(url: db.url, size: 1, maxAttempts: 1, sessionSettings: ["SET idle_in_transaction_session_timeout = 500"])
        let holding = Task {
            try await frozen.transaction { conn in
                _ = try conn.query("UPDATE cursor_row SET holder = 'frozen' WHERE id = 1")
                Thread.sleep(forTimeInterval: 3)  // frozen mid-transaction, on the pool's own thread
            }
        }
        try await eventually("the frozen session holds the row lock") {
            try await db.pool.withConnection { conn in
                try conn.query("SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'cursor_row' AND l.mode = 'RowExclusiveLock'").first?.int("n") ?? 0
            } > 0
        }
        // The other host's write waits for the frozen session only until PostgreSQL ends it.
        try await db.pool.withConnection { conn in _ = try conn.query("UPDATE cursor_row SET holder = 'standby' WHERE id = 1") }
        let frozenCommitted: Bool
        do { try await holding.value; frozenCommitted = true } catch { frozenCommitted = false }
        #expect(!frozenCommitted, "the frozen transaction committed after it woke")
        let holder = try await db.pool.withConnection { try $0.query("SELECT holder FROM cursor_row WHERE id = 1").first?["holder"] }
        #expect(holder == "standby")
    }
}
