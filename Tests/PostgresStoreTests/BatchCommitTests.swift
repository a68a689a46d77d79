import Foundation
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// A commit carries any number of observations in a fixed number of statements; what it stores
/// and publishes must be exactly what committing them one report at a time would.
@Suite struct BatchCommitTests {
    let clock = TestClock()

    func pipeline(_ repo: FundingRepository, chain: String, confirmations: Int, grace: Int) async throws -> ChainPipeline {
        try await ChainPipeline.restore(
            adapter: chain, chain: chain, network: "devnet",
            policy: ChainPolicy(confirmations: confirmations, reorgGraceBlocks: grace), store: repo, clock: clock)
    }

    /// A random chain history: mempool entries (some paying the same address), blocks, reorgs,
    /// replacements and evictions, as groups of reports an adapter would send.
    static func history(seed: UInt64) -> [[ChainReport]] {
        var rng = SeededGenerator(seed: seed)
        var chain = ScriptedChain()
        var mempool: [TransferSighting] = []
        var groups: [[ChainReport]] = [[chain.genesisReport]]
        for step in 0..<80 {
            switch rng.next() % 7 {
            case 0, 1, 2:
                let s = chain.transfer(
                    String(format: "%064x", Int(seed) * 1000 + step), Int(rng.next() % 2), to: "addr\(rng.next() % 3)",
                    amount: rng.next() % 1_000_000)
                mempool.append(s)
                groups.append([.mempoolEntered(s)])
            case 3:
                groups.append([chain.mine(mempool)])
                mempool = []
            case 4:
                let depth = Int(rng.next() % 3) + 1
                if chain.blocks.count > depth + 1 { groups.append(chain.reorg(depth: depth)) }
            case 5:
                if let victim = mempool.popLast() {
                    groups.append([.mempoolLeft(txHash: victim.txHash, why: rng.next() % 2 == 0 ? .evicted : .replaced(by: "ff"))])
                }
            default:
                groups.append([chain.mine()])
            }
        }
        return groups
    }

    /// Everything a user can see of one chain, without ids and event ids.
    func visible(_ db: TestDatabase, chain: String) async throws -> [String] {
        try await db.pool.withConnection { conn in
            let rows = try conn.query(
                """
                SELECT tx_hash, output_index, state, reason, replaced_by, confirmations, block_height, block_hash, amount::text AS amount,
                       confirmed_at IS NOT NULL AS confirmed,
                       -- what a restart restores from (a closed transfer is never restored)
                       CASE WHEN state IN ('SEEN_UNCONFIRMED', 'SEEN_CONFIRMED', 'CREDIT_PENDING') THEN demoted_at_height END AS demoted
                FROM funding_observations WHERE chain = $1 ORDER BY tx_hash, output_index
                """, [chain]
            ).map { "row " + $0.values.map { $0 ?? "∅" }.joined(separator: "|") }
            let events = try conn.query(
                """
                SELECT o.tx_hash, o.output_index, e.kind, e.state, e.previous_state, e.reason, e.confirmations, e.block_hash
                FROM funding_observation_events e JOIN funding_observations o ON o.id = e.observation_id
                WHERE o.chain = $1 ORDER BY e.id
                """, [chain]
            ).map { "event " + $0.values.map { $0 ?? "∅" }.joined(separator: "|") }
            let outbox = try conn.query(
                """
                SELECT message_key, payload::jsonb - 'event_id' - 'observation_id' - 'chain' AS p
                FROM outbox WHERE payload->>'chain' = $1 ORDER BY id
                """, [chain]
            ).map { "outbox " + ($0["message_key"] ?? "") + " " + ($0["p"] ?? "") }
            let cursor = try conn.query("SELECT height, block_hash, recent_blocks::text AS b FROM chain_cursors WHERE adapter = $1", [chain])
                .map { "cursor " + $0.values.map { $0 ?? "∅" }.joined(separator: "|") }
            return rows + events + outbox + cursor
        }
    }

