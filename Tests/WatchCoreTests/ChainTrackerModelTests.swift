import Foundation
import Testing
import WatchCore
import WatchTesting

/// A model-based property test of the chain tracker, as LND's txnotifier model test is for its
/// notifier: random actions (watch another address from now on, a payment entering the
/// mempool, a block mined, a reorg that drops or re-includes transactions, an eviction, a
/// restart from the store) run
/// against the pipeline and against a small model of the chain that computes, on its own, what
/// each reported transfer must be: its state, its depth, and how many times it became
/// confirmed. Any state, depth, missing or extra transfer, or a confirmation counted twice,
/// fails it with the seed to replay (`UNRIP_MODEL_SEED`).
@Suite struct ChainTrackerModelTests {
    /// What the model knows of one transaction of the world (one output to one address).
    struct Tx {
        let id: String
        let address: String
        let amount: UInt64
        /// Height of the main-chain block holding it, nil when not in a block.
        var height: Int?
        var inMempool = false
        /// Reported to the pipeline (its address was watched when it was first seen).
        var reported = false
        var evicted = false
        /// Dropped by a reorg, in no block nor mempool since: demoted at this height.
        var demotedAt: Int?
        /// Times it crossed into SEEN_CONFIRMED, by the model's reckoning.
        var confirmations = 0
        var wasConfirmed = false
        /// Timeline events it must have: one when first reported, then one per change of state
        /// or block (a reorg that drops it is one, wherever it goes next).
        var events = 0
        var last: Snapshot?
    }

    struct Snapshot: Equatable {
        let state: FundingState
        let height: Int?
    }

    struct World {
        let policy: ChainPolicy
        var chain = ScriptedChain()
        var txs: [String: Tx] = [:]
        var watched: Set<String> = []
        var nextTx = 0

        /// The state the model expects of a reported transfer, and its depth when included.
        func expected(_ tx: Tx) -> (FundingState, reason: String?, depth: Int?) {
            if let h = tx.height {
                let depth = chain.tip.height - h + 1
                return (depth >= policy.confirmations ? .seenConfirmed : .seenUnconfirmed, nil, depth)
            }
            if tx.evicted { return (.failedOrStuck, "evicted", nil) }
            if let d = tx.demotedAt, chain.tip.height - d >= policy.reorgGraceBlocks { return (.failedOrStuck, "reorged_out", nil) }
            return (.seenUnconfirmed, nil, nil)
        }

        /// After a step: counts a crossing into SEEN_CONFIRMED (once per time it happened) and the
        /// timeline events the step must have added.
        /// `demotedThisStep`: the transactions a reorg took out of their block in this step, each
        /// with whether the first block of the new branch put it back.
        mutating func settle(demotedThisStep: [String: Bool]) {
            for (id, var tx) in txs where tx.reported {
                let (state, _, _) = expected(tx)
                let confirmed = state == .seenConfirmed
                let before = tx.wasConfirmed && demotedThisStep[id] == nil
                if confirmed && !before { tx.confirmations += 1 }
                tx.wasConfirmed = confirmed
                let now = Snapshot(state: state, height: tx.height)
                if tx.last == nil {
                    tx.events += 1
                } else {
                    if let back = demotedThisStep[id] {
                        tx.events += 1  // out of its block: unconfirmed, no block
                        tx.last = Snapshot(state: .seenUnconfirmed, height: nil)
                        if back, let height = tx.height {
                            // In the first block of the new branch, one deep; the later ones deepen it.
                            tx.events += 1
                            tx.last = Snapshot(state: policy.confirmations <= 1 ? .seenConfirmed : .seenUnconfirmed, height: height)
                        }
                    }
                    if now != tx.last { tx.events += 1 }
                }
                tx.last = now
                txs[id] = tx
            }
        }

        func sighting(_ tx: Tx) -> TransferSighting { chain.transfer(tx.id, 0, to: tx.address, amount: tx.amount) }
    }

    static let addresses = ["addr-a", "addr-b", "addr-c", "addr-d"]

