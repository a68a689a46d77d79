import BitcoinTesting
import Foundation
import Logging
import Testing
import WatchCore
import WatchTesting

@testable import BitcoinPlugin

/// The Bitcoin adapter against the bitcoind double: real RPC over HTTP, real ZMQ frames.
@Suite(.serialized) struct BitcoinAdapterTests {
    static let handle = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    static var script: [UInt8] { try! AddressCodec.scriptPubKey(for: handle, network: .regtest) }
    static let other: [UInt8] = [0x00, 0x14] + [UInt8](repeating: 0xab, count: 20)

    /// The bitcoind double and the adapter, in the shared `AdapterHarness`.
    struct Harness {
        let double: BitcoindDouble
        let harness: AdapterHarness
        let configuration: BitcoinConfiguration
        let adapter: BitcoinAdapter
        var store: MemoryChainStore { harness.store }
        var pipeline: ChainPipeline { harness.pipeline }

        func row(_ txid: String, vout: Int = 0) -> MemoryChainStore.Row? {
            store.rows[TransferKey(chain: "bitcoin", txHash: txid, outputIndex: vout)]
        }

        func stop() async { await harness.stop() }
    }

    static func harness(_ configuration: BitcoinConfiguration, store: MemoryChainStore = MemoryChainStore()) async throws -> AdapterHarness {
        try await AdapterHarness(
            restoring: "bitcoin", network: "regtest", policy: configuration.policy, handles: configuration.handles, store: store,
            logger: Logger(label: "bitcoin-test"))
    }

    static func config(_ double: BitcoindDouble, zmq: Bool = true, rest: Bool = true, cookie: Bool = false, extra: [String: ConfigValue] = [:]) throws -> BitcoinConfiguration {
        var table: [String: ConfigValue] = [
            "enabled": .bool(true), "network": .string("regtest"), "rpc_url": .string(double.rpcURL), "rest": .bool(rest),
            "confirmations": .int(3), "reorg_grace_blocks": .int(2), "poll_interval_ms": .int(100), "replacement_grace_ms": .int(300),
            "mempool_resync_s": .int(3600),
            "handles": .array([.table(["address": .string(handle), "label": .string("hot")])]),
        ]
        if cookie {
            table["rpc_cookie_file"] = .string(double.cookieFile)
        } else {
            table["rpc_user"] = .string(double.user)
            table["rpc_password"] = .string(double.password)
        }
        if zmq {
            table["zmq_sequence"] = .string(double.zmqEndpoints["sequence"]!)
            table["zmq_rawtx"] = .string(double.zmqEndpoints["rawtx"]!)
            table["zmq_rawblock"] = .string(double.zmqEndpoints["rawblock"]!)
        }
        table.merge(extra) { _, new in new }
        let problems = ConfigProblems()
        let section = ConfigSection(path: "bitcoin", table: table, problems: problems)
        let configuration = BitcoinConfiguration(section: section)
        _ = section.bool("enabled", default: false)
        section.finish()
        #expect(problems.all.isEmpty, "\(problems.all)")
        return configuration
    }

