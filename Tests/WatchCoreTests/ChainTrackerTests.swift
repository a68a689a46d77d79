import Foundation
import Testing
import WatchCore
import WatchTesting

@Suite struct ChainTrackerTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    func tracker(confirmations: Int = 3, grace: Int = 2) -> ChainTracker {
        ChainTracker(chain: "testchain", network: "devnet", policy: ChainPolicy(confirmations: confirmations, reorgGraceBlocks: grace))
    }

    func apply(_ t: inout ChainTracker, _ reports: [ChainReport]) throws -> [ChainObservation] {
        var out: [ChainObservation] = []
        for r in reports { out += try t.apply(r, at: now) }
        return out
    }

    @Test func mempoolThenConfirmationsToPolicy() throws {
        var chain = ScriptedChain()
        var t = tracker()
        _ = try apply(&t, [chain.genesisReport])
        let pay = chain.transfer("aa", 1, to: "addr1", amount: 10_000)
        let seen = try apply(&t, [.mempoolEntered(pay)])
        #expect(seen.map(\.kind) == [.seenInMempool])
        #expect(seen[0].target == .seenUnconfirmed && seen[0].block == nil && seen[0].confirmations == 0)

        let included = try apply(&t, [chain.mine([pay])])
        #expect(included.map(\.kind) == [.included])
        #expect(included[0].confirmations == 1 && included[0].target == .seenUnconfirmed)

        let second = try apply(&t, [chain.mine()])
        #expect(second.map(\.confirmations) == [2] && second[0].target == .seenUnconfirmed)
        let third = try apply(&t, [chain.mine()])
        #expect(third.map(\.kind) == [.confirmed])
        #expect(third[0].target == .seenConfirmed && third[0].confirmations == 3)
        #expect(t.tip == chain.tip)
    }

    @Test func historicalTransfersAreFollowedFromTheirDepthWithoutMovingTheTip() throws {
        var chain = ScriptedChain()
        var t = tracker(confirmations: 3)
        _ = try apply(&t, [chain.genesisReport])
        let old = chain.transfer("aa", 0, to: "late", amount: 7)
        _ = try apply(&t, [chain.mine(), chain.mine(), chain.mine(), chain.mine()])  // the handle was not watched: no sighting
        let tip = t.tip
        let oldBlock = chain.blocks[1]
        // Found by a rescan: deep enough to be confirmed at once; the tip stays.
        let found = try apply(&t, [.historicalTransfers(oldBlock, transfers: [old])])
        #expect(found.map(\.kind) == [.confirmed] && found.first?.confirmations == 4 && found.first?.block == oldBlock)
        #expect(t.tip == tip)
        // Reported again: nothing new. A block held under another hash is stale: ignored.
        #expect(try apply(&t, [.historicalTransfers(oldBlock, transfers: [old])]).isEmpty)
        let stale = BlockRef(height: oldBlock.height, hash: String(repeating: "f", count: 64), parentHash: oldBlock.parentHash)
        #expect(try apply(&t, [.historicalTransfers(stale, transfers: [chain.transfer("bb", 0, to: "late", amount: 1)])]).isEmpty)
        // Ahead of the tip: left to the sync.
        let ahead = BlockRef(height: tip!.height + 1, hash: String(repeating: "e", count: 64), parentHash: tip!.hash)
        #expect(try apply(&t, [.historicalTransfers(ahead, transfers: [chain.transfer("cc", 0, to: "late", amount: 1)])]).isEmpty)
    }

    @Test func reorgDemotesAndReconfirms() throws {
        var chain = ScriptedChain()
        var t = tracker(confirmations: 2, grace: 3)
        _ = try apply(&t, [chain.genesisReport])
        let pay = chain.transfer("bb", 0, to: "addr1", amount: 5)
        _ = try apply(&t, [chain.mine([pay]), chain.mine()])
        #expect(t.transfers.values.first?.state == .seenConfirmed)

        // Two blocks replaced by three; the payment comes back in the second new block.
        let reports = chain.reorg(depth: 2, transfers: [[], [pay]])
        let out = try apply(&t, reports)
        let demotion = try #require(out.first { $0.kind == .reorgedOut })
        #expect(demotion.target == .seenUnconfirmed && demotion.block == nil && demotion.confirmations == 0)
        #expect(out.contains { $0.kind == .included && $0.target == .seenUnconfirmed })
        #expect(out.last?.target == .seenConfirmed && out.last?.confirmations == 2)
        #expect(t.tip == chain.tip)
    }

    @Test func reorgedOutTransferFailsAfterGrace() throws {
        var chain = ScriptedChain()
        var t = tracker(confirmations: 1, grace: 2)
        _ = try apply(&t, [chain.genesisReport])
        let pay = chain.transfer("cc", 0, to: "addr1", amount: 5)
        _ = try apply(&t, [chain.mine([pay])])
        let out = try apply(&t, chain.reorg(depth: 1))  // fork point + 2 new blocks
        #expect(out.map(\.kind) == [.reorgedOut, .reorgedOut])
        #expect(out.last?.target == .failedOrStuck(.reorgedOut))
        #expect(t.transfers.isEmpty)
    }

    @Test func reorgDeeperThanConfirmationPolicyDemotesConfirmedTransfer() throws {
        var chain = ScriptedChain()
        var t = tracker(confirmations: 2, grace: 10)
        _ = try apply(&t, [chain.genesisReport])
        let pay = chain.transfer("dd", 0, to: "addr1", amount: 5)
        _ = try apply(&t, [chain.mine([pay]), chain.mine(), chain.mine(), chain.mine()])
        #expect(t.transfers.values.first?.confirmations == 4)
        let out = try apply(&t, chain.reorg(depth: 4))
        // Disconnects come tip first: depth falls 4 → 3 → 2 → 1, then the block goes.
        #expect(out.prefix(4).map(\.kind) == [.depthUpdate, .depthUpdate, .depthUpdate, .reorgedOut])
        #expect(out[3].target == .seenUnconfirmed)
        #expect(t.transfers.values.first?.block == nil)
        #expect(t.transfers.values.first?.state == .seenUnconfirmed)
    }

    @Test func backInMempoolAfterReorgIsNotFailed() throws {
        var chain = ScriptedChain()
        var t = tracker(confirmations: 1, grace: 1)
        _ = try apply(&t, [chain.genesisReport])
        let pay = chain.transfer("ee", 0, to: "addr1", amount: 5)
        _ = try apply(&t, [chain.mine([pay])])
        var reports = chain.reorg(depth: 1)
        reports.insert(.mempoolEntered(pay), at: 1)  // bitcoind puts it back in the mempool
        let out = try apply(&t, reports)
        #expect(!out.contains { $0.target.state == .failedOrStuck })
        #expect(t.transfers.values.first?.block == nil)
    }

    @Test func duplicateReportsAreIgnored() throws {
        var chain = ScriptedChain()
        var t = tracker()
        _ = try apply(&t, [chain.genesisReport])
        let pay = chain.transfer("ff", 0, to: "addr1", amount: 5)
        let block = chain.mine([pay])
        let first = try apply(&t, [.mempoolEntered(pay), block])
        #expect(first.count == 2)
        #expect(try apply(&t, [block, .mempoolEntered(pay), chain.genesisReport]).isEmpty)
    }

    @Test func outOfOrderAndUnknownBlocksAreRefusedWithoutChangingState() throws {
        var chain = ScriptedChain()
        var t = tracker()
        _ = try apply(&t, [chain.genesisReport])
        let b1 = chain.mine()
        let b2 = chain.mine()
        let before = t.tip
        #expect(throws: TrackerError.gap(tipHeight: before!.height, got: { if case .blockConnected(let b, _) = b2 { b } else { fatalError() } }())) {
            _ = try t.apply(b2, at: now)
        }
        #expect(t.tip == before)
        let stranger = BlockRef(height: before!.height + 1, hash: String(repeating: "9", count: 64), parentHash: String(repeating: "8", count: 64))
        #expect(throws: TrackerError.unknownParent(stranger)) { _ = try t.apply(.blockConnected(stranger, transfers: []), at: now) }
        _ = try apply(&t, [b1, b2])
        #expect(t.tip == chain.tip)
        #expect(throws: TrackerError.self) {
            _ = try t.apply(.blockDisconnected(BlockRef(height: chain.tip.height, hash: String(repeating: "7", count: 64))), at: now)
        }
    }

    @Test func replacementAndEvictionEndStuckWithReason() throws {
        var chain = ScriptedChain()
        var t = tracker()
        _ = try apply(&t, [chain.genesisReport])
        let a = chain.transfer("a1", 0, to: "addr1", amount: 5)
        let b = chain.transfer("b1", 0, to: "addr1", amount: 6)
        _ = try apply(&t, [.mempoolEntered(a), .mempoolEntered(b)])
        let replaced = try apply(&t, [.mempoolLeft(txHash: "a1", why: .replaced(by: "a2"))])
        #expect(replaced.map(\.target) == [.failedOrStuck(.replaced(by: "a2"))])
        let evicted = try apply(&t, [.mempoolLeft(txHash: "b1", why: .evicted)])
        #expect(evicted.map(\.target) == [.failedOrStuck(.evicted)])
        #expect(t.transfers.isEmpty)
        // A removal of a mined transaction is not a replacement.
        let c = chain.transfer("c1", 0, to: "addr1", amount: 7)
        _ = try apply(&t, [chain.mine([c])])
        #expect(try apply(&t, [.mempoolLeft(txHash: "c1", why: .evicted)]).isEmpty)
    }

    @Test func restartInTheMiddleResumesFromSnapshot() throws {
        var chain = ScriptedChain()
        var t = tracker(confirmations: 3)
        _ = try apply(&t, [chain.genesisReport])
        let pay = chain.transfer("ab", 0, to: "addr1", amount: 5)
        _ = try apply(&t, [chain.mine([pay])])
        // "Restart": a new tracker from what storage would hold.
        var restored = ChainTracker(chain: t.chain, network: t.network, policy: t.policy, blocks: t.blocks, transfers: Array(t.transfers.values))
        let out = try apply(&restored, [chain.mine(), chain.mine()])
        #expect(out.last?.kind == .confirmed)
        #expect(restored.tip == chain.tip)
    }
}
