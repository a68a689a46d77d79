import Foundation
import Logging
import PostgresStore
import Reconciler
import Testing
import WatchCore
import WatchTesting

/// The rule that never bends, through the whole decision path: random chain histories (payments,
/// blocks, reorgs, evictions) through the tracker, random bridge records and status changes,
/// verifier snapshots and time, with the reconciler deciding after every step. A transfer is
/// CREDITED only with the bridge's or the verifier's word for it: a bridge record that said
/// COMPLETED or CREDITED for its transaction (or, with no tx hash, for its address), or a
/// verifier snapshot that exists. Chain events, PENDING or FAILED records and time alone never
/// credit anything.
@Suite(.serialized) struct NeverSpendableDecisionPathTests {
    static let account = "solver.near"
    static let addresses = ["bcrt1qalpha", "bcrt1qbeta"]
    static let amounts: [UInt64] = [10_000, 25_000, 60_000]

    /// What the bridge and the verifier ever said that may credit a transfer.
    struct Evidence {
        var completedTxs: Set<String> = []
        var completedAddresses: Set<String> = []
        var snapshots: Set<String> = []
    }

    struct Deposit {
        var tx: String?
        var address: String
    }

    @Test(arguments: 0..<8)
    func randomHistoriesCreditOnlyOnTheBridgesOrVerifiersWord(seed: Int) async throws {
        var rng = SeededGenerator(seed: UInt64(seed) &* 0x5EED)
        let db = try await TestDatabase.create()
        let bridge = try await POABridgeDouble.start()
        defer { bridge.stop() }
        let clock = TestClock()
        let repository = FundingRepository(pool: db.pool)
        let pipeline = try await ChainPipeline.restore(
            adapter: "bitcoin", chain: "bitcoin", network: "regtest",
            policy: ChainPolicy(confirmations: Int(rng.next() % 3) + 1, reorgGraceBlocks: Int(rng.next() % 3)), store: repository, clock: clock)
        let problems = ConfigProblems()
        let section = ConfigSection(
            path: "bridge",
            table: [
                "rpc_url": .string(bridge.url), "accounts": .array([.string(Self.account)]), "no_bridge_record_s": .int(Int(rng.next() % 1800) + 60),
                "credit_budget_s": .int(Int(rng.next() % 1800) + 60), "chains": .table(["bitcoin": "btc:mainnet"]),
                "tokens": .table(["BTC": "nep141:btc.omft.near"]),
            ], problems: problems)
        let service = ReconcilerService(
            configuration: ReconcilerConfiguration(section: section), credits: CreditRepository(pool: db.pool), logger: Logger(label: "never-spendable"), clock: clock)
        #expect(problems.all.isEmpty, "\(problems.all)")

        var chain = ScriptedChain(asset: "BTC")
        try await pipeline.submit([chain.genesisReport])
        var mempool: [TransferSighting] = [], paid: [TransferSighting] = [], deposits: [Deposit] = []
        var evidence = Evidence()
        var balance = 0
        func pick<T>(_ items: [T]) -> T? { items.isEmpty ? nil : items[Int(rng.next() % UInt64(items.count))] }
        func record(_ status: String, _ deposit: Deposit) {
            guard status == "COMPLETED" || status == "CREDITED" else { return }
            if let tx = deposit.tx { evidence.completedTxs.insert(tx) } else { evidence.completedAddresses.insert(deposit.address) }
        }
        let statuses = ["PENDING", "PENDING", "FAILED", "COMPLETED", "CREDITED"]

        for step in 0..<30 {
            switch rng.next() % 9 {
            case 0, 1:
                let pay = chain.transfer(String(format: "%064x", seed * 10_000 + step), 0, to: pick(Self.addresses)!, amount: pick(Self.amounts)!)
                mempool.append(pay)
                paid.append(pay)
                try await pipeline.submit([.mempoolEntered(pay)])
            case 2:
                try await pipeline.submit([chain.mine(mempool), chain.mine()])
                mempool = []
            case 3:
                let depth = Int(rng.next() % 2) + 1
                if chain.blocks.count > depth + 1 { try await pipeline.submit(chain.reorg(depth: depth)) }
            case 4:
                if let victim = mempool.popLast() { try await pipeline.submit([.mempoolLeft(txHash: victim.txHash, why: .evicted)]) }
            case 5:
                // A bridge record: for a paid transfer or a stranger, by tx hash or address only.
                let about = pick(paid)
                let deposit = Deposit(
                    tx: rng.next() % 3 == 0 ? nil : (about?.txHash ?? String(format: "%064x", 999_000 + step)),
                    address: about?.address ?? pick(Self.addresses)!)
                let status = pick(statuses)!
                bridge.addDeposit(
                    account: Self.account, chain: "btc:mainnet", txHash: deposit.tx, address: deposit.address,
                    amount: String(about?.amount.description ?? "\(pick(Self.amounts)!)"), nearTokenID: "btc.omft.near", status: status)
                deposits.append(deposit)
                record(status, deposit)
            case 6:
                if let deposit = pick(deposits) {
                    let status = pick(statuses)!
                    bridge.setStatus(txHash: deposit.tx, address: deposit.tx == nil ? deposit.address : nil, status)
                    record(status, deposit)
                }
            case 7:
                // A verifier snapshot: the balance may rise by a paid amount, or not at all.
                if rng.next() % 2 == 0 { balance += Int(pick(Self.amounts)!) }
                let id = "snap-\(seed)-\(step)", balances = "{\"nep141:btc.omft.near\": \"\(balance)\"}"
                let at = String(clock.now().timeIntervalSince1970)
                try await db.pool.withConnection { conn in
                    _ = try conn.query(
                        "INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances) VALUES ($1, $2, to_timestamp($3::float8), $4::jsonb)",
                        [id, Self.account, at, balances])
                }
                evidence.snapshots.insert(id)
            default:
                clock.advance(by: Double(rng.next() % 3_000))
            }
            await service.reconcileOnce()
            for o in try await repository.listObservations(ObservationFilter(limit: 1000)) where o.state == FundingState.credited.rawValue {
                let byBridge = evidence.completedTxs.contains(o.txHash) || evidence.completedAddresses.contains(o.address)
                let byVerifier = o.verifierSnapshotId.map(evidence.snapshots.contains) ?? false
                #expect(byBridge || byVerifier, "seed \(seed) step \(step): \(o.txHash) CREDITED without the bridge's or the verifier's word")
            }
        }
    }
}
