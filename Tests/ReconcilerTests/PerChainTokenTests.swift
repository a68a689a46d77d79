import Foundation
import Logging
import PostgresStore
import Reconciler
import Testing
import WatchCore
import WatchTesting

/// USDC on two chains is two verifier tokens: `[bridge.tokens.<chain>]` decides which one a
/// chain's deposit is credited as, by the bridge and by the verifier's balances.
@Suite(.serialized) struct PerChainTokenTests {
    static let account = "solver.near"
    static let baseUSDC = "nep141:base-0x833589fcd6edb6e08f4c7c32d4f71b54bda02913.omft.near"
    static let ethUSDC = "nep141:eth-0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48.omft.near"
    static let handle = "0x1111111111111111111111111111111111111111"

    struct World {
        let db: TestDatabase
        let bridge: POABridgeDouble
        let clock: TestClock
        let repository: FundingRepository
        let service: ReconcilerService
        let pipelines: [String: ChainPipeline]
    }

    static func world() async throws -> World {
        let db = try await TestDatabase.create()
        let bridge = try await POABridgeDouble.start()
        let clock = TestClock()
        let repository = FundingRepository(pool: db.pool)
        var pipelines: [String: ChainPipeline] = [:]
        for chain in ["base", "ethereum"] {
            pipelines[chain] = try await ChainPipeline.restore(
                adapter: chain, chain: chain, network: "mainnet", policy: ChainPolicy(confirmations: 1), store: repository, clock: clock)
        }
        let problems = ConfigProblems()
        let section = ConfigSection(
            path: "bridge",
            table: [
                "rpc_url": .string(bridge.url), "accounts": .array([.string(account)]),
                "chains": .table(["base": "eth:8453", "ethereum": "eth:1"]),
                "tokens": .table(["base": .table(["USDC": .string(baseUSDC)]), "ethereum": .table(["USDC": .string(ethUSDC)])]),
            ], problems: problems)
        let configuration = ReconcilerConfiguration(section: section)
        section.finish()
        #expect(problems.all.isEmpty, "\(problems.all)")
        let service = ReconcilerService(configuration: configuration, credits: CreditRepository(pool: db.pool), logger: Logger(label: "reconciler"), clock: clock)
        return World(db: db, bridge: bridge, clock: clock, repository: repository, service: service, pipelines: pipelines)
    }

    /// The same amount to the same address on both chains: only the chain tells them apart.
    static func payBoth(_ w: World, amount: UInt64) async throws -> [String: String] {
        var txs: [String: String] = [:]
        for (i, chain) in ["base", "ethereum"].enumerated() {
            var scripted = ScriptedChain(asset: "USDC")
            let tx = String(repeating: i == 0 ? "b" : "e", count: 64)
            let pay = scripted.transfer(tx, 0, to: handle, amount: amount)
            try await w.pipelines[chain]!.submit([scripted.genesisReport, .mempoolEntered(pay), scripted.mine([pay])])
            txs[chain] = tx
        }
        return txs
    }

    static func state(_ w: World, _ chain: String, _ tx: String) async throws -> ObservationRecord? {
        try await w.repository.observation(TransferKey(chain: chain, txHash: tx, outputIndex: 0))
    }

    static func snapshot(_ w: World, _ id: String, hoursFromNow: Int, _ balances: [String: Int]) async throws {
        let json = JSONValue.object(balances.mapValues { .string(String($0)) }).serialized()
        try await w.db.pool.withConnection { conn in
            _ = try conn.query(
                "INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances) VALUES ($1, $2, now() + make_interval(hours => $3::int), $4::jsonb)",
                [id, account, String(hoursFromNow), json])
        }
    }

    @Test func aBridgeDepositOnOneChainCreditsThatChainsTransferOnly() async throws {
        let w = try await Self.world()
        let txs = try await Self.payBoth(w, amount: 5_000_000)
        // No tx hash: matched by address and amount, which both transfers share.
        w.bridge.addDeposit(
            account: Self.account, chain: "eth:8453", txHash: nil, address: Self.handle, amount: "5000000",
            nearTokenID: "base-0x833589fcd6edb6e08f4c7c32d4f71b54bda02913.omft.near", status: "COMPLETED", mintTxHash: "mint-base")
        await w.service.reconcileOnce()
        #expect(try await Self.state(w, "base", txs["base"]!)?.state == "CREDITED")
        #expect(try await Self.state(w, "ethereum", txs["ethereum"]!)?.state == "SEEN_CONFIRMED")
    }

    @Test func aVerifierRiseOfOneChainsTokenCreditsThatChainsTransferOnly() async throws {
        let w = try await Self.world()
        let txs = try await Self.payBoth(w, amount: 7_000_000)
        try await Self.snapshot(w, "s0", hoursFromNow: -24, [Self.baseUSDC: 0, Self.ethUSDC: 0])
        // Base's USDC rises by exactly the amount: it reflects the base transfer, not Ethereum's.
        try await Self.snapshot(w, "s1", hoursFromNow: 1, [Self.baseUSDC: 7_000_000, Self.ethUSDC: 0])
        await w.service.reconcileOnce()
        let base = try #require(try await Self.state(w, "base", txs["base"]!))
        #expect(base.state == "CREDITED" && base.verifierSnapshotId == "s1")
        #expect(try await Self.state(w, "ethereum", txs["ethereum"]!)?.state == "SEEN_CONFIRMED")
        // A second rise of Base's USDC still does not credit the Ethereum transfer…
        try await Self.snapshot(w, "s2", hoursFromNow: 2, [Self.baseUSDC: 14_000_000, Self.ethUSDC: 0])
        await w.service.reconcileOnce()
        #expect(try await Self.state(w, "ethereum", txs["ethereum"]!)?.state == "SEEN_CONFIRMED")
        // …a rise of Ethereum's USDC does.
        try await Self.snapshot(w, "s3", hoursFromNow: 3, [Self.baseUSDC: 14_000_000, Self.ethUSDC: 7_000_000])
        await w.service.reconcileOnce()
        let eth = try #require(try await Self.state(w, "ethereum", txs["ethereum"]!))
        #expect(eth.state == "CREDITED" && eth.verifierSnapshotId == "s3")
    }
}
