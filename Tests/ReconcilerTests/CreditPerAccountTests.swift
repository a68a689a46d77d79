import Foundation
import Logging
import PostgresStore
import Reconciler
import Testing
import WatchCore
import WatchTesting

/// Verifier rises are allocated per (account, token): with several intents accounts, a rise on
/// one account credits only deposits to that account's handles. A handle that names no account
/// is matched as before (by any account's rise), and its credit says so.
@Suite(.serialized) struct CreditPerAccountTests {
    static let token = "nep141:btc.omft.near"
    static let (addressA, addressB, addressAny) = ("bcrt1qaccounta", "bcrt1qaccountb", "bcrt1qnoaccount")

    @Test func aRiseOnOneAccountCreditsOnlyThatAccountsDeposits() async throws {
        let db = try await TestDatabase.create()
        let bridge = try await POABridgeDouble.start()
        defer { bridge.stop() }
        let clock = TestClock()
        let repository = FundingRepository(pool: db.pool)
        try await repository.syncHandles(chain: "bitcoin", [
            FundingHandle(chain: "bitcoin", network: "regtest", asset: "BTC", address: Self.addressA, account: "a.near"),
            FundingHandle(chain: "bitcoin", network: "regtest", asset: "BTC", address: Self.addressB, account: "b.near"),
            FundingHandle(chain: "bitcoin", network: "regtest", asset: "BTC", address: Self.addressAny),
        ])
        let pipeline = try await ChainPipeline.restore(
            adapter: "bitcoin", chain: "bitcoin", network: "regtest", policy: ChainPolicy(confirmations: 2), store: repository, clock: clock)
        let problems = ConfigProblems()
        let section = ConfigSection(
            path: "bridge",
            table: [
                "rpc_url": .string(bridge.url), "accounts": .array([.string("a.near"), .string("b.near")]),
                "chains": .table(["bitcoin": "btc:mainnet"]), "tokens": .table(["BTC": .string(Self.token)]),
            ], problems: problems)
        let service = ReconcilerService(
            configuration: ReconcilerConfiguration(section: section), credits: CreditRepository(pool: db.pool), logger: Logger(label: "accounts"),
            clock: clock)
        #expect(problems.all.isEmpty, "\(problems.all)")

        // Deposits of 100,000 sats to A's handle (first) and to B's.
        var chain = ScriptedChain(asset: "BTC")
        try await pipeline.submit([chain.genesisReport])
        let (txA, txB, txAny) = (String(repeating: "a1", count: 32), String(repeating: "b2", count: 32), String(repeating: "c3", count: 32))
        let payA = chain.transfer(txA, 0, to: Self.addressA, amount: 100_000)
        let payB = chain.transfer(txB, 0, to: Self.addressB, amount: 100_000)
        try await pipeline.submit([.mempoolEntered(payA)])
        try await pipeline.submit([.mempoolEntered(payB)])
        try await pipeline.submit([chain.mine([payA, payB]), chain.mine()])
        func snapshot(_ id: String, _ account: String, hours: Int, _ sats: Int) async throws {
            try await db.pool.withConnection { conn in
                _ = try conn.query(
                    "INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances) VALUES ($1, $2, now() + make_interval(hours => $3::int), $4::jsonb)",
                    [id, account, String(hours), "{\"\(Self.token)\": \"\(sats)\"}"])
            }
        }
        func observation(_ tx: String) async throws -> ObservationRecord? {
            try await repository.observation(TransferKey(chain: "bitcoin", txHash: tx, outputIndex: 0))
        }
        // B's balance rises by 100,000: B's deposit is credited, not A's older one.
        try await snapshot("b-0", "b.near", hours: -24, 0)
        try await snapshot("b-1", "b.near", hours: 1, 100_000)
        await service.reconcileOnce()
        #expect(try await observation(txB)?.state == "CREDITED")
        #expect(try await observation(txB)?.verifierSnapshotId == "b-1")
        #expect(try await observation(txA)?.state == "SEEN_CONFIRMED")
        #expect(try await observation(txA)?.account == "a.near")

        // A handle with no account: A's next rise credits it (matched as before), and says so.
        let payAny = chain.transfer(txAny, 0, to: Self.addressAny, amount: 40_000)
        try await pipeline.submit([.mempoolEntered(payAny)])
        try await pipeline.submit([chain.mine([payAny]), chain.mine()])
        try await snapshot("a-0", "a.near", hours: -24, 0)
        try await snapshot("a-1", "a.near", hours: 2, 40_000)
        await service.reconcileOnce()
        #expect(try await observation(txAny)?.state == "CREDITED")
        #expect(try await observation(txA)?.state == "SEEN_CONFIRMED", "a 40,000 rise does not reflect A's 100,000")
        let id = try #require(try await observation(txAny)?.id)
        let credited = try await repository.events(observationId: id).last
        let details = credited?.json["details"]
        #expect(details?["account_match"] == "any: the handle names no account", "\(String(describing: details))")
        #expect(details?["verifier_account"] == "a.near")
    }

    /// An older deposit to a handle naming no account does not take the rise its own account's
    /// deposit needs: a rise goes to the account's deposits first, then to account-less ones.
    @Test func theAccountsOwnDepositsComeBeforeAccountlessOnes() {
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let accountless = AllocatableObservation(id: 1, asset: "t", amount: Amount(100), firstSeenAt: t0)
        let ownA = AllocatableObservation(id: 2, asset: "t", amount: Amount(100), firstSeenAt: t0.addingTimeInterval(60), account: "a.near")
        let rise = SnapshotRise(snapshotID: "a-1", asset: "t", at: t0.addingTimeInterval(600), rise: Amount(100), account: "a.near")
        #expect(VerifierAllocation.allocate([rise], to: [accountless, ownA]) == [.init(observationID: 2, snapshotID: "a-1", account: "a.near")])
        let bigger = SnapshotRise(snapshotID: "a-2", asset: "t", at: t0.addingTimeInterval(600), rise: Amount(200), account: "a.near")
        #expect(Set(VerifierAllocation.allocate([bigger], to: [accountless, ownA]).map(\.observationID)) == [1, 2])
        let otherAccount = SnapshotRise(snapshotID: "b-1", asset: "t", at: t0.addingTimeInterval(600), rise: Amount(100), account: "b.near")
        #expect(VerifierAllocation.allocate([otherAccount], to: [ownA]) == [])
    }
}
