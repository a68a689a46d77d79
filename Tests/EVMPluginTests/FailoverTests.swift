import Foundation
import Testing
import WatchCore
import EVMTesting
import WatchTesting

@testable import EVMPlugin

/// `rpc_urls`: the first healthy endpoint is used; a down, rate-limiting or lagging one is
/// left for the next, and taken back when it is healthy again. Nothing is missed, nothing is
/// reported twice, and a lagging endpoint's older head is never read as a reorg.
@Suite struct FailoverTests {
    /// A harness on two endpoints of one chain: `h.node` (first) and `mirror`.
    static func pair(overrides: [String: ConfigValue] = [:]) async throws -> (GnosisHarness, EVMNodeDouble) {
        let chain = EVMChainModel(tip: 1000)
        let primary = EVMNodeDouble(chain: chain)
        let mirror = primary.mirror()
        let urls = [try await primary.start(), try await mirror.start()]
        var table: [String: ConfigValue] = [
            "enabled": true, "rpc_urls": .array(urls.map { .string($0) }), "poll_interval_ms": 10, "confirmations": 3,
            "retry_base_ms": 1, "retry_max_ms": 50, "rpc_timeout_ms": 2000, "handles": handlesValue([handleA, handleB]),
        ]
        table.merge(overrides) { _, new in new }
        let problems = ConfigProblems()
        let configuration = EVMConfiguration(section: gnosisSection(table, problems: problems))
        #expect(problems.all.isEmpty, "\(problems.all)")
        return (GnosisHarness(node: primary, configuration: configuration), mirror)
    }

    static func inUse(_ adapter: EVMAdapter) async -> String? { await adapter.state()["rpc"]?["in_use"]?.stringValue }

    static func endpoint(_ adapter: EVMAdapter, _ url: String) async -> JSONValue? {
        await adapter.state()["rpc"]?["endpoints"]?.arrayValue?.first { $0["url"]?.stringValue == url }
    }

    /// Pays `amount` to handle A, mines past the confirmations, and waits for it to be confirmed.
    static func payAndConfirm(_ h: GnosisHarness, _ amount: Int) async -> (tx: String, confirmed: Bool) {
        let tx = h.node.transfer(to: handleA, amount: Amount(UInt64(amount)))
        h.node.mine(4)
        return (tx, await waitUntil(.seconds(20)) { h.row(tx)?.state == .seenConfirmed })
    }

    @Test func downThenLaggingThenBackMissesNothingAndReportsNoReorg() async throws {
        let (h, mirror) = try await Self.pair()
        let primaryURL = h.node.url, mirrorURL = mirror.url
        let adapter = try h.start()
        #expect(await h.synced())
        var paid: [String] = []
        let first = await Self.payAndConfirm(h, 1)
        #expect(first.confirmed)
        paid.append(first.tx)
        #expect(await Self.inUse(adapter) == primaryURL)

        // The first endpoint goes down: the mirror takes over.
        await h.node.stop()
        let whileDown = await Self.payAndConfirm(h, 2)
        #expect(whileDown.confirmed, "a transfer paid while the first endpoint was down is found through the second")
        paid.append(whileDown.tx)
        #expect(await Self.inUse(adapter) == mirrorURL)
        #expect((await Self.endpoint(adapter, primaryURL)?["errors"]?.int64Value ?? 0) > 0)

        // It comes back 50 blocks behind: it is not used while it lags more than 10.
        h.node.setLag(50)
        try await h.node.start()
        let whileLagging = await Self.payAndConfirm(h, 3)
        #expect(whileLagging.confirmed)
        paid.append(whileLagging.tx)
        #expect(await waitUntil(.seconds(10)) { await Self.endpoint(adapter, primaryURL)?["lag_blocks"]?.int64Value == 50 })
        #expect(await Self.inUse(adapter) == mirrorURL)

        // It catches up: it is the first healthy endpoint again, and is used.
        h.node.setLag(0)
        #expect(await waitUntil(.seconds(10)) { await Self.inUse(adapter) == primaryURL })
        let back = await Self.payAndConfirm(h, 4)
        #expect(back.confirmed)
        paid.append(back.tx)

        // The poll that confirms the last transfer counts it just after its commit.
        #expect(await waitUntil(.seconds(5)) { (await adapter.state()["transfers_reported"]?.int64Value ?? 0) >= Int64(paid.count) })
        let state = await adapter.state()
        #expect(state["reorgs"]?.int64Value == 0, "a lagging endpoint's head was read as a reorg")
        #expect(state["blocks_disconnected"]?.int64Value == 0)
        #expect(state["transfers_reported"]?.int64Value == Int64(paid.count), "each transfer reported once")
        #expect(Set(h.store.rows.keys.map(\.txHash)) == Set(paid))
        #expect((state["rpc"]?["failovers"]?.int64Value ?? 0) >= 2)
        await h.stop()
        await h.node.stop()
        await mirror.stop()
    }

