import Alerting
import Foundation
import Logging
import PostgresStore
import Reconciler
import Synchronization
import Testing
import WatchCore
import WatchTesting

/// The bridge as the source of truth, against the POA bridge double speaking the real shapes:
/// BTC deposits without tx hash, summed over UTXOs, FAILED then COMPLETED, unknown statuses,
/// minimums from `supported_tokens`, deposit addresses that rotate, `notify_deposit`.
@Suite(.serialized) struct BridgeSourceTests {
    static let account = "solver.near"
    static let token = "nep141:btc.omft.near"
    static let handle = "bcrt1qhandle"

    struct World {
        let db: TestDatabase
        let bridge: POABridgeDouble
        let clock: TestClock
        let pipeline: ChainPipeline
        let repository: FundingRepository
        let configuration: ReconcilerConfiguration
        let reloads = Reloads()
        var chain = ScriptedChain(asset: "BTC")

        func service() -> ReconcilerService {
            let chains = [HandleChain(chain: "bitcoin", network: "regtest") { text in
                guard text.hasPrefix("bcrt1") else { throw Refusal() }
                return text
            }]
            let reloads = self.reloads
            return ReconcilerService(
                configuration: configuration, credits: CreditRepository(pool: db.pool), logger: Logger(label: "reconciler"), clock: clock,
                handleChains: chains, onHandlesChanged: { reloads.count.withLock { $0 += 1 } })
        }

        func observation(_ tx: String) async throws -> ObservationRecord {
            try #require(try await repository.observation(TransferKey(chain: "bitcoin", txHash: tx, outputIndex: 0)))
        }

        func watched() async throws -> [String] {
            try await repository.watchedHandles(chain: "bitcoin", retiredWatch: configuration.retiredHandleWatch, now: clock.now()).map(\.address).sorted()
        }

        /// Puts a payment of `sats` to `address` on chain and confirms it (2 blocks).
        mutating func pay(_ tx: String, to address: String = BridgeSourceTests.handle, sats: UInt64) async throws {
            if await pipeline.tip == nil { try await pipeline.submit([chain.genesisReport]) }
            let pay = chain.transfer(tx, 0, to: address, amount: sats)
            try await pipeline.submit([.mempoolEntered(pay)])
            try await pipeline.submit([chain.mine([pay]), chain.mine()])
        }
    }

    struct Refusal: Error {}

    final class Reloads: Sendable {
        let count = Mutex(0)
    }

    static func world(_ extra: [String: ConfigValue] = [:]) async throws -> World {
        let db = try await TestDatabase.create()
        let bridge = try await POABridgeDouble.start()
        let clock = TestClock()
        let repository = FundingRepository(pool: db.pool)
        let pipeline = try await ChainPipeline.restore(adapter: "bitcoin", chain: "bitcoin", network: "regtest", policy: ChainPolicy(confirmations: 2), store: repository, clock: clock)
        let problems = ConfigProblems()
        var table: [String: ConfigValue] = [
            "rpc_url": .string(bridge.url), "accounts": .array([.string(account)]), "no_bridge_record_s": 600, "credit_budget_s": 900,
            "chains": .table(["bitcoin": "btc:mainnet"]), "tokens": .table(["BTC": .string(token)]),
        ]
        table.merge(extra) { _, new in new }
        let section = ConfigSection(path: "bridge", table: table, problems: problems)
        let configuration = ReconcilerConfiguration(section: section)
        section.finish()
        #expect(problems.all.isEmpty, "\(problems.all)")
        return World(db: db, bridge: bridge, clock: clock, pipeline: pipeline, repository: repository, configuration: configuration)
    }

