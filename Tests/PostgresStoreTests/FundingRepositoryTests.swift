import Foundation
import PostgresStore
import Testing
import WatchCore
import WatchTesting

@Suite struct FundingRepositoryTests {
    let clock = TestClock()

    func pipeline(_ repo: FundingRepository, confirmations: Int = 2) async throws -> ChainPipeline {
        try await ChainPipeline.restore(
            adapter: "testchain", chain: "testchain", network: "devnet",
            policy: ChainPolicy(confirmations: confirmations, reorgGraceBlocks: 2), store: repo, clock: clock)
    }

    @Test func observationTimelineRoundTripsWithEventsOutboxAndCursor() async throws {
        let db = try await TestDatabase.create()
        let repo = FundingRepository(pool: db.pool)
        var chain = ScriptedChain()
        let p = try await pipeline(repo)
        let pay = chain.transfer(String(repeating: "a", count: 64), 1, to: "addr1", amount: 123_456)
        try await p.submit([chain.genesisReport, .mempoolEntered(pay)])
        clock.advance(by: 60)
        try await p.submit([chain.mine([pay])])
        clock.advance(by: 60)
        try await p.submit([chain.mine()])

        let list = try await repo.listObservations(ObservationFilter(chain: "testchain"))
        #expect(list.count == 1)
        let o = try #require(list.first)
        #expect(o.state == "SEEN_CONFIRMED" && o.amount == "123456" && o.confirmations == 2 && o.outputIndex == 1)
        #expect(o.blockHeight == chain.tip.height - 1 && o.reason == nil)
        let events = try await repo.events(observationId: o.id)
        #expect(events.map(\.kind) == ["seen_in_mempool", "included", "confirmed"])
        #expect(events.map(\.state) == ["SEEN_UNCONFIRMED", "SEEN_UNCONFIRMED", "SEEN_CONFIRMED"])
        #expect(events[0].blockHash == nil && events[1].blockHash != nil)
        #expect(events[0].at < events[2].at)
        #expect(try await repo.cursor(adapter: "testchain") == BlockRef(height: chain.tip.height, hash: chain.tip.hash))
        let outbox = try await db.pool.withConnection { conn in
            try conn.query("SELECT message_key, payload->>'state' AS s, payload->>'schema' AS schema FROM outbox ORDER BY id")
        }
        #expect(outbox.map { $0["s"] } == ["SEEN_UNCONFIRMED", "SEEN_UNCONFIRMED", "SEEN_CONFIRMED"])
        #expect(outbox.allSatisfy { $0["message_key"] == "addr1" && $0["schema"] == "unrip.funding_observation.v1" })
    }

    @Test func upsertIsIdempotentAndTheDatabaseArbitratesState() async throws {
        let db = try await TestDatabase.create()
        let repo = FundingRepository(pool: db.pool)
        let key = TransferKey(chain: "testchain", txHash: "bb", outputIndex: 0)
        func observation(_ target: FundingTarget, kind: ObservationKind, conf: Int) -> ChainObservation {
            ChainObservation(key: key, network: "devnet", asset: "TST", address: "addr1", amount: Amount(5), kind: kind, target: target, confirmations: conf, block: BlockRef(height: 10, hash: "h10"), observedAt: clock.now())
        }
        let commit = TrackerCommit(adapter: "testchain", chain: "testchain", observations: [observation(.seenUnconfirmed, kind: .included, conf: 1)], tip: nil, recentBlocks: [], demotions: [:])
        try await repo.commit(commit)
        try await repo.commit(commit)
        #expect(try await repo.listObservations(ObservationFilter()).count == 1)

        // The reconciler moved it to CREDITED; a late chain report cannot move it back.
        try await db.pool.withConnection { conn in
            _ = try conn.query("UPDATE funding_observations SET state = 'CREDITED' WHERE tx_hash = 'bb'")
        }
        try await repo.commit(TrackerCommit(adapter: "testchain", chain: "testchain", observations: [observation(.seenConfirmed, kind: .confirmed, conf: 6)], tip: nil, recentBlocks: [], demotions: [:]))
        let row = try #require(try await repo.observation(key))
        #expect(row.state == "CREDITED" && row.confirmations == 6)
    }