    @Test func rateLimitedEndpointIsBenchedForItsRetryAfterAndTheOtherServes() async throws {
        let (h, mirror) = try await Self.pair(overrides: ["retry_max_ms": 60_000])
        let adapter = try h.start()
        #expect(await h.synced())
        // Retry-After: 30 s, capped by retry_max_ms (60 s): the first endpoint is left alone.
        h.node.inject(.rateLimited(retryAfterSeconds: 30), count: 1000)
        let paid = await Self.payAndConfirm(h, 5)
        #expect(paid.confirmed)
        let first = await Self.endpoint(adapter, h.node.url)
        #expect(await Self.inUse(adapter) == mirror.url)
        #expect(first?["rate_limited"]?.int64Value == 1, "asked again during its Retry-After: \(String(describing: first))")
        #expect((first?["benched_for_ms"]?.int64Value ?? 0) > 20_000)
        await h.stop()
        await h.node.stop()
        await mirror.stop()
    }

    @Test func retryAfterIsCappedByRetryMax() async throws {
        let (h, mirror) = try await Self.pair(overrides: ["retry_max_ms": 200])
        let adapter = try h.start()
        #expect(await h.synced())
        h.node.inject(.rateLimited(retryAfterSeconds: 3600), count: 1)
        let paid = await Self.payAndConfirm(h, 6)
        #expect(paid.confirmed)
        // An hour asked, 200 ms given: the first endpoint is back in use well within the hour.
        #expect(await waitUntil(.seconds(10)) { await Self.inUse(adapter) == h.node.url })
        await h.stop()
        await h.node.stop()
        await mirror.stop()
    }

    @Test func anEndpointThatAlwaysAnswersNoLogsIsContradictedByTheOther() async throws {
        let (h, mirror) = try await Self.pair()
        let adapter = try h.start()
        #expect(await h.synced())
        h.node.setAlwaysEmptyLogs(true)
        let paid = await Self.payAndConfirm(h, 7)
        #expect(paid.confirmed, "the transfer the first endpoint hid is found by asking the second")
        let state = await adapter.state()
        #expect((state["empty_logs_contradicted_by_bloom"]?.int64Value ?? 0) >= 1)
        #expect((await Self.endpoint(adapter, h.node.url)?["empty_logs_contradicted"]?.int64Value ?? 0) >= 1)
        await h.stop()
        await h.node.stop()
        await mirror.stop()
    }

    @Test func anEndpointOfAnotherChainIsNeverUsed() async throws {
        let primary = EVMNodeDouble(chain: EVMChainModel(chainId: 100, tip: 1000))
        let wrong = EVMNodeDouble(chain: EVMChainModel(chainId: 8453, tip: 5000))
        let urls = [try await wrong.start(), try await primary.start()]
        let problems = ConfigProblems()
        let configuration = EVMConfiguration(section: gnosisSection([
            "enabled": true, "rpc_urls": .array(urls.map { .string($0) }), "poll_interval_ms": 10, "confirmations": 3,
            "retry_base_ms": 1, "retry_max_ms": 20, "handles": handlesValue([handleA]),
        ], problems: problems))
        let h = GnosisHarness(node: primary, configuration: configuration)
        let adapter = try h.start()
        #expect(await h.synced())
        let paid = await Self.payAndConfirm(h, 8)
        #expect(paid.confirmed)
        #expect(await Self.inUse(adapter) == primary.url)
        #expect(await Self.endpoint(adapter, wrong.url)?["refused"]?.stringValue?.contains("serves chain 8453") == true)
        #expect(await adapter.health() != .healthy, "a misconfigured endpoint is shown until the config is fixed")
        #expect(wrong.requestCounts["eth_getLogs"] == nil && wrong.requestCounts["eth_blockNumber"] == nil)
        await h.stop()
        await primary.stop()
        await wrong.stop()
    }
}
