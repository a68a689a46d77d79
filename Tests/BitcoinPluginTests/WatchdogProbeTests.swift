import BitcoinTesting
import Foundation
import Logging
import Testing
import WatchCore
import WatchTesting

@testable import BitcoinPlugin

/// The chain watchdog against the bitcoind double, on a test clock (issue 11): each finding
/// raised by what the node says, and cleared when it stops saying it.
@Suite(.serialized) struct WatchdogProbeTests {
    struct Rig {
        let double: BitcoindDouble
        let clock: TestClock
        let watchdog: ChainWatchdog
        let chain: ChainWatchdog.Chain

        /// One probe; the findings' rules.
        func probe(_ memory: inout WatchdogMemory) async -> [String] {
            await watchdog.probe(chain, memory: &memory)
            return watchdog.board.reading("bitcoin")?.findings.map(\.rule) ?? []
        }
    }

    static func rig() async throws -> Rig {
        let double = try await BitcoindDouble.start()
        let clock = TestClock(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))  // block times are whole seconds
        double.setClock { clock.now() }
        double.mine(1)
        let configuration = try BitcoinAdapterTests.config(double)
        let pipeline = try await ChainPipeline.restore(
            adapter: "bitcoin", chain: "bitcoin", network: "regtest", policy: configuration.policy, store: MemoryChainStore(), clock: clock)
        let chain = ChainWatchdog.Chain(
            name: "bitcoin", probe: try #require(try configuration.makeProbe()), policy: configuration.watchdogPolicy, pipeline: pipeline,
            signals: ChainSignals())
        let watchdog = ChainWatchdog(chains: [chain], board: WatchdogBoard(), clock: clock, logger: Logger(label: "watchdog-test"))
        return Rig(double: double, clock: clock, watchdog: watchdog, chain: chain)
    }

    @Test func aFrozenTipIsStalledUntilTheNodeMinesAgain() async throws {
        let r = try await Self.rig()
        var memory = WatchdogMemory()
        #expect(await r.probe(&memory) == [])
        #expect(r.watchdog.board.reading("bitcoin")?.vitals?.tipTime == Date(timeIntervalSince1970: TimeInterval(r.double.tip.time)))
        // The node stops mining: its best block ages past tip_stale_after_s (5400 s).
        r.clock.advance(by: 5400)
        #expect(await r.probe(&memory) == [])
        r.clock.advance(by: 1)
        #expect(await r.probe(&memory) == ["chain_stalled"])
        let details = r.watchdog.board.reading("bitcoin")?.findings.first?.details
        #expect(details?["tip_height"] == .int(Int64(r.double.tip.height)) && details?["tip_age_s"] == .int(5401))
        // A block stamped now clears it.
        r.double.mine(1)
        #expect(await r.probe(&memory) == [])
        // A node serving an old tip at once (a block stamped two hours ago) is stalled too.
        r.double.mine(1, staleBy: 7200)
        #expect(await r.probe(&memory) == ["chain_stalled"])
    }

    @Test func initialBlockDownloadAndHeadersAheadAreSyncing() async throws {
        let r = try await Self.rig()
        var memory = WatchdogMemory()
        r.double.setInitialBlockDownload(true)
        #expect(await r.probe(&memory) == ["node_syncing"])
        #expect(r.watchdog.board.readinessProblems("bitcoin").contains { $0.contains("initialblockdownload") })
        r.double.setInitialBlockDownload(false)
        #expect(await r.probe(&memory) == [])
        r.double.setHeadersAhead(2)  // a block or two in flight is normal
        #expect(await r.probe(&memory) == [])
        r.double.setHeadersAhead(3)
        #expect(await r.probe(&memory) == ["node_syncing"])
        #expect(r.watchdog.board.reading("bitcoin")?.findings.first?.details["headers"] == .int(Int64(r.double.tip.height + 3)))
        r.double.setHeadersAhead(0)
        #expect(await r.probe(&memory) == [])
    }

    @Test func aCursorBehindTheTipIsLaggingAndAnUnreachableNodeKeepsTheLastFindings() async throws {
        let r = try await Self.rig()
        let store = MemoryChainStore()
        // A cursor at the double's tip, then the node moves on without the adapter (paused).
        let configuration = try BitcoinAdapterTests.config(r.double)
        let pipeline = try await ChainPipeline.restore(adapter: "bitcoin", chain: "bitcoin", network: "regtest", policy: configuration.policy, store: store, clock: r.clock)
        _ = try await pipeline.submit([.blockConnected(BlockRef(height: r.double.tip.height, hash: r.double.tip.hash, parentHash: r.double.tip.previousHash), transfers: [])])
        let chain = ChainWatchdog.Chain(name: "bitcoin", probe: r.chain.probe, policy: r.chain.policy, pipeline: pipeline, signals: ChainSignals())
        var memory = WatchdogMemory()
        await r.watchdog.probe(chain, memory: &memory)
        #expect(r.watchdog.board.reading("bitcoin")?.findings.isEmpty == true)
        r.double.mine(3)  // 3 behind: max_cursor_lag_blocks
        await r.watchdog.probe(chain, memory: &memory)
        #expect(r.watchdog.board.reading("bitcoin")?.findings.isEmpty == true)
        r.double.mine(1)
        await r.watchdog.probe(chain, memory: &memory)
        let lag = r.watchdog.board.reading("bitcoin")?.findings
        #expect(lag?.map(\.rule) == ["chain_lagging"] && lag?.first?.details["lag_blocks"] == .int(4))
        #expect(r.watchdog.board.readinessProblems("bitcoin").contains { $0.contains("4 blocks behind") })
        // The node goes away: the reading keeps its findings and says why it is not fresh.
        try await r.double.setDown(true)
        await r.watchdog.probe(chain, memory: &memory)
        #expect(r.watchdog.board.reading("bitcoin")?.findings.map(\.rule) == ["chain_lagging"])
        #expect(r.watchdog.board.reading("bitcoin")?.failedProbes == 1)
        try await r.double.setDown(false)
    }

    @Test func zmqSilentWhileTheMempoolMovesAndClearedByTheNextMessage() async throws {
        let double = try await BitcoindDouble.start()
        let clock = TestClock(Date())
        let configuration = try BitcoinAdapterTests.config(double, extra: ["mempool_resync_s": .int(1)])
        let store = MemoryChainStore()
        let pipeline = try await ChainPipeline.restore(adapter: "bitcoin", chain: "bitcoin", network: "regtest", policy: configuration.policy, store: store, clock: clock)
        let signals = ChainSignals()
        var context = AdapterContext(name: "bitcoin", chain: "bitcoin", network: "regtest", handles: configuration.handles, pipeline: pipeline, logger: Logger(label: "zmq-silent"), clock: clock)
        context.signals = signals
        let adapter = try BitcoinAdapter(configuration: configuration, context: context)
        let task = Task { try await adapter.run() }
        defer { task.cancel() }
        #expect(await waitUntil { await pipeline.tip?.hash == double.tip.hash })
        // The subscription is live once a message arrives (ZMQ's slow joiner).
        #expect(await waitUntil(.seconds(10), every: .milliseconds(50)) {
            if await BitcoinAdapterTests.zmqReceived(adapter) > 0 { return true }
            double.pay(script: BitcoinAdapterTests.nobody, sats: 1)
            return false
        })
        let chain = ChainWatchdog.Chain(name: "bitcoin", probe: try #require(try configuration.makeProbe()), policy: configuration.watchdogPolicy, pipeline: pipeline, signals: signals)
        let watchdog = ChainWatchdog(chains: [chain], board: WatchdogBoard(), clock: clock, logger: Logger(label: "watchdog-test"))
        var memory = WatchdogMemory()
        func rules() async -> [String] {
            await watchdog.probe(chain, memory: &memory)
            return watchdog.board.reading("bitcoin")?.findings.map(\.rule).filter { $0 == "zmq_silent" } ?? []
        }
        #expect(signals.snapshot.pushFeedConfigured)
        // ZMQ goes quiet (every message lost) while a deposit enters the mempool: the periodic
        // resync finds it, which is the proof the mempool moved without a notification.
        double.dropNextZMQ(1_000_000)
        let tx = double.pay(script: BitcoinAdapterTests.script, sats: 5_000)
        // The adapter's resync is due once its (test) clock has moved mempool_resync_s.
        clock.advance(by: 1)
        // Pumped: should the adapter have started its wait after the advance, it still wakes.
        #expect(await waitUntil(pumping: clock) { store.rows[TransferKey(chain: "bitcoin", txHash: tx.txid, outputIndex: 0)] != nil })
        #expect(await waitUntil { signals.snapshot.mempoolChangedAt != nil })
        #expect(await rules() == [])  // not yet 600 s
        clock.advance(by: 601)
        #expect(await rules() == ["zmq_silent"])
        // ZMQ comes back: the next message clears it.
        double.stopDroppingZMQ()
        clock.advance(by: 1)
        double.pay(script: BitcoinAdapterTests.other, sats: 1)
        // On the adapter's clock the message and the resync it triggers (the lost sequence
        // numbers) may share an instant: a message at the change is a live feed.
        #expect(await waitUntil { (signals.snapshot.lastPushMessageAt ?? .distantPast) >= signals.snapshot.mempoolChangedAt! })
        #expect((signals.snapshot.lastPushMessageAt ?? .distantPast) > clock.now().addingTimeInterval(-2))
        #expect(await rules() == [])
    }
}
