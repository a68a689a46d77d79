import Foundation
import JSONRPCClient
import Logging
import PostgresStore
import Reconciler
import Testing
import WatchCore
import WatchTesting

@Suite(.serialized) struct ReconcilerServiceTests {
    static let account = "solver.near"
    static let token = "nep141:btc.omft.near"

    struct World {
        let db: TestDatabase
        let bridge: POABridgeDouble
        let clock: TestClock
        let pipeline: ChainPipeline
        let repository: FundingRepository
        let credits: CreditRepository
        let service: ReconcilerService
        var chain = ScriptedChain(asset: "BTC")

        func observation(_ tx: String) async throws -> ObservationRecord? {
            try await repository.observation(TransferKey(chain: "bitcoin", txHash: tx, outputIndex: 0))
        }
    }

    static func world(noBridgeRecord: Int = 600, creditBudget: Int = 900, timeout: Int = 15) async throws -> World {
        let db = try await TestDatabase.create()
        let bridge = try await POABridgeDouble.start()
        let clock = TestClock()
        let repository = FundingRepository(pool: db.pool)
        let pipeline = try await ChainPipeline.restore(adapter: "bitcoin", chain: "bitcoin", network: "regtest", policy: ChainPolicy(confirmations: 2), store: repository, clock: clock)
        let problems = ConfigProblems()
        let section = ConfigSection(
            path: "bridge",
            table: [
                "rpc_url": .string(bridge.url), "accounts": .array([.string(account)]), "page_limit": 2,
                "no_bridge_record_s": .int(noBridgeRecord), "credit_budget_s": .int(creditBudget), "timeout_s": .int(timeout),
                "chains": .table(["bitcoin": "btc:mainnet"]), "tokens": .table(["BTC": .string(token)]),
            ], problems: problems)
        let configuration = ReconcilerConfiguration(section: section)
        section.finish()
        #expect(problems.all.isEmpty, "\(problems.all)")
        let credits = CreditRepository(pool: db.pool)
        let service = ReconcilerService(configuration: configuration, credits: credits, logger: Logger(label: "reconciler"), clock: clock)
        return World(db: db, bridge: bridge, clock: clock, pipeline: pipeline, repository: repository, credits: credits, service: service)
    }

    /// Puts a deposit of `sats` to `address` on chain and confirms it.
    static func deposit(_ w: inout World, tx: String, address: String = "bcrt1qhandle", sats: UInt64 = 100_000) async throws {
        if await w.pipeline.tip == nil { try await w.pipeline.submit([w.chain.genesisReport]) }
        let pay = w.chain.transfer(tx, 0, to: address, amount: sats)
        try await w.pipeline.submit([.mempoolEntered(pay)])
        try await w.pipeline.submit([w.chain.mine([pay]), w.chain.mine()])
    }