    @Test(arguments: 0..<60)
    func randomHistoriesMatchTheModel(run: Int) async throws {
        let seed = ProcessInfo.processInfo.environment["UNRIP_MODEL_SEED"].flatMap(UInt64.init) ?? UInt64(run) &* 0x9E37_79B9
        var rng = SeededGenerator(seed: seed)
        let policy = ChainPolicy(confirmations: Int(rng.next() % 4) + 1, reorgGraceBlocks: Int(rng.next() % 4), blockMemory: 200)
        var world = World(policy: policy)
        let store = MemoryChainStore()
        var pipeline = ChainPipeline(
            adapter: "model", tracker: ChainTracker(chain: "model", network: "devnet", policy: policy), store: store, clock: TestClock())
        _ = try await pipeline.submit([world.chain.genesisReport])
        world.watched.insert(Self.addresses[0])

        for step in 0..<80 {
            var reports: [ChainReport] = []
            var demoted: [String: Bool] = [:]
            let action = rng.next() % 9
            switch action {
            case 0:  // watch another address (from now on)
                world.watched.insert(Self.addresses[Int(rng.next() % UInt64(Self.addresses.count))])
            case 1, 2:  // a payment enters the mempool
                let address = Self.addresses[Int(rng.next() % UInt64(Self.addresses.count))]
                var tx = Tx(id: String(format: "%064x", seed &+ UInt64(world.nextTx)), address: address, amount: rng.next() % 1_000_000 + 1)
                world.nextTx += 1
                tx.inMempool = true
                tx.reported = world.watched.contains(address)
                if tx.reported { reports.append(.mempoolEntered(world.sighting(tx))) }
                world.txs[tx.id] = tx
            case 3, 4:  // a block with some of the mempool
                let height = world.chain.tip.height + 1
                var included: [TransferSighting] = []
                for id in world.txs.keys.sorted() where world.txs[id]!.inMempool && rng.next() % 3 != 0 {
                    world.txs[id]!.inMempool = false
                    world.txs[id]!.height = height
                    world.txs[id]!.demotedAt = nil
                    if world.txs[id]!.reported || world.watched.contains(world.txs[id]!.address) {
                        world.txs[id]!.reported = true
                        included.append(world.sighting(world.txs[id]!))
                    }
                }
                reports.append(world.chain.mine(included))
            case 5:  // an empty block
                reports.append(world.chain.mine())
            case 6:  // a reorg: the dropped transactions vanish, or come back in the first new block
                let depth = Int(rng.next() % 3) + 1
                guard world.chain.blocks.count > depth + 1 else { continue }
                let fork = world.chain.tip.height - depth
                var back: [TransferSighting] = []
                for id in world.txs.keys.sorted() {
                    guard let h = world.txs[id]!.height, h > fork else { continue }
                    let returns = rng.next() % 2 == 0
                    demoted[id] = returns && world.txs[id]!.reported
                    if returns {
                        world.txs[id]!.height = fork + 1
                        if world.txs[id]!.reported { back.append(world.sighting(world.txs[id]!)) }
                    } else {
                        world.txs[id]!.height = nil
                        world.txs[id]!.demotedAt = h - 1
                    }
                }
                reports += world.chain.reorg(depth: depth, transfers: [back])
            case 7:  // an eviction from the mempool
                guard let id = world.txs.keys.sorted().first(where: { world.txs[$0]!.inMempool }) else { continue }
                world.txs[id]!.inMempool = false
                world.txs[id]!.evicted = true
                if world.txs[id]!.reported { reports.append(.mempoolLeft(txHash: id, why: .evicted)) }
            default:  // a restart: the tracker rebuilt from what the store holds
                pipeline = try await ChainPipeline.restore(
                    adapter: "model", chain: "model", network: "devnet", policy: policy, store: store, clock: TestClock())
            }
            if !reports.isEmpty { _ = try await pipeline.submit(reports) }
            world.settle(demotedThisStep: demoted)
            Self.check(world, store, seed: seed, step: step)
        }
        // Each crossing into SEEN_CONFIRMED is one event: none missing, none twice.
        var confirmedEvents: [String: Int] = [:]
        for (key, _, kind) in store.events where kind == .confirmed { confirmedEvents[key.txHash, default: 0] += 1 }
        var events: [String: Int] = [:]
        for (key, _, _) in store.events { events[key.txHash, default: 0] += 1 }
        for tx in world.txs.values where tx.reported {
            #expect(confirmedEvents[tx.id, default: 0] == tx.confirmations, "seed \(seed): \(tx.id.suffix(6)) confirmed \(confirmedEvents[tx.id, default: 0]) times, the model says \(tx.confirmations)")
            let timeline = store.events.filter { $0.0.txHash == tx.id }.map { "\($0.1.rawValue)/\($0.2)" }
            #expect(events[tx.id, default: 0] == tx.events, "seed \(seed): \(tx.id.suffix(6)) has \(events[tx.id, default: 0]) timeline events, the model says \(tx.events): \(timeline)")
        }
    }

    static func check(_ world: World, _ store: MemoryChainStore, seed: UInt64, step: Int) {
        let rows = store.rows
        let reported = world.txs.values.filter(\.reported)
        #expect(Set(rows.keys.map(\.txHash)) == Set(reported.map(\.id)), "seed \(seed) step \(step): stored transfers differ from those reported")
        for tx in reported {
            guard let row = rows.first(where: { $0.key.txHash == tx.id })?.value else { continue }
            let (state, reason, depth) = world.expected(tx)
            #expect(row.state == state && row.reason == reason, "seed \(seed) step \(step): \(tx.id.suffix(6)) is \(row.state) \(row.reason ?? ""), the model says \(state) \(reason ?? "")")
            if let depth { #expect(row.confirmations == depth && row.block?.height == tx.height, "seed \(seed) step \(step): \(tx.id.suffix(6)) at depth \(row.confirmations), the model says \(depth)") }
        }
    }
}
