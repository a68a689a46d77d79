import Foundation
import Logging
import Testing
import WatchCore
import EVMTesting
import WatchTesting

@testable import EVMPlugin

/// The deep bloom check: catch-up and rescan windows below the reorg window, read by
/// `eth_getLogs` ranges, are checked against their headers' blooms too (`deep_bloom_check`).
@Suite struct DeepBloomTests {
    /// A chain whose only watched transfer lies in block 11, far below the reorg window of a
    /// catch-up from `start_block` 5 to the tip (311).
    static func deepChain() -> (EVMChainModel, tx: String) {
        var chain = EVMChainModel(tip: 10)
        let tx = chain.transfer(token: EVM.eureV2, to: handleA.lowercased(), amount: Amount(42))
        chain.mine(1)
        chain.mine(300)
        return (chain, tx)
    }

    static let deep: [String: ConfigValue] = ["start_block": 5, "max_block_range": 2000]

    @Test func anEmptyAnswerInADeepCatchUpRangeIsContradictedByTheBloomAndTheTransferFound() async throws {
        let (chain, tx) = Self.deepChain()
        let h = try await GnosisHarness.make(chain: chain, overrides: Self.deep)
        h.node.inject(.emptyResult, count: 1, method: "eth_getLogs")
        let adapter = try h.start()
        #expect(await h.synced())
        #expect(await waitUntil(.seconds(10)) { h.row(tx)?.state == .seenConfirmed })
        #expect(h.node.pendingFaults == 0, "the lie was told")
        let state = await adapter.state()
        #expect(state["empty_logs_contradicted_by_bloom"] == .int(1))
        let checked = state["deep_bloom_check"]?["headers_checked"]?.int64Value ?? 0
        #expect(checked >= 300 - 40 - 5, "every deep block's header was checked: \(checked)")
        // In batches: about one HTTP request per 100 headers, not one per header.
        let batches = h.node.requestCounts["(batch)"] ?? 0
        #expect(batches >= 3 && batches <= 6, "\(batches) batches for \(checked) headers")
        #expect(state["deep_bloom_check"]?["header_batch_size"] == .int(100))
        await h.shutdown()
    }

    /// The opt-out, and the proof the check above is what found it: without it the lie hides
    /// the transfer.
    @Test func withTheDeepCheckOffTheSameLieHidesTheTransfer() async throws {
        let (chain, tx) = Self.deepChain()
        var overrides = Self.deep
        overrides["deep_bloom_check"] = false
        let h = try await GnosisHarness.make(chain: chain, overrides: overrides)
        h.node.inject(.emptyResult, count: 1, method: "eth_getLogs")
        let adapter = try h.start()
        #expect(await h.synced())
        #expect(h.node.pendingFaults == 0)
        #expect(h.row(tx) == nil)
        let state = await adapter.state()
        #expect(state["deep_bloom_check"]?["enabled"] == .bool(false))
        #expect(state["deep_bloom_check"]?["headers_checked"] == .int(0))
        #expect(h.node.requestCounts["(batch)"] == nil)
        await h.shutdown()
    }

    @Test func anEndpointThatAlwaysAnswersNoLogsInADeepRangeIsContradictedByTheOther() async throws {
        let (chain, tx) = Self.deepChain()
        let primary = EVMNodeDouble(chain: chain)
        let mirror = primary.mirror()
        let urls = [try await primary.start(), try await mirror.start()]
        primary.setAlwaysEmptyLogs(true)
        let problems = ConfigProblems()
        let configuration = EVMConfiguration(section: gnosisSection([
            "enabled": true, "rpc_urls": .array(urls.map { .string($0) }), "poll_interval_ms": 10, "confirmations": 3,
            "retry_base_ms": 1, "retry_max_ms": 50, "handles": handlesValue([handleA]), "start_block": 5,
        ], problems: problems))
        #expect(problems.all.isEmpty, "\(problems.all)")
        let h = GnosisHarness(node: primary, configuration: configuration)
        let adapter = try h.start()
        #expect(await h.synced())
        #expect(await waitUntil(.seconds(10)) { h.row(tx)?.state == .seenConfirmed })
        #expect((await adapter.state()["empty_logs_contradicted_by_bloom"]?.int64Value ?? 0) >= 1)
        await h.stop()
        await primary.stop()
        await mirror.stop()
    }

    /// geth refuses batches over `BatchRequestLimit`; some providers refuse every batch. The
    /// plugin halves its batches until they are taken, down to one call per header.
    @Test(arguments: [(limit: 25, settles: 25), (limit: 0, settles: 1)])
    func anEndpointThatRefusesLargeBatchesGetsSmallerOnes(limit: Int, settles: Int) async throws {
        let (chain, tx) = Self.deepChain()
        let h = try await GnosisHarness.make(chain: chain, overrides: Self.deep)
        h.node.setBatchLimit(limit)
        h.node.inject(.emptyResult, count: 1, method: "eth_getLogs")
        let adapter = try h.start()
        #expect(await h.synced())
        #expect(await waitUntil(.seconds(10)) { h.row(tx)?.state == .seenConfirmed })
        let state = await adapter.state()
        #expect(state["deep_bloom_check"]?["header_batch_size"] == .int(Int64(settles)))
        #expect(state["empty_logs_contradicted_by_bloom"] == .int(1))
        await h.shutdown()
    }

    /// The history scan of a handle added with `rescan_from` is a deep scan too.
    @Test func anEmptyAnswerInAHistoryRescanIsContradictedByTheBloom() async throws {
        let h = try await GnosisHarness.make(handles: [handleA])
        defer { Task { await h.node.stop() } }
        try h.start()
        #expect(await h.synced())
        let early = h.node.transfer(to: handleB, amount: Amount(77))
        h.node.mine(300)
        #expect(await h.synced())
        await h.stop()
        #expect(h.row(early) == nil)

        let handles = h.configuration.handles + [
            FundingHandle(chain: "gnosis", network: h.configuration.network, asset: "EURe", address: handleB, source: "api", rescanFrom: 900)
        ]
        let context = AdapterContext(
            name: "gnosis", chain: "gnosis", network: h.configuration.network, handles: handles, pipeline: h.pipeline,
            logger: AdapterHarness.quietLogger("rescan"), clock: SystemClock())
        let adapter = try EVMAdapter(configuration: h.configuration, context: context)
        h.node.inject(.emptyResult, count: 1, method: "eth_getLogs")
        let task = Task { try await adapter.run() }
        defer { task.cancel() }
        #expect(await waitUntil(.seconds(20)) { h.row(early)?.state == .seenConfirmed })
        #expect(h.node.pendingFaults == 0)
        #expect(await adapter.state()["empty_logs_contradicted_by_bloom"] == .int(1))
    }
}