    static func start(_ double: BitcoindDouble, _ configuration: BitcoinConfiguration, store: MemoryChainStore = MemoryChainStore()) async throws -> Harness {
        let harness = try await Self.harness(configuration, store: store)
        let adapter = try BitcoinAdapter(configuration: configuration, context: harness.context)
        harness.start(adapter)
        let h = Harness(double: double, harness: harness, configuration: configuration, adapter: adapter)
        #expect(await waitUntil { await harness.pipeline.tip?.hash == double.tip.hash })
        // ZMQ's slow joiner: the subscription is live once a message arrives. A payment to a
        // script nobody watches is published until one does (none is needed when polling).
        if !configuration.zmqTopics.isEmpty {
            #expect(await waitUntil(.seconds(10), every: .milliseconds(50)) {
                if await Self.zmqReceived(adapter) > 0 { return true }
                double.pay(script: Self.nobody, sats: 1)
                return false
            }, "the adapter's ZMQ subscription never received a message")
        }
        return h
    }

    /// A script no test watches or asserts on: the slow-joiner probe pays it.
    static let nobody: [UInt8] = [0x00, 0x14] + [UInt8](repeating: 0xcd, count: 20)

    static func rpcErrors(_ adapter: BitcoinAdapter) async -> Int64 {
        await adapter.state()["counters"]?["rpc_errors"]?.int64Value ?? 0
    }

    static func zmqReceived(_ adapter: BitcoinAdapter) async -> Int64 {
        await adapter.state()["zmq"]?["received"]?.int64Value ?? 0
    }

    @Test func depositSeenInMempoolBeforeAnyBlockThenConfirmedAtPolicy() async throws {
        let double = try await BitcoindDouble.start()
        double.mine(5)
        let h = try await Self.start(double, try Self.config(double))
        defer { Task { await h.stop() } }
        let tx = double.pay(script: Self.script, sats: 150_000, change: 10_000)
        #expect(await waitUntil { h.row(tx.txid)?.state == .seenUnconfirmed })
        #expect(h.row(tx.txid)?.block == nil && h.row(tx.txid)?.amount == Amount(150_000))
        #expect(h.row(tx.txid)?.address == Self.handle)
        #expect(h.store.rows.count == 1)  // the change output is not ours
        double.mine(1)
        #expect(await waitUntil { h.row(tx.txid)?.confirmations == 1 })
        double.mine(2)
        #expect(await waitUntil { h.row(tx.txid)?.state == .seenConfirmed && h.row(tx.txid)?.confirmations == 3 })
        await h.stop()
    }

    @Test func aDepositWhoseCommitFailedIsFoundAgainFromTheMempool() async throws {
        let double = try await BitcoindDouble.start()
        double.mine(5)
        let store = MemoryChainStore()
        let h = try await Self.start(double, try Self.config(double), store: store)
        defer { Task { await h.stop() } }
        store.failNextCommit()  // the database is lost for the commit of this deposit
        let tx = double.pay(script: Self.script, sats: 70_000)
        // No block comes: only the adapter's retry (a mempool resync) can record it.
        #expect(await waitUntil { h.row(tx.txid)?.state == .seenUnconfirmed })
        #expect(h.row(tx.txid)?.block == nil)
        await h.stop()
    }

    /// A deposit fetched by RPC (sequence A without rawtx, or a polling resync) whose commit
    /// fails (PostgreSQL down) is fetched and recorded again by the next resync, before any block.
    @Test(arguments: [true, false])
    func fetchedDepositWhoseCommitFailedIsRecordedByTheNextResync(zmqSequence: Bool) async throws {
        let double = try await BitcoindDouble.start()
        let store = MemoryChainStore()
        var configuration = try Self.config(double, zmq: false)
        if zmqSequence {
            configuration = try Self.config(double, zmq: false, extra: ["zmq_sequence": .string(double.zmqEndpoints["sequence"]!)])
        }
        let h = try await Self.start(double, configuration, store: store)
        defer { Task { await h.stop() } }
        store.failNextCommit()
        let tx = double.pay(script: Self.script, sats: 64_000)
        #expect(await waitUntil { h.row(tx.txid)?.state == .seenUnconfirmed })
        #expect(h.row(tx.txid)?.block == nil)
        await h.stop()
    }

    @Test func reorgDemotesAndReconfirms() async throws {
        let double = try await BitcoindDouble.start()
        let h = try await Self.start(double, try Self.config(double))
        let tx = double.pay(script: Self.script, sats: 42_000)
        double.mine(3)
        #expect(await waitUntil { h.row(tx.txid)?.state == .seenConfirmed })
        let oldBlock = try #require(h.row(tx.txid)?.block)
        double.reorg(depth: 3, reinclude: true)
        // Re-mined in the new chain: demoted while reorged, then confirmed again in another block.
        #expect(await waitUntil { h.row(tx.txid)?.block != nil && h.row(tx.txid)?.block != oldBlock })
        #expect(h.store.events.contains { $0.0.txHash == tx.txid && $0.2 == .reorgedOut })
        double.mine(2)
        #expect(await waitUntil { h.row(tx.txid)?.state == .seenConfirmed && h.row(tx.txid)?.block?.hash == double.block(at: oldBlock.height)?.hash })
        await h.stop()
    }

    @Test func rbfReplacementAndEvictionEndWithTheirReasons() async throws {
        let double = try await BitcoindDouble.start()
        let h = try await Self.start(double, try Self.config(double))
        let original = double.pay(script: Self.script, sats: 90_000)
        let evictee = double.pay(script: Self.script, sats: 20_000)
        #expect(await waitUntil { h.row(original.txid) != nil && h.row(evictee.txid) != nil })
        // Fee bump paying the change elsewhere: same input, our output gone.
        let bump = DoubleTransaction(inputs: original.inputs, outputs: [(89_000, Self.other)])
        double.replace(original.txid, with: bump)
        double.evict(evictee.txid)
        #expect(await waitUntil { h.row(original.txid)?.state == .failedOrStuck })
        #expect(h.row(original.txid)?.reason == "replaced")
        #expect(await waitUntil { h.row(evictee.txid)?.state == .failedOrStuck })
        #expect(h.row(evictee.txid)?.reason == "evicted")
        // The adapter counts an eviction just after the commit that shows it: wait for the
        // count, then check that each was counted once.
        #expect(await waitUntil { await h.adapter.state()["counters"]?["evicted"] != nil })
        let state = await h.adapter.state()
        #expect(state["counters"]?["replaced"] == .int(1) && state["counters"]?["evicted"] == .int(1))
        await h.stop()
    }

    @Test func droppedZMQMessagesAreDetectedAndTheDepositStillFound() async throws {
        let double = try await BitcoindDouble.start()
        let h = try await Self.start(double, try Self.config(double))
        let received = await Self.zmqReceived(h.adapter)
        double.pay(script: Self.other, sats: 1)  // baseline for the sequence counters
        #expect(await waitUntil { await Self.zmqReceived(h.adapter) > received })
        double.dropNextZMQ(4)  // rawtx, hashtx, sequence A of the deposit … lost
        let tx = double.pay(script: Self.script, sats: 77_000)
        double.pay(script: Self.other, sats: 2)  // the next messages reveal the gap
        #expect(await waitUntil { h.row(tx.txid)?.state == .seenUnconfirmed })
        let state = await h.adapter.state()
        #expect((state["zmq"]?["gaps"]).flatMap { if case .int(let n) = $0 { n } else { nil } } ?? 0 >= 1)
        #expect(state["counters"]?["mempool_resyncs"] != nil)
        await h.stop()
    }

    @Test func bitcoindDownDuringABlockThenBackIsCaughtUp() async throws {
        let double = try await BitcoindDouble.start()
        let h = try await Self.start(double, try Self.config(double))
        try await double.setDown(true)
        let tx = double.pay(script: Self.script, sats: 33_000)
        let failures = await Self.rpcErrors(h.adapter)
        double.mine(4)
        // Proof that it tried while the node was down (not a fixed wait): a failed RPC since.
        #expect(await waitUntil(.seconds(20)) { await Self.rpcErrors(h.adapter) > failures })
        #expect(h.row(tx.txid) == nil)
        try await double.setDown(false)
        #expect(await waitUntil(.seconds(20)) { h.row(tx.txid)?.state == .seenConfirmed && h.row(tx.txid)?.confirmations == 4 })
        // The pipeline moves its in-memory tip just after the commit that shows the row.
        #expect(await waitUntil { await h.pipeline.tip?.hash == double.tip.hash })
        await h.stop()
    }

    @Test func pollingModeWithCookieAuthAndRPCBlocks() async throws {
        let double = try await BitcoindDouble.start()
        let h = try await Self.start(double, try Self.config(double, zmq: false, rest: false, cookie: true))
        let tx = double.pay(script: Self.script, sats: 5_000)
        #expect(await waitUntil { h.row(tx.txid)?.state == .seenUnconfirmed })
        double.mine(3)
        #expect(await waitUntil { h.row(tx.txid)?.state == .seenConfirmed })
        #expect(double.requests("getblock") > 0 && double.requests("REST") == 0)
        let state = await h.adapter.state()
        #expect(state["ingest"]?.stringValue?.contains("polling") == true)
        await h.stop()
    }

    @Test func restartMidCatchUpLosesAndDuplicatesNothing() async throws {
        let double = try await BitcoindDouble.start()
        let store = MemoryChainStore()
        var paid: [String] = []
        for _ in 0..<30 {
            paid.append(double.pay(script: Self.script, sats: 1_000).txid)
            double.mine(1)
        }
        let configuration = try Self.config(double, extra: ["start_height": .int(0)])
        // First run: stop it part-way through catching up.
        let firstRun = try await Self.harness(configuration, store: store)
        let pipeline = firstRun.pipeline
        firstRun.start(try BitcoinAdapter(configuration: configuration, context: firstRun.context))
        #expect(await waitUntil { (await pipeline.tip?.height ?? 0) >= 10 })
        await firstRun.stop()
        let midway = await pipeline.tip?.height ?? 0
        #expect(midway < 30 || store.rows.count == 30)
        // Restart from the durable cursor.
        let h = try await Self.start(double, configuration, store: store)
        #expect(await waitUntil { store.rows.count == 30 && store.rows.values.allSatisfy { $0.state == .seenConfirmed || $0.confirmations >= 1 } })
        #expect(Set(store.rows.keys.map(\.txHash)) == Set(paid))
        for txid in paid {
            let firstSightings = store.events.filter { $0.0.txHash == txid && ($0.2 == .included || $0.2 == .seenInMempool || $0.2 == .confirmed) && $0.1 != .seenConfirmed }
            #expect(firstSightings.count <= 1, "\(txid) first-seen \(firstSightings.count) times")
        }
        await h.stop()
    }

    @Test func networkMismatchIsRefused() async throws {
        let double = try await BitcoindDouble.start(chain: "main")
        var configuration = try Self.config(double)
        configuration.pollInterval = .milliseconds(50)
        let harness = AdapterHarness(chain: "bitcoin", network: "regtest", policy: configuration.policy, handles: configuration.handles)
        let adapter = try BitcoinAdapter(configuration: configuration, context: harness.context)
        await #expect {
            try await adapter.run()
        } throws: { error in
            "\(error)".contains("the node reports chain 'main' but [bitcoin] network = \"regtest\"")
        }
    }

    @Test func passesTheSharedConformanceSuite() async throws {
        let double = try await BitcoindDouble.start()
        let configuration = try Self.config(double)
        let failures = try await AdapterConformance.run(
            .init(
                chain: "bitcoin", network: "regtest", handle: configuration.handles[0], policy: configuration.policy,
                make: { try BitcoinAdapter(configuration: configuration, context: $0) }),
            node: BitcoindConformanceNode(double: double))
        #expect(failures.isEmpty, "\(failures)")
    }
}

struct BitcoindConformanceNode: ConformanceNode {
    let double: BitcoindDouble
    var supportsMempool: Bool { true }
    func send(to address: String, amount: UInt64) async throws -> String {
        double.pay(script: try AddressCodec.scriptPubKey(for: address, network: .regtest), sats: Int64(amount)).txid
    }
    func mineBlocks(_ count: Int) async throws { double.mine(count) }
    func reorgBlocks(depth: Int) async throws { double.reorg(depth: depth, reinclude: false) }
}