    @Test func depositFollowedFromSeenToCreditedWithEveryID() async throws {
        var w = try await Self.world()
        let tx = String(repeating: "a1", count: 32)
        try await Self.deposit(&w, tx: tx)
        #expect(try await w.observation(tx)?.state == "SEEN_CONFIRMED")
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: tx.uppercased(), address: "bcrt1qhandle", amount: "100000", nearTokenID: "btc.omft.near")
        await w.service.reconcileOnce()
        let pending = try #require(try await w.observation(tx))
        #expect(pending.state == "CREDIT_PENDING" && pending.bridgeDepositId?.contains(tx.uppercased()) == true)
        w.clock.advance(by: 120)
        w.bridge.setStatus(txHash: tx.uppercased(), "COMPLETED", mintTxHash: "NEARmint123")
        await w.service.reconcileOnce()
        let credited = try #require(try await w.observation(tx))
        #expect(credited.state == "CREDITED" && credited.nearTxHash == "NEARmint123" && credited.creditedAt != nil)
        let events = try await w.repository.events(observationId: credited.id)
        #expect(events.map(\.state) == ["SEEN_UNCONFIRMED", "SEEN_UNCONFIRMED", "SEEN_CONFIRMED", "CREDIT_PENDING", "CREDITED"])
        #expect(events.last?.nearTxHash == "NEARmint123" && events.last?.bridgeDepositId != nil)
        // Credited once: another round changes nothing.
        await w.service.reconcileOnce()
        #expect(try await w.repository.events(observationId: credited.id).count == 5)
        // The legs' durations read back: confirmed→credited took the 120 s the clock moved.
        let latency = try await w.repository.latency(chain: "bitcoin", since: nil)
        #expect(latency["chains"]?["bitcoin"]?["confirmed_to_credited"]?["count"] == .int(1))
        #expect(latency["chains"]?["bitcoin"]?["confirmed_to_credited"]?["p50_s"] == .double(120))
        #expect(latency["chains"]?["bitcoin"]?["seen_to_credited"]?["p99_s"] == .double(120))
        let future = try await w.repository.latency(chain: "bitcoin", since: w.clock.now().addingTimeInterval(3600))
        #expect(future["chains"] == .object([:]))
        let published = try await w.db.pool.withConnection { try $0.query("SELECT payload->>'state' AS s, payload->>'near_tx_hash' AS n FROM outbox ORDER BY id DESC LIMIT 1").first }
        #expect(published?["s"] == "CREDITED" && published?["n"] == "NEARmint123")
    }

    @Test func noBridgeRecordBecomesStuckThenLateCreditClearsIt() async throws {
        var w = try await Self.world(noBridgeRecord: 600)
        let tx = String(repeating: "b2", count: 32)
        try await Self.deposit(&w, tx: tx)
        w.clock.advance(by: 601)
        await w.service.reconcileOnce()
        let stuck = try #require(try await w.observation(tx))
        #expect(stuck.state == "FAILED_OR_STUCK" && stuck.reason == "no_bridge_record_within_policy")
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: tx, address: "bcrt1qhandle", amount: "100000", nearTokenID: "btc.omft.near", status: "CREDITED")
        await w.service.reconcileOnce()
        let credited = try #require(try await w.observation(tx))
        #expect(credited.state == "CREDITED" && credited.reason == nil)
    }

    @Test func bridgeFailureAndBudgetOverrunHaveTheirReasons() async throws {
        var w = try await Self.world(creditBudget: 900)
        let failing = String(repeating: "c3", count: 32), slow = String(repeating: "d4", count: 32)
        try await Self.deposit(&w, tx: failing)
        try await Self.deposit(&w, tx: slow, sats: 5_000)
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: failing, address: "bcrt1qhandle", amount: "100000", nearTokenID: "btc.omft.near", status: "FAILED")
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: slow, address: "bcrt1qhandle", amount: "5000", nearTokenID: "btc.omft.near")
        await w.service.reconcileOnce()
        #expect(try await w.observation(failing)?.reason == "bridge_failed")
        #expect(try await w.observation(slow)?.state == "CREDIT_PENDING")
        w.clock.advance(by: 901)
        await w.service.reconcileOnce()
        #expect(try await w.observation(slow)?.reason == "not_credited_within_policy")
    }

    @Test func verifierSnapshotCreditsAndIsLinked() async throws {
        var w = try await Self.world()
        let tx = String(repeating: "e5", count: 32)
        try await Self.deposit(&w, tx: tx, sats: 250_000)
        try await w.db.pool.withConnection { conn in
            _ = try conn.query("INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances) VALUES ('snap-0', 'solver.near', now() - interval '1 day', '{\"nep141:btc.omft.near\": \"1000000\"}')")
            _ = try conn.query("INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances) VALUES ('snap-1', 'solver.near', now() + interval '1 hour', '{\"nep141:btc.omft.near\": \"1100000\"}')")
        }
        await w.service.reconcileOnce()
        #expect(try await w.observation(tx)?.state == "SEEN_CONFIRMED")  // a 100,000 rise does not reflect 250,000
        try await w.db.pool.withConnection { conn in
            _ = try conn.query("INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances) VALUES ('snap-2', 'solver.near', now() + interval '2 hours', '{\"nep141:btc.omft.near\": \"1350000\"}')")
        }
        await w.service.reconcileOnce()
        let credited = try #require(try await w.observation(tx))
        #expect(credited.state == "CREDITED" && credited.verifierSnapshotId == "snap-2")
    }

    @Test func matchesByAddressAndAmountWhenTheBridgeHasNoTxHashAndKeepsBigAmountsExact() async throws {
        var w = try await Self.world()
        let tx = String(repeating: "f6", count: 32)
        try await Self.deposit(&w, tx: tx, address: "bcrt1qother", sats: 9_007_199_254_740_993)  // 2^53 + 1
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: nil, address: "bcrt1qother", amount: "9007199254740993", nearTokenID: "btc.omft.near", status: "COMPLETED")
        await w.service.reconcileOnce()
        let o = try #require(try await w.observation(tx))
        #expect(o.state == "CREDITED" && o.amount == "9007199254740993")
        let stored = try await w.db.pool.withConnection { try $0.query("SELECT amount::text AS a FROM bridge_deposits").first?["a"] }
        #expect(stored == "9007199254740993")
    }

    @Test func bridgeFaultsAreCountedNeverRecordedAndRecoveredFrom() async throws {
        var w = try await Self.world(timeout: 1)
        let tx = String(repeating: "a7", count: 32)
        try await Self.deposit(&w, tx: tx)
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: tx, address: "bcrt1qhandle", amount: "100000", nearTokenID: "btc.omft.near", status: "COMPLETED")
        for fault in [POABridgeDouble.Fault.error("internal error"), .http(502), .timeout(.seconds(3))] {
            w.bridge.setFault(fault)
            await w.service.reconcileOnce()
            #expect(try await w.observation(tx)?.state == "SEEN_CONFIRMED")
        }
        #expect(await w.service.health() != .healthy)
        let state = await w.service.state()
        #expect(state["errors"] == .int(3))
        #expect(state["last_error"]?.stringValue?.contains("recent_deposits") == true)
        w.bridge.setFault(.malformedItem)
        await w.service.reconcileOnce()
        #expect(await w.service.health() == .healthy)
        #expect(try await w.observation(tx)?.state == "CREDITED")
        #expect(await w.service.state()["malformed_deposits"] == .int(1))
    }

    @Test func pagesThroughEveryDeposit() async throws {
        var w = try await Self.world()
        var txs: [String] = []
        for i in 0..<5 {
            let tx = String(format: "%064x", 0xabc000 + i)
            txs.append(tx)
            try await Self.deposit(&w, tx: tx)
            w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: tx, address: "bcrt1qhandle", amount: "100000", nearTokenID: "btc.omft.near", status: "COMPLETED")
        }
        await w.service.reconcileOnce()  // page_limit 2: three pages
        for tx in txs { #expect(try await w.observation(tx)?.state == "CREDITED") }
        #expect(w.bridge.calls("recent_deposits") == 3)
    }
}