    @Test(arguments: 0..<12)
    func batchedCommitsStoreAndPublishWhatOneByOneCommitsWould(seed: Int) async throws {
        let db = try await TestDatabase.create()
        let repo = FundingRepository(pool: db.pool)
        let groups = Self.history(seed: UInt64(seed))
        var rng = SeededGenerator(seed: UInt64(seed) ^ 0xBA7C4)
        let confirmations = Int(rng.next() % 3) + 1, grace = Int(rng.next() % 3) + 1

        let single = try await pipeline(repo, chain: "single", confirmations: confirmations, grace: grace)
        for report in groups.joined() { try await single.submit([report]) }

        // The same reports in batches of random size (up to all of them in one commit).
        let batched = try await pipeline(repo, chain: "batched", confirmations: confirmations, grace: grace)
        let all = Array(groups.joined())
        var i = 0
        while i < all.count {
            let n = seed == 0 ? all.count : Int(rng.next() % 25) + 1
            try await batched.submit(Array(all[i..<min(all.count, i + n)]))
            i += n
        }
        let expected = try await visible(db, chain: "single")
        let got = try await visible(db, chain: "batched")
        #expect(expected.contains { $0.hasPrefix("event") } && expected.contains { $0.hasPrefix("outbox") })
        #expect(got.count == expected.count)
        for (a, b) in zip(expected, got) where a != b {
            Issue.record("first difference:\n one by one: \(a)\n batched:    \(b)")
            break
        }
    }

    @Test func aWholeTimelineInOneCommitKeepsItsOrderInTheOutbox() async throws {
        let db = try await TestDatabase.create()
        let repo = FundingRepository(pool: db.pool)
        var chain = ScriptedChain()
        let p = try await pipeline(repo, chain: "testchain", confirmations: 2, grace: 2)
        let first = chain.transfer(String(repeating: "1", count: 64), 0, to: "addr1", amount: 10)
        let second = chain.transfer(String(repeating: "2", count: 64), 0, to: "addr1", amount: 20)
        let observations = try await p.submit([
            chain.genesisReport, .mempoolEntered(first), .mempoolEntered(second), chain.mine([first, second]), chain.mine(),
        ])
        #expect(observations.count == 6)
        let outbox = try await db.pool.withConnection { conn in
            try conn.query("SELECT message_key, payload->>'tx_hash' AS tx, payload->>'kind' AS kind FROM outbox ORDER BY id")
        }
        #expect(outbox.map { "\($0["tx"]!.prefix(1)) \($0["kind"]!)" } == observations.map { "\($0.key.txHash.prefix(1)) \($0.kind.rawValue)" })
        #expect(outbox.allSatisfy { $0["message_key"] == "addr1" })
        let rows = try await repo.listObservations(ObservationFilter(chain: "testchain"))
        #expect(rows.map(\.state) == ["SEEN_CONFIRMED", "SEEN_CONFIRMED"])
    }

    @Test func aLargeMempoolBatchWrittenByThreeTransactionsKeepsEveryAddresssOrder() async throws {
        let db = try await TestDatabase.create()
        let repo = FundingRepository(pool: db.pool)
        var chain = ScriptedChain()
        let p = try await pipeline(repo, chain: "testchain", confirmations: 2, grace: 2)
        try await p.submit([chain.genesisReport])
        // Three times the split threshold, over 7 addresses (every part gets some).
        let payments = (0..<900).map { i in
            chain.transfer(String(format: "%064x", 50_000 + i), i % 2, to: "addr\(i % 7)", amount: UInt64(1_000 + i))
        }
        let observations = try await p.submit(payments.map { .mempoolEntered($0) })
        #expect(observations.count == 900)
        let outbox = try await db.pool.withConnection { conn in
            try conn.query("SELECT message_key, payload->>'tx_hash' AS tx, payload->>'output_index' AS i FROM outbox ORDER BY id")
        }
        #expect(outbox.count == 900)
        let writers = try await db.pool.withConnection { conn in
            try conn.query("SELECT count(DISTINCT xmin::text) AS n FROM funding_observations").first?.int("n")
        }
        #expect(writers == 3, "transactions that wrote the batch")
        var got: [String: [String]] = [:]
        for row in outbox { got[row["message_key"] ?? "", default: []].append("\(row["tx"] ?? ""):\(row["i"] ?? "")") }
        var expected: [String: [String]] = [:]
        for pay in payments { expected[pay.address, default: []].append("\(pay.txHash):\(pay.outputIndex)") }
        #expect(got == expected)
        let stored = try await repo.listObservations(ObservationFilter(chain: "testchain", limit: 1000))
        #expect(stored.count == 900 && stored.allSatisfy { $0.state == "SEEN_UNCONFIRMED" })
        // The tracker follows all of them: mining them confirms each once.
        try await p.submit([chain.mine(payments), chain.mine()])
        let confirmed = try await db.pool.withConnection { conn in
            try conn.query("SELECT count(*) AS n FROM funding_observation_events WHERE kind = 'confirmed'").first?.int("n")
        }
        #expect(confirmed == 900)
    }