    @Test func rolledBackTransactionLeavesNothingBehind() async throws {
        let db = try await TestDatabase.create()
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await db.pool.transaction { conn in
                try conn.query("INSERT INTO funding_handles (chain, network, asset, address) VALUES ('x','y','z','w')")
                throw Boom()
            }
        }
        let n = try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM funding_handles").first?.int("n") }
        #expect(n == 0)
    }

    @Test func constraintAndSyntaxErrorsAreTyped() async throws {
        let db = try await TestDatabase.create()
        await #expect {
            try await db.pool.withConnection { conn in
                try conn.query("INSERT INTO funding_observations (chain, network, asset, address, tx_hash, output_index, amount, state, first_seen_at, updated_at) VALUES ('c','n','a','x','t',0,-1,'SEEN_UNCONFIRMED',now(),now())")
            }
        } throws: { error in
            if case PostgresError.constraintViolation(let state, _) = error { return state == "23514" }
            return false
        }
        await #expect {
            try await db.pool.withConnection { try $0.query("SELEC 1") }
        } throws: { error in
            if case PostgresError.syntax = error { return true }
            return false
        }
        await #expect {
            try await PostgresPool(url: "postgresql://nobody@127.0.0.1:1/none", maxAttempts: 1).withConnection { try $0.query("SELECT 1") }
        } throws: { error in
            (error as? PostgresError)?.isConnectionLost == true
        }
    }

    @Test func concurrentWritersNeitherLoseNorDuplicate() async throws {
        let db = try await TestDatabase.create(poolSize: 8)
        let repo = FundingRepository(pool: db.pool)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for i in 0..<25 {
                        // Every writer reports the same 25 transfers: each must land exactly once.
                        let key = TransferKey(chain: "testchain", txHash: String(format: "%064x", i), outputIndex: 0)
                        let o = ChainObservation(key: key, network: "devnet", asset: "TST", address: "addr\(i % 3)", amount: Amount(UInt64(i)), kind: .seenInMempool, target: .seenUnconfirmed, confirmations: 0, block: nil, observedAt: Date())
                        try await repo.commit(TrackerCommit(adapter: "w\(writer)", chain: "testchain", observations: [o], tip: nil, recentBlocks: [], demotions: [:]))
                    }
                }
            }
            try await group.waitForAll()
        }
        let counts = try await db.pool.withConnection { conn in
            try conn.query("SELECT (SELECT count(*) FROM funding_observations) AS o, (SELECT count(*) FROM funding_observation_events) AS e").first
        }
        #expect(counts?.int("o") == 25)
        #expect(counts?.int("e") == 25)
    }

    @Test func trackerIsRestoredAfterRestartWithNothingLostOrDuplicated() async throws {
        let db = try await TestDatabase.create()
        let repo = FundingRepository(pool: db.pool)
        var chain = ScriptedChain()
        let first = try await pipeline(repo, confirmations: 3)
        let pay = chain.transfer(String(repeating: "c", count: 64), 0, to: "addr1", amount: 42)
        try await first.submit([chain.genesisReport, chain.mine([pay])])
        // Restart: a new pipeline from the database.
        let second = try await pipeline(repo, confirmations: 3)
        #expect(await second.tip == chain.tip)
        #expect(await second.openTransfers.map(\.key.txHash) == [pay.txHash])
        try await second.submit([chain.mine()])
        try await second.submit([chain.mine()])
        let rows = try await repo.listObservations(ObservationFilter())
        #expect(rows.count == 1 && rows[0].state == "SEEN_CONFIRMED")
    }

    @Test func handlesSyncAndShowPendingPrecreditOnly() async throws {
        let db = try await TestDatabase.create()
        let repo = FundingRepository(pool: db.pool)
        try await repo.syncHandles(chain: "testchain", [
            FundingHandle(chain: "testchain", network: "devnet", asset: "TST", address: "addr1", label: "hot"),
            FundingHandle(chain: "testchain", network: "devnet", asset: "TST", address: "addr2"),
        ])
        try await repo.syncHandles(chain: "testchain", [FundingHandle(chain: "testchain", network: "devnet", asset: "TST", address: "addr1", label: "hot")])
        let chain = ScriptedChain(asset: "TST")
        let p = try await pipeline(repo)
        try await p.submit([chain.genesisReport, .mempoolEntered(chain.transfer("d1", 0, to: "addr1", amount: 700)), .mempoolEntered(chain.transfer("d2", 0, to: "addr1", amount: 300))])
        let handles = try await repo.listHandles()
        let addr1 = try #require(handles.first { $0["address"] == "addr1" })
        #expect(addr1["pending_precredit"] == "1000")
        #expect(addr1["open_transfers"] == .int(2))
        #expect(addr1["label"] == "hot" && addr1["active"] == true)
        #expect(handles.first { $0["address"] == "addr2" }?["active"] == false)
        let text = JSONValue.array(handles).serialized().lowercased()
        #expect(!text.contains("spendable") && !text.contains("balance"))
    }
}

@Suite struct ReconnectTests {
    @Test func poolReconnectsAfterTheServerDropsItsConnections() async throws {
        let db = try await TestDatabase.create(poolSize: 2)
        let pid = try await db.pool.withConnection { try $0.query("SELECT pg_backend_pid() AS p").first?["p"] }
        #expect(pid != nil)
        // An administrator (or a PostgreSQL restart) kills every connection of this database.
        let admin = PostgresPool(url: db.url, size: 1)
        try await admin.withConnection { conn in
            _ = try conn.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        }
        let after = try await db.pool.withConnection { try $0.query("SELECT pg_backend_pid() AS p").first?["p"] }
        #expect(after != nil && after != pid)
    }
}
