import Foundation
import Logging
import WatchCore

/// What the conformance suite needs from a node double to drive a scenario.
public protocol ConformanceNode: Sendable {
    /// Whether payments are visible in a mempool before any block.
    var supportsMempool: Bool { get }
    /// Pays `amount` base units to `address`; returns the tx hash the adapter will report.
    func send(to address: String, amount: UInt64) async throws -> String
    /// Mines `count` blocks on the tip (the first includes pending payments).
    func mineBlocks(_ count: Int) async throws
    /// Replaces the last `depth` blocks by a longer fork that does not contain their payments.
    func reorgBlocks(depth: Int) async throws
}

/// The shared adapter conformance suite: every adapter, run against its own node double,
/// must observe a payment through mempool and confirmation, catch up after a stop without
/// loss, and demote then fail a reorged-out transfer — all through the core's tracker.
public enum AdapterConformance {
    public struct Setup: Sendable {
        public var chain: ChainName
        public var network: String
        public var handle: FundingHandle
        public var policy: ChainPolicy
        public var timeout: Duration
        public var make: @Sendable (AdapterContext) throws -> any ChainAdapter

        public init(chain: ChainName, network: String, handle: FundingHandle, policy: ChainPolicy, timeout: Duration = .seconds(20), make: @escaping @Sendable (AdapterContext) throws -> any ChainAdapter) {
            self.chain = chain
            self.network = network
            self.handle = handle
            self.policy = policy
            self.timeout = timeout
            self.make = make
        }
    }

    /// Runs the scenario; returns the failures (empty when the adapter conforms).
    public static func run(_ setup: Setup, node: some ConformanceNode) async throws -> [String] {
        let harness = AdapterHarness(
            chain: setup.chain, network: setup.network, policy: setup.policy, handles: [setup.handle], logger: Logger(label: "conformance"))
        let store = harness.store, pipeline = harness.pipeline, context = harness.context
        var failures: [String] = []
        func check(_ what: String, _ condition: () async -> Bool) async {
            if !(await waitUntil(setup.timeout, condition)) { failures.append(what) }
        }
        @Sendable func row(_ tx: String) -> MemoryChainStore.Row? { harness.row(tx) }

        harness.start(try setup.make(context))
        await check("adapter sets a cursor at start") { await pipeline.tip != nil }

        // 1. Mempool, inclusion, confirmation.
        let tx1 = try await node.send(to: setup.handle.address, amount: 50_000)
        if node.supportsMempool {
            await check("payment seen in the mempool as SEEN_UNCONFIRMED with no block") {
                row(tx1)?.state == .seenUnconfirmed && row(tx1)?.block == nil
            }
        }
        try await node.mineBlocks(1)
        await check("payment included with 1 confirmation") { row(tx1)?.confirmations == 1 && row(tx1)?.block != nil }
        try await node.mineBlocks(setup.policy.confirmations - 1)
        await check("payment SEEN_CONFIRMED at \(setup.policy.confirmations) confirmations") {
            row(tx1)?.state == .seenConfirmed && row(tx1)?.confirmations == setup.policy.confirmations
        }

        // 2. Stopped adapter: what happens meanwhile is caught up from the cursor.
        await harness.stop()
        let tx2 = try await node.send(to: setup.handle.address, amount: 70_000)
        try await node.mineBlocks(setup.policy.confirmations)
        harness.start(try setup.make(context))
        await check("payment made while stopped is caught up and confirmed") { row(tx2)?.state == .seenConfirmed }

        // 3. Reorg: included, reorged out, then failed once the grace runs out.
        let tx3 = try await node.send(to: setup.handle.address, amount: 90_000)
        try await node.mineBlocks(1)
        await check("reorg candidate included") { row(tx3)?.block != nil }
        try await node.reorgBlocks(depth: 1)
        await check("reorged-out payment demoted to SEEN_UNCONFIRMED without a block") {
            row(tx3)?.state == .seenUnconfirmed && row(tx3)?.block == nil || row(tx3)?.state == .failedOrStuck
        }
        try await node.mineBlocks(setup.policy.reorgGraceBlocks + 1)
        await check("reorged-out payment ends FAILED_OR_STUCK(reorged_out)") {
            row(tx3)?.state == .failedOrStuck && row(tx3)?.reason == "reorged_out"
        }
        await check("earlier payments unaffected by the reorg") {
            row(tx1)?.state == .seenConfirmed && row(tx2)?.state == .seenConfirmed
        }

        // 4. Exactly one first sighting per transfer: nothing duplicated across the restart.
        for tx in [tx1, tx2, tx3] {
            let firsts = store.events.filter { $0.0.txHash == tx && ($0.2 == .seenInMempool || $0.2 == .included || $0.2 == .confirmed) }
            let seenInMempool = firsts.filter { $0.2 == .seenInMempool }.count
            if seenInMempool > 1 { failures.append("transfer \(tx) was first-seen \(seenInMempool) times") }
        }
        await harness.stop()
        return failures
    }
}
