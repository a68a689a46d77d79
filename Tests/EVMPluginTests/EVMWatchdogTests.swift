import Foundation
import Logging
import Synchronization
import Testing
import WatchCore
import EVMTesting
import WatchTesting

@testable import EVMPlugin

/// The chain watchdog against the EVM double (issue 11): `eth_syncing`, a stale head, and a
/// finalized block whose hash changes (latched).
@Suite struct EVMWatchdogTests {
    struct Rig {
        let h: GnosisHarness
        let clock: TestClock
        let watchdog: ChainWatchdog
        let chain: ChainWatchdog.Chain

        func probe(_ memory: inout WatchdogMemory) async -> [WatchdogFinding] {
            await watchdog.probe(chain, memory: &memory)
            return watchdog.board.reading("gnosis")?.findings ?? []
        }
    }

    static func rig() async throws -> Rig {
        let clock = TestClock(Date())
        var model = EVMChainModel(tip: 100, finalizedDepth: 8)
        model.clock = { Int(clock.now().timeIntervalSince1970) }
        let h = try await GnosisHarness.make(chain: model)
        h.node.mine(1)  // a head stamped by the test clock
        let chain = ChainWatchdog.Chain(
            name: "gnosis", probe: try #require(try h.configuration.makeProbe()), policy: h.configuration.watchdogPolicy, pipeline: h.pipeline,
            signals: ChainSignals())
        let watchdog = ChainWatchdog(chains: [chain], board: WatchdogBoard(), clock: clock, logger: Logger(label: "evm-watchdog"))
        return Rig(h: h, clock: clock, watchdog: watchdog, chain: chain)
    }

    @Test func aStaleHeadAndASyncingNodeAreFoundAndCleared() async throws {
        let r = try await Self.rig()
        var memory = WatchdogMemory()
        #expect(await r.probe(&memory).isEmpty)
        #expect(r.watchdog.board.reading("gnosis")?.vitals?.finalized?.height == 93)
        // Gnosis: tip_stale_after_s 60.
        r.clock.advance(by: 61)
        #expect(await r.probe(&memory).map(\.rule) == ["chain_stalled"])
        r.h.node.mine(1)
        #expect(await r.probe(&memory).isEmpty)
        r.h.node.withChain { $0.syncing = (current: 90, highest: 5000) }
        let syncing = await r.probe(&memory)
        #expect(syncing.map(\.rule) == ["node_syncing"] && syncing.first?.reason.contains("highest 5000") == true)
        r.h.node.withChain { $0.syncing = nil }
        #expect(await r.probe(&memory).isEmpty)
    }

    @Test func aFinalizedBlockWhoseHashChangesIsLatchedOnce() async throws {
        let r = try await Self.rig()
        var memory = WatchdogMemory()
        #expect(await r.probe(&memory).isEmpty)
        let finalized = try #require(r.watchdog.board.reading("gnosis")?.vitals?.finalized)
        // A reorg deeper than finality: the block at the finalized height is another one now.
        r.h.node.reorg(depth: 12)
        let found = await r.probe(&memory)
        let violation = try #require(found.first { $0.rule == "finality_violated" })
        #expect(violation.latched && violation.subject == "gnosis:\(finalized.height)")
        #expect(violation.details["finalized_hash"] == .string(finalized.hash))
        #expect(r.watchdog.board.latched.map(\.subject) == ["gnosis:\(finalized.height)"])
        // Reported once: the next probe sees the new hash as what is finalized.
        #expect(await r.probe(&memory).filter { $0.rule == "finality_violated" }.isEmpty)
        // The evaluator settles what it made durable.
        r.watchdog.board.settle(r.watchdog.board.latched)
        #expect(r.watchdog.board.latched.isEmpty)
    }

    /// The probe that sees a finality violation records it itself (the alert store's latch), so
    /// a crash before the evaluator's next round loses nothing; when it cannot, the board keeps it
    /// for the evaluator as before.
    @Test func aLatchedFindingIsRecordedByTheProbeThatSawIt() async throws {
        struct Refused: Error {}
        let r = try await Self.rig()
        let recorded = Mutex<[WatchdogFinding]>([])
        let failing = Mutex(true)
        let watchdog = ChainWatchdog(
            chains: [r.chain], board: WatchdogBoard(), clock: r.clock, logger: Logger(label: "evm-watchdog"),
            latch: { findings, _ in
                if failing.withLock({ $0 }) { throw Refused() }
                recorded.withLock { $0 += findings }
            })
        var memory = WatchdogMemory()
        await watchdog.probe(r.chain, memory: &memory)
        r.h.node.reorg(depth: 12)
        await watchdog.probe(r.chain, memory: &memory)
        // The store refused: the finding waits on the board for the evaluator.
        #expect(recorded.withLock { $0 }.isEmpty)
        #expect(watchdog.board.latched.map(\.rule) == ["finality_violated"])
        failing.withLock { $0 = false }
        watchdog.board.settle(watchdog.board.latched)
        r.h.node.reorg(depth: 12)
        await watchdog.probe(r.chain, memory: &memory)
        #expect(recorded.withLock { $0 }.map(\.rule) == ["finality_violated"], "recorded when seen, not at the next evaluation")
        #expect(watchdog.board.latched.isEmpty)
    }
}