@Suite struct NEARVerifierTests {
    @Test func balancesReadFromNEARRPCBecomeSnapshotsThatCredit() async throws {
        let near = try await NEARRPCDouble.start()
        let client = NEARVerifierClient(url: near.url)
        near.setBalance(account: "solver.near", token: "nep141:btc.omft.near", "1000")
        let first = try await client.balances(account: "solver.near", tokenIDs: ["nep141:btc.omft.near", "nep141:other.near"])
        #expect(first.balances == ["nep141:btc.omft.near": Amount(1000), "nep141:other.near": .zero])
        await #expect(throws: JSONRPCError.self) { _ = try await client.balances(account: "nobody.near", tokenIDs: ["x"]) }

        // Through the reconciler: the rise in the verifier balance credits the confirmed deposit.
        let db = try await TestDatabase.create()
        let clock = TestClock()
        let repository = FundingRepository(pool: db.pool)
        let pipeline = try await ChainPipeline.restore(adapter: "bitcoin", chain: "bitcoin", network: "regtest", policy: ChainPolicy(confirmations: 1), store: repository, clock: clock)
        var chain = ScriptedChain(asset: "BTC")
        let pay = chain.transfer(String(repeating: "9", count: 64), 0, to: "bcrt1qx", amount: 500)
        let bridge = try await POABridgeDouble.start()
        let problems = ConfigProblems()
        let section = ConfigSection(path: "bridge", table: [
            "rpc_url": .string(bridge.url), "near_rpc_url": .string(near.url), "accounts": .array(["solver.near"]),
            "chains": .table(["bitcoin": "btc:mainnet"]), "tokens": .table(["BTC": "nep141:btc.omft.near"]),
        ], problems: problems)
        let service = ReconcilerService(configuration: ReconcilerConfiguration(section: section), credits: CreditRepository(pool: db.pool), logger: Logger(label: "t"), clock: clock)
        #expect(problems.all.isEmpty)
        await service.reconcileOnce()  // baseline snapshot: 1000
        await service.reconcileOnce()  // unchanged: no new snapshot
        #expect(await service.state()["verifier_snapshots_recorded"] == .int(1))
        try await pipeline.submit([chain.genesisReport, .mempoolEntered(pay), chain.mine([pay])])
        clock.advance(by: 5)
        near.setBalance(account: "solver.near", token: "nep141:btc.omft.near", "1500")
        await service.reconcileOnce()
        let o = try #require(try await repository.observation(TransferKey(chain: "bitcoin", txHash: pay.txHash, outputIndex: 0)))
        #expect(o.state == "CREDITED" && o.verifierSnapshotId?.hasPrefix("near:") == true)
    }
}
