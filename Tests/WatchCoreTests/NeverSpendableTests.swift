import Foundation
import Testing
import WatchCore
import WatchTesting

/// The rule that never bends: no sequence of chain reports can make a transfer CREDITED,
/// and nothing the core produces carries a spendable figure.
@Suite struct NeverSpendableTests {
    @Test(arguments: 0..<40)
    func randomChainHistoriesNeverCredit(seed: Int) async throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        var chain = ScriptedChain()
        let store = MemoryChainStore()
        let pipeline = ChainPipeline(
            adapter: "testchain",
            tracker: ChainTracker(chain: "testchain", network: "devnet", policy: ChainPolicy(confirmations: Int(rng.next() % 4) + 1, reorgGraceBlocks: Int(rng.next() % 3))),
            store: store, clock: TestClock())
        try await pipeline.submit([chain.genesisReport])
        var mempool: [TransferSighting] = []
        for step in 0..<60 {
            var reports: [ChainReport] = []
            switch rng.next() % 6 {
            case 0, 1:
                let s = chain.transfer(String(format: "%064x", seed * 1000 + step), Int(rng.next() % 3), to: "addr\(rng.next() % 3)", amount: rng.next() % 1_000_000)
                mempool.append(s)
                reports.append(.mempoolEntered(s))
            case 2:
                reports.append(chain.mine(mempool))
                mempool = []
            case 3:
                let depth = Int(rng.next() % 3) + 1
                if chain.blocks.count > depth + 1 { reports += chain.reorg(depth: depth) }
            case 4:
                if let victim = mempool.popLast() {
                    reports.append(.mempoolLeft(txHash: victim.txHash, why: rng.next() % 2 == 0 ? .evicted : .replaced(by: nil)))
                }
            default:
                reports.append(chain.mine())
            }
            let observations = try await pipeline.submit(reports)
            for o in observations {
                if case .credited = o.target { Issue.record("chain reports produced CREDITED for \(o.key)") }
            }
        }
        for row in store.rows.values {
            #expect(row.state != .credited)
            #expect(row.state == .failedOrStuck ? row.reason != nil : row.reason == nil)
        }
    }
}
