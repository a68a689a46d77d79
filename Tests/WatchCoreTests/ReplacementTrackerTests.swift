import Foundation
import Testing
import WatchCore
import WatchTesting

/// How the core judges a replacement by what the replacing transaction pays (issue 11).
@Suite struct ReplacementTrackerTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    func apply(_ t: inout ChainTracker, _ reports: [ChainReport]) throws -> [ChainObservation] {
        var out: [ChainObservation] = []
        for r in reports { out += try t.apply(r, at: now) }
        return out
    }

    func fresh() throws -> (ScriptedChain, ChainTracker) {
        let chain = ScriptedChain()
        var t = ChainTracker(chain: "testchain", network: "devnet", policy: ChainPolicy(confirmations: 2, reorgGraceBlocks: 2))
        _ = try apply(&t, [chain.genesisReport])
        return (chain, t)
    }

    @Test func aFeeBumpPayingTheSameHandleSupersedesTheOriginal() throws {
        let (chain, t0) = try fresh()
        var t = t0
        let original = chain.transfer("a1", 0, to: "hot", amount: 400_000)
        let bump = chain.transfer("a2", 0, to: "hot", amount: 399_000)
        _ = try apply(&t, [.mempoolEntered(original)])
        let out = try apply(&t, [.mempoolEntered(bump), .mempoolLeft(txHash: "a1", why: .replaced(by: "a2"))])
        let replaced = try #require(out.first { $0.kind == .replaced })
        #expect(replaced.target == .failedOrStuck(.replaced(by: "a2")))
        #expect(replaced.replacement?.outcome == .superseded && replaced.replacement?.supersededBy == "a2")
        #expect(replaced.replacement?.originalAmount == Amount(400_000) && replaced.replacement?.replacementAmount == Amount(399_000))
        #expect(replaced.replacement?.doubleSpentBy == nil)
        // The replacement is its own transfer and follows its own path.
        #expect(out.contains { $0.key.txHash == "a2" && $0.kind == .seenInMempool })
    }

    @Test func aReplacementPayingNoWatchedHandleIsADoubleSpendAway() throws {
        let (chain, t0) = try fresh()
        var t = t0
        let original = chain.transfer("b1", 0, to: "hot", amount: 50_000)
        _ = try apply(&t, [.mempoolEntered(original)])
        let out = try apply(&t, [.mempoolLeft(txHash: "b1", why: .replaced(by: "b2"))])
        #expect(out.count == 1 && out[0].replacement?.outcome == .doubleSpent && out[0].replacement?.doubleSpentBy == "b2")
        #expect(out[0].replacement?.supersededBy == nil)
    }

    @Test func aReplacementPayingAnotherHandleIsNeitherSupersededNorADoubleSpend() throws {
        let (chain, t0) = try fresh()
        var t = t0
        _ = try apply(&t, [.mempoolEntered(chain.transfer("c1", 0, to: "hot", amount: 10))])
        let out = try apply(&t, [.mempoolEntered(chain.transfer("c2", 0, to: "cold", amount: 9)), .mempoolLeft(txHash: "c1", why: .replaced(by: "c2"))])
        let replaced = try #require(out.first { $0.kind == .replaced })
        #expect(replaced.replacement?.outcome == .paysAnotherHandle)
        #expect(replaced.replacement?.supersededBy == nil && replaced.replacement?.doubleSpentBy == nil)
    }

    @Test func aMinedReplacementIsJudgedByItsBlock() throws {
        var (chain, t) = try fresh()
        _ = try apply(&t, [.mempoolEntered(chain.transfer("d1", 0, to: "hot", amount: 10))])
        let bump = chain.transfer("d2", 0, to: "hot", amount: 11)
        let out = try apply(&t, [chain.mine([bump]), .mempoolLeft(txHash: "d1", why: .replaced(by: "d2"))])
        #expect(out.first { $0.kind == .replaced }?.replacement?.outcome == .superseded)
        // A replacement the node did not name is judged unknown (today's behaviour).
        _ = try apply(&t, [.mempoolEntered(chain.transfer("e1", 0, to: "hot", amount: 5))])
        #expect(try apply(&t, [.mempoolLeft(txHash: "e1", why: .replaced(by: nil))]).first?.replacement?.outcome == .unknown)
    }

    @Test func aReplacedTransferMinedAfterAReorgIsFollowedAgain() throws {
        var (chain, t) = try fresh()
        let original = chain.transfer("f1", 0, to: "hot", amount: 10)
        _ = try apply(&t, [.mempoolEntered(original), .mempoolLeft(txHash: "f1", why: .replaced(by: "f2"))])
        #expect(t.transfers.isEmpty)
        // The original shows up in a block after all: the tracker follows it from inclusion.
        let back = try apply(&t, [chain.mine([original])])
        #expect(back.map(\.kind) == [.included] && back[0].target == .seenUnconfirmed && back[0].key.txHash == "f1")
    }
}