    @Test func addressesAndLabelsWithQuotesBackslashesAndBracesRoundTrip() async throws {
        let db = try await TestDatabase.create()
        let repo = FundingRepository(pool: db.pool)
        let odd = ["a\"b", "back\\slash", "{braces},comma", "NULL", "ünïcødé ✓", ""]
        let observations = odd.enumerated().map { i, address in
            ChainObservation(
                key: TransferKey(chain: "testchain", txHash: "tx\(i)", outputIndex: 0), network: "devnet", asset: "TST",
                address: address, amount: Amount(UInt64(i)), kind: .seenInMempool, target: .seenUnconfirmed, confirmations: 0,
                block: nil, observedAt: clock.now())
        }
        try await repo.commit(TrackerCommit(adapter: "testchain", chain: "testchain", observations: observations, tip: nil, recentBlocks: [], demotions: [:]))
        for (i, address) in odd.enumerated() {
            let row = try #require(try await repo.observation(TransferKey(chain: "testchain", txHash: "tx\(i)", outputIndex: 0)))
            #expect(row.address == address)
        }
        let keys = try await db.pool.withConnection { conn in
            try conn.query("SELECT message_key, payload->>'address' AS a FROM outbox ORDER BY id").map { [$0["message_key"], $0["a"]] }
        }
        #expect(keys == odd.map { [$0, $0] })
    }
}

@Suite struct OutboxNotificationTests {
    @Test func aCommittedOutboxRowWakesTheListenerAlsoAfterItsConnectionWasKilled() async throws {
        let db = try await TestDatabase.create()
        let listener = OutboxStore(pool: db.pool).listen(logger: .init(label: "test.listen"))
        defer { listener.stop() }
        try await eventually("listening") { listener.isListening }

        func commitOneRowAndWait(_ what: String) async throws {
            let before = listener.signal.generation
            try await db.pool.transaction { conn in
                let id = UUID().uuidString.lowercased()
                try Outbox.enqueue(conn: conn, topic: "t", key: "k", eventID: id, payload: ["event_id": .string(id)])
            }
            try await eventually(what) { listener.signal.generation != before }
        }
        try await commitOneRowAndWait("woken by a commit")

        // A rolled-back insert notifies nobody: a marker committed after it is the only
        // notification received (PostgreSQL delivers them in commit order).
        let quiet = listener.notificationsReceived.count
        try? await db.pool.transaction { conn in
            try Outbox.enqueue(conn: conn, topic: "t", key: "k", eventID: UUID().uuidString.lowercased(), payload: [:])
            throw CancellationError()
        }
        try await db.pool.withConnection { conn in _ = try conn.query("SELECT pg_notify('\(Outbox.channel)', 'marker')") }
        try await eventually("the marker's notification") { listener.notificationsReceived.lastPayload == "marker" }
        #expect(listener.notificationsReceived.count == quiet + 1)

        try await db.pool.withConnection { conn in
            // This database's listener only: other tests' hosts share the cluster and listen too.
            _ = try conn.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database() AND pid <> pg_backend_pid()")
        }
        try await eventually("listening again") {
            // The listener notices the dead connection when its socket closes.
            let listeners = try await db.pool.withConnection { conn in
                try conn.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()").first?.int("n")
            }
            return listener.isListening && listeners == 1
        }
        try await commitOneRowAndWait("woken after reconnecting")
    }
}