    @Test func oneBalanceDepositOfTwoUTXOsCreditsBothByTheirSum() async throws {
        var w = try await Self.world()
        let a = String(repeating: "a1", count: 32), b = String(repeating: "b2", count: 32)
        try await w.pay(a, sats: 30_000)
        try await w.pay(b, sats: 70_000)
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: nil, address: Self.handle, amount: "100000", nearTokenID: "btc.omft.near", status: "COMPLETED", mintTxHash: "NEARmint")
        let service = w.service()
        await service.reconcileOnce()
        for tx in [a, b] {
            let o = try await w.observation(tx)
            #expect(o.state == "CREDITED" && o.creditMatch == "address_sum" && o.nearTxHash == "NEARmint")
            #expect(try await w.repository.events(observationId: o.id).last?.match == "address_sum")
        }
        #expect(await service.state()["matches"]?["address_sum"] == .int(2))
    }

    @Test func twoEqualTransfersAndOneBridgeRecordCreditOneTheOldest() async throws {
        var w = try await Self.world()
        let first = String(repeating: "c3", count: 32), second = String(repeating: "d4", count: 32)
        try await w.pay(first, sats: 50_000)
        w.clock.advance(by: 5)
        try await w.pay(second, sats: 50_000)
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: nil, address: Self.handle, amount: "50000", nearTokenID: "btc.omft.near", status: "COMPLETED")
        let service = w.service()
        await service.reconcileOnce()
        await service.reconcileOnce()
        #expect(try await w.observation(first).state == "CREDITED")
        #expect(try await w.observation(first).creditMatch == "address_amount")
        #expect(try await w.observation(second).state == "SEEN_CONFIRMED")
        // The second record credits the second transfer.
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: nil, address: Self.handle, amount: "50000", nearTokenID: "btc.omft.near", status: "PENDING")
        await service.reconcileOnce()
        #expect(try await w.observation(second).state == "CREDIT_PENDING")
    }

    @Test func failedIsNotFinalAndUnknownStatusesChangeNothing() async throws {
        var w = try await Self.world()
        let tx = String(repeating: "e5", count: 32), other = String(repeating: "f6", count: 32)
        try await w.pay(tx, sats: 80_000)
        try await w.pay(other, to: "bcrt1qother", sats: 1_000)
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: nil, address: Self.handle, amount: "80000", nearTokenID: "btc.omft.near", status: "FAILED")
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: nil, address: "bcrt1qother", amount: "1000", nearTokenID: "btc.omft.near", status: "SWEEPING")
        let service = w.service()
        await service.reconcileOnce()
        #expect(try await w.observation(tx).reason == "bridge_failed")
        #expect(try await w.observation(other).state == "SEEN_CONFIRMED")
        #expect(await service.state()["unknown_statuses"]?["SWEEPING"] == .int(1))
        let stored = try await w.db.pool.withConnection { try $0.query("SELECT status FROM bridge_deposits WHERE address = 'bcrt1qother'").first?["status"] }
        #expect(stored == "SWEEPING")
        // "Handled manually and eventually updated to COMPLETED".
        w.bridge.setStatus(address: Self.handle, "COMPLETED", mintTxHash: "NEARlate")
        await service.reconcileOnce()
        let credited = try await w.observation(tx)
        #expect(credited.state == "CREDITED" && credited.reason == nil && credited.nearTxHash == "NEARlate")
        // A linked deposit whose status turns unknown: nothing changes, even past the budget.
        w.bridge.setStatus(address: "bcrt1qother", "PENDING")
        await service.reconcileOnce()
        #expect(try await w.observation(other).state == "CREDIT_PENDING")
        w.bridge.setStatus(address: "bcrt1qother", "REVIEW")
        w.clock.advance(by: 901)
        await service.reconcileOnce()
        #expect(try await w.observation(other).state == "CREDIT_PENDING")
    }

    /// One deposit PostgreSQL cannot store (a NUL in its address, `\u0000` in its JSON) is skipped
    /// and counted; it does not stop the others from being stored and credited.
    @Test func aDepositTheDatabaseRefusesIsSkippedNotFatal() async throws {
        var w = try await Self.world()
        let tx = String(repeating: "9a", count: 32)
        try await w.pay(tx, sats: 42_000)
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: nil, address: "bcrt1q\u{0}evil", amount: "1", nearTokenID: "btc.omft.near", status: "COMPLETED")
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: tx, address: Self.handle, amount: "42000", nearTokenID: "btc.omft.near", status: "COMPLETED")
        let service = w.service()
        await service.reconcileOnce()
        #expect(try await w.observation(tx).state == "CREDITED")
        #expect(await service.state()["malformed_deposits"] == .int(1))
        #expect(await service.health() == .healthy)
    }

    @Test func belowTheMinimumIsMarkedAtConfirmationAlertsAtOnceAndACreditStillCounts() async throws {
        var w = try await Self.world()
        w.bridge.addToken(chain: "btc:mainnet", nearTokenID: "btc.omft.near", minDepositAmount: "10000")
        let dust = String(repeating: "a7", count: 32), fine = String(repeating: "b8", count: 32)
        try await w.pay(dust, sats: 5_000)
        try await w.pay(fine, sats: 10_000)
        let service = w.service()
        await service.reconcileOnce()
        let stuck = try await w.observation(dust)
        #expect(stuck.state == "FAILED_OR_STUCK" && stuck.reason == "below_minimum_deposit")
        let event = try #require(try await w.repository.events(observationId: stuck.id).last)
        #expect(event.reason == "below_minimum_deposit" && event.details?["min_deposit_amount"] == "10000")
        #expect(try await w.observation(fine).state == "SEEN_CONFIRMED")
        #expect(await service.state()["tokens"]?["by_asset"]?["BTC"]?["min_deposit_amount"] == "10000")
        let alerts = AlertStore(pool: w.db.pool, topic: "unrip.alerts")
        let config = AlertsConfig(forSeconds: 0)
        let fired = try await alerts.evaluate(now: w.clock.now(), config: config, health: nil)
        #expect(fired.contains { if case .fire(let c, _) = $0 { c.rule == .fundingNotCredited && c.subject.contains(dust) } else { false } })
        // Stays marked round after round; a later credit moves it on and clears the alert.
        let marked = try await w.repository.events(observationId: stuck.id).count
        w.clock.advance(by: 1_000)
        await service.reconcileOnce()
        #expect(try await w.repository.events(observationId: stuck.id).count == marked)
        #expect(try await w.observation(dust).reason == "below_minimum_deposit")
        w.bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: dust, address: Self.handle, amount: "5000", nearTokenID: "btc.omft.near", status: "COMPLETED")
        await service.reconcileOnce()
        #expect(try await w.observation(dust).state == "CREDITED")
        let cleared = try await alerts.evaluate(now: w.clock.now(), config: config, health: nil)
        #expect(cleared.contains { if case .resolve(let a, _) = $0 { a.condition.subject.contains(dust) } else { false } })
    }

    @Test func aRotatedAddressIsWatchedTheOldOneStaysWatchedAndTheAlertFiresOnceThenResolves() async throws {
        let w = try await Self.world([
            "handles_from_bridge": true, "deposit_address_refresh_s": 600, "deposit_address_changed_resolve_s": 3_600,
            "retired_handle_watch_s": 86_400,
        ])
        w.bridge.setDepositAddress(account: Self.account, chain: "btc:mainnet", "bcrt1qfirst")
        let service = w.service()
        await service.reconcileOnce()
        #expect(try await w.watched() == ["bcrt1qfirst"])
        #expect(w.reloads.count.withLock { $0 } == 1)
        // Not due yet: the bridge is not asked again.
        await service.reconcileOnce()
        #expect(w.bridge.calls("deposit_address") == 1)

        w.bridge.setDepositAddress(account: Self.account, chain: "btc:mainnet", "bcrt1qsecond")
        w.clock.advance(by: 601)
        await service.reconcileOnce()
        #expect(try await w.watched() == ["bcrt1qfirst", "bcrt1qsecond"])
        let rows = try await w.repository.listHandles()
        #expect(rows.first { $0["address"] == "bcrt1qfirst" }?["retired_at"] != .null)
        #expect(rows.first { $0["address"] == "bcrt1qfirst" }?["active"] == false)
        #expect(rows.first { $0["address"] == "bcrt1qsecond" }?["source"] == "bridge")
        #expect(await service.state()["deposit_addresses"]?[0]?["rotations"] == .int(1))

        let alerts = AlertStore(pool: w.db.pool, topic: "unrip.alerts")
        let config = AlertsConfig(forSeconds: 0)
        func fires(_ changes: [AlertChange]) -> [AlertCondition] {
            changes.compactMap { if case .fire(let c, _) = $0, c.rule == .depositAddressChanged { c } else { nil } }
        }
        let first = fires(try await alerts.evaluate(now: w.clock.now(), config: config, health: nil))
        #expect(first.count == 1)
        #expect(first.first?.labels == ["chain": "bitcoin", "account_id": Self.account, "severity": "info"])
        #expect(first.first?.details["old_address"] == "bcrt1qfirst" && first.first?.details["new_address"] == "bcrt1qsecond")
        w.clock.advance(by: 600)
        #expect(fires(try await alerts.evaluate(now: w.clock.now(), config: config, health: nil)).isEmpty)
        w.clock.advance(by: 3_001)
        let later = try await alerts.evaluate(now: w.clock.now(), config: config, health: nil)
        #expect(later.contains { if case .resolve(let a, _) = $0 { a.condition.rule == .depositAddressChanged } else { false } })
        // Past the retired window the old address is no longer watched.
        w.clock.advance(by: 86_400)
        await service.reconcileOnce()
        #expect(try await w.watched() == ["bcrt1qsecond"])
    }

    @Test func anAddressThatIsNotOfTheChainIsRefusedNamedAndRetried() async throws {
        let w = try await Self.world(["handles_from_bridge": true])
        w.bridge.setDepositAddress(account: Self.account, chain: "btc:mainnet", "0xnot-bitcoin")
        let service = w.service()
        await service.reconcileOnce()
        #expect(try await w.watched().isEmpty)
        let error = await service.state()["deposit_addresses"]?[0]?["last_error"]?.stringValue ?? ""
        #expect(error.contains("not a bitcoin regtest address"), "\(error)")
        w.bridge.setDepositAddress(account: Self.account, chain: "btc:mainnet", "bcrt1qfixed")
        await service.reconcileOnce()  // retried next round, not after the refresh interval
        #expect(try await w.watched() == ["bcrt1qfixed"])
    }

    @Test func notifyDepositIsCalledOncePerTransferAcrossARestartAndRetriedWithBackoff() async throws {
        var w = try await Self.world(["handles_from_bridge": true, "notify_deposit": true])
        w.bridge.setDepositAddress(account: Self.account, chain: "btc:mainnet", Self.handle)
        var service = w.service()
        await service.reconcileOnce()
        let tx = String(repeating: "c9", count: 32)
        try await w.pay(tx, sats: 20_000)
        try await w.pay(String(repeating: "d0", count: 32), to: "bcrt1qnotbridge", sats: 20_000)  // not a bridge handle
        await service.reconcileOnce()
        await service.reconcileOnce()
        #expect(w.bridge.notifications.count == 1)
        #expect(w.bridge.notifications.first?["tx_hash"] == .string(tx) && w.bridge.notifications.first?["chain"] == "btc:mainnet")
        #expect(w.bridge.notifications.first?["deposit_address"] == .string(Self.handle))
        service = w.service()  // a restart: what was notified is durable
        await service.reconcileOnce()
        #expect(w.bridge.notifications.count == 1)
        let o = try await w.observation(tx)
        #expect(try await w.repository.events(observationId: o.id).filter { $0.kind == "bridge_notified" }.count == 1)

        w.bridge.failMethod("notify_deposit")
        let late = String(repeating: "e1", count: 32)
        try await w.pay(late, sats: 30_000)
        await service.reconcileOnce()
        #expect(await service.state()["notify_deposit"]?["errors"] == .int(1))
        await service.reconcileOnce()  // inside the backoff: not asked again
        #expect(w.bridge.calls("notify_deposit") == 2)
        w.bridge.failMethod("notify_deposit", false)
        w.clock.advance(by: 31)
        await service.reconcileOnce()
        #expect(w.bridge.notifications.count == 2 && w.bridge.notifications.last?["tx_hash"] == .string(late))
    }

    /// The rule that never bends, through the reconciler's real decisions on a real database:
    /// whatever the chain and a bridge that never reports credit do, nothing is CREDITED.
    @Test(arguments: 0..<6)
    func withoutCreditFromTheBridgeNothingIsEverCredited(seed: UInt64) async throws {
        var w = try await Self.world()
        var rng = SeededGenerator(seed: seed)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        w.bridge.addToken(chain: "btc:mainnet", nearTokenID: "btc.omft.near", minDepositAmount: "2000")
        let service = w.service()
        var paid: [(tx: String, address: String, sats: UInt64)] = []
        for step in 0..<12 {
            switch pick(4) {
            case 0, 1:
                let tx = String(format: "%064x", Int(seed) * 1000 + step), address = "bcrt1q\(pick(2))", sats = UInt64([1_000, 3_000, 5_000][pick(3)])
                try await w.pay(tx, to: address, sats: sats)
                paid.append((tx, address, sats))
            case 2:
                guard let p = paid.randomElement(using: &rng) else { continue }
                let sum = paid.filter { $0.address == p.address }.prefix(2).reduce(0) { $0 + $1.sats }
                w.bridge.addDeposit(
                    account: Self.account, chain: "btc:mainnet", txHash: pick(2) == 0 ? p.tx : nil, address: p.address,
                    amount: String(pick(2) == 0 ? p.sats : sum), nearTokenID: "btc.omft.near", status: ["PENDING", "FAILED", "SWEEPING"][pick(3)])
            default:
                w.clock.advance(by: Double(pick(1_200)))
            }
            await service.reconcileOnce()
        }
        let credited = try await w.db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM funding_observations WHERE state = 'CREDITED'").first?.int("n") }
        #expect(credited == 0)
        let creditEvents = try await w.db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM outbox WHERE payload->>'state' = 'CREDITED'").first?.int("n") }
        #expect(creditEvents == 0)
    }
}
