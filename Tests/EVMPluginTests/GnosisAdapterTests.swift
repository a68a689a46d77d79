import Foundation
import Logging
import Testing
import WatchCore
import EVMTesting
import WatchTesting

@testable import EVMPlugin

@Suite(.serialized) struct GnosisAdapterTests {
    @Test func passesTheAdapterConformanceSuite() async throws {
        let h = try await GnosisHarness.make()
        defer { Task { await h.node.stop() } }
        let configuration = h.configuration
        let setup = AdapterConformance.Setup(
            chain: "gnosis", network: configuration.network, handle: configuration.handles[0], policy: configuration.policy
        ) { context in try EVMAdapter(configuration: configuration, context: context) }
        let failures = try await AdapterConformance.run(setup, node: h.node)
        #expect(failures.isEmpty, "\(failures)")
        await h.node.stop()
    }

    @Test func eureDepositSeenThenConfirmedWithExact18DecimalAmount() async throws {
        let h = try await GnosisHarness.make()
        let adapter = try h.start()
        #expect(await h.synced())
        let amount = Amount(decimal: "1234567890123456789012345678")!  // 1,234,567,890.123… EURe
        let tx = h.node.transfer(to: handleA.lowercased(), amount: amount)
        let ignoredStranger = h.node.transfer(to: stranger, amount: Amount(5))
        let ignoredToken = h.node.transfer(to: handleA, amount: Amount(6), token: otherToken)
        h.node.mine()
        #expect(await waitUntil(.seconds(10)) { h.row(tx)?.state == .seenUnconfirmed && h.row(tx)?.confirmations == 1 })
        let row = try #require(h.row(tx))
        #expect(row.amount == amount && row.amount.description == "1234567890123456789012345678")
        #expect(row.address == handleA)
        #expect(row.asset == "EURe")
        h.node.mine(2)
        #expect(await waitUntil(.seconds(10)) { h.row(tx)?.state == .seenConfirmed && h.row(tx)?.confirmations == 3 })
        #expect(h.row(ignoredStranger) == nil && h.row(ignoredToken) == nil)
        #expect(h.store.rows.count == 1)
        let state = await adapter.state()
        #expect(state["native_xdai"]?.stringValue?.hasPrefix("not watched") == true)
        #expect(state["chain_id_verified"] == .int(100))
        #expect(state["phase"] == "following")
        await h.shutdown()
    }

    @Test func reorgDemotesThenReReadsTheNewChain() async throws {
        let h = try await GnosisHarness.make()
        let adapter = try h.start()
        #expect(await h.synced())
        // 1. Dropped for good: demoted, then FAILED_OR_STUCK(reorged_out) after the grace.
        let gone = h.node.transfer(to: handleB, amount: Amount(777))
        h.node.mine()
        #expect(await waitUntil(.seconds(10)) { h.row(gone)?.block != nil })
        h.node.reorg(depth: 1)
        #expect(await waitUntil(.seconds(10)) { h.row(gone)?.state == .seenUnconfirmed && h.row(gone)?.block == nil })
        // 2. Re-mined on the new fork (same tx hash): re-read and included in the new block.
        let moved = h.node.transfer(to: handleA, amount: Amount(888))
        h.node.mine(3)
        #expect(await waitUntil(.seconds(10)) { h.row(moved)?.state == .seenConfirmed })
        let before = try #require(h.row(moved)?.block)
        h.node.reorg(depth: 3, reinclude: true)
        #expect(await waitUntil(.seconds(10)) { h.row(moved)?.block != nil && h.row(moved)?.block != before })
        #expect(h.store.events.contains { $0.0.txHash == moved && $0.2 == .reorgedOut })
        h.node.mine(10)
        #expect(await waitUntil(.seconds(10)) { h.row(gone)?.state == .failedOrStuck && h.row(gone)?.reason == "reorged_out" })
        #expect(await waitUntil(.seconds(10)) { h.row(moved)?.state == .seenConfirmed && h.row(moved)?.amount == Amount(888) })
        let state = await adapter.state()
        #expect(state["reorgs"]?.int64Value ?? 0 >= 2)
        await h.shutdown()
    }

    /// A reorg lands between the header reads and the log reads: nothing is recorded against
    /// the dropped block, and the transfer is read from the block that replaced it.
    @Test(arguments: [1, 3])
    func reorgRacingTheReadsHidesNothing(blocks: Int) async throws {
        let h = try await GnosisHarness.make()
        try h.start()
        #expect(await h.synced())
        let tx = h.node.transfer(to: handleA, amount: Amount(31))
        h.node.inject(.reorg(depth: 1, reinclude: true), method: "eth_getLogs")
        h.node.mine(blocks)
        #expect(await waitUntil(.seconds(10)) { h.row(tx)?.block != nil && h.node.pendingFaults == 0 })
        h.node.mine(3)
        #expect(await waitUntil(.seconds(10)) { h.row(tx)?.state == .seenConfirmed })
        let row = try #require(h.row(tx))
        let height = try #require(row.block?.height)
        #expect(row.block?.hash == h.node.withChain { $0.blockHash(height) })
        await h.shutdown()
    }

    @Test(arguments: [EVMChainModel.ProviderStyle.infura, .alchemy, .generic])
    func providerLimitsAreSplitAndNothingIsMissed(style: EVMChainModel.ProviderStyle) async throws {
        var chain = EVMChainModel(tip: 100, limits: .init(maxBlockRange: 500, maxResults: 4, style: style))
        var expected: [String] = []
        for i in 0..<40 {
            expected.append(chain.transfer(token: EVM.eureV2, to: (i % 2 == 0 ? handleA : handleB).lowercased(), amount: Amount(UInt64(i + 1))))
            if i % 3 == 0 { _ = chain.transfer(token: EVM.eureV2, to: handleA.lowercased(), amount: Amount(1)) }
            if i % 4 == 0 { _ = chain.transfer(token: EVM.eureV2, to: stranger.lowercased(), amount: Amount(2)) }
            chain.mine(1 + (i * 37) % 200)
        }
        expected = chain.allTransferTxs
        chain.mine(200)
        let h = try await GnosisHarness.make(chain: chain, overrides: ["start_block": 101, "max_block_range": 5000, "max_concurrency": 3])
        let adapter = try h.start()
        #expect(await h.synced(timeout: .seconds(60)))
        #expect(await waitUntil(.seconds(10)) { expected.allSatisfy { h.row($0)?.state == .seenConfirmed } })
        #expect(h.store.rows.count == expected.count)
        let state = await adapter.state()
        #expect(state["get_logs_range"]?["splits"]?.int64Value ?? 0 > 0)
        await h.shutdown()
    }

    @Test func rateLimitStormAndGatewayErrorsAndTimeoutsAreRetried() async throws {
        let h = try await GnosisHarness.make(overrides: ["rpc_timeout_ms": 200])
        h.node.inject(.status(429, body: "Too Many Requests"), count: 25)
        h.node.inject(.status(503, body: "<html>503 Service Temporarily Unavailable</html>"), count: 3)
        h.node.inject(.delay(.milliseconds(700)), count: 2)
        let tx = h.node.transfer(to: handleA, amount: Amount(42))
        h.node.mine()
        h.node.mine(3)
        let adapter = try h.start()
        #expect(await h.synced(timeout: .seconds(30)))
        #expect(h.node.pendingFaults == 0)
        let late = h.node.transfer(to: handleA, amount: Amount(43))
        h.node.inject(.status(429, body: "Too Many Requests"), count: 10, method: "eth_getLogs")
        h.node.mine(3)
        #expect(await waitUntil(.seconds(20)) { h.row(late)?.state == .seenConfirmed })
        #expect(h.row(tx) == nil)  // before the start block: never reported
        #expect(h.node.pendingFaults == 0)
        let state = await adapter.state()
        // 38 error replies and 2 hangs past rpc_timeout_ms were served; on a loaded machine an
        // error reply may itself arrive after the 200 ms timeout and count as a transport error.
        let http = state["errors"]?["http"]?.int64Value ?? 0, transport = state["errors"]?["transport"]?.int64Value ?? 0
        #expect(http + transport >= 40, "http \(http), transport \(transport)")
        #expect(transport >= 2)
        #expect(state["requests"]?["retries"]?.int64Value ?? 0 >= 30)
        await h.shutdown()
    }

    @Test func malformedRepliesAreCountedRetriedAndNothingWrongIsRecorded() async throws {
        let h = try await GnosisHarness.make()
        let adapter = try h.start()
        #expect(await h.synced())
        let faults: [String] = [
            #"{"jsonrpc":"2.0","id":$ID,"result":[{"address":"#,  // truncated
            #"{"jsonrpc":"2.0","id":$ID,"result":"0x1"}"#,  // wrong type
            #"{"jsonrpc":"2.0","id":$ID,"result":[{"address":"0x420ca0f9b9b604ce0fd9c18ef134c705e5fa3430","topics":[],"data":"0x"}]}"#,  // missing fields
            #"{"jsonrpc":"2.0","id":$ID,"result":[{"address":"0x420ca0f9b9b604ce0fd9c18ef134c705e5fa3430","topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"],"data":"0x","blockNumber":"0xffffffffffffffffffffff","blockHash":"0x0000000000000000000000000000000000000000000000000000000000000000","transactionHash":"0x0000000000000000000000000000000000000000000000000000000000000000","logIndex":"0x0"}]}"#,  // absurd number
            "<html>oops</html>",
        ]
        for f in faults { h.node.inject(.body(f), method: "eth_getLogs") }
        h.node.inject(.body(#"{"jsonrpc":"2.0","id":$ID,"result":{"number":"0xZZ"}}"#), method: "eth_getBlockByNumber")
        let amount = Amount(decimal: "1000000000000000001")!
        let tx = h.node.transfer(to: handleA, amount: amount)
        h.node.mine(3)
        #expect(await waitUntil(.seconds(20)) { h.row(tx)?.state == .seenConfirmed })
        #expect(h.row(tx)?.amount == amount)
        #expect(h.store.rows.count == 1)
        #expect(h.store.events.filter { $0.0.txHash == tx && $0.2 == .included }.count <= 1)
        let state = await adapter.state()
        #expect(state["errors"]?["malformed"]?.int64Value ?? 0 >= 6)
        #expect(state["errors"]?["failed_polls"]?.int64Value ?? 0 >= 6)
        await h.shutdown()
    }

    @Test func chainIdMismatchIsRefused() async throws {
        let h = try await GnosisHarness.make(chain: EVMChainModel(chainId: 10200, tip: 50))
        let adapter = try h.makeAdapter()
        do {
            try await adapter.run()
            Issue.record("run returned")
        } catch let error as EVMAdapter.ChainIdMismatch {
            #expect(error.got == 10200 && error.expected == 100)
            #expect(error.description.contains("chain_id"))
        }
        #expect(await h.pipeline.tip == nil)
        let state = await adapter.state()
        #expect(state["phase"] == "refused")
        if case .unhealthy = await adapter.health() {} else { Issue.record("healthy despite mismatch") }
        await h.node.stop()
    }

    @Test func restartMidCatchUpNeitherLosesNorDuplicates() async throws {
        var chain = EVMChainModel(tip: 10, limits: .init(maxBlockRange: 2000, maxResults: 1000, style: .infura))
        for i in 0..<60 {
            _ = chain.transfer(token: EVM.eureV2, to: handleA.lowercased(), amount: Amount(UInt64(1000 + i)))
            chain.mine(3000 + i * 7)
        }
        let expected = chain.allTransferTxs
        chain.mine(100)
        // 200k blocks: the deep bloom check (one header per block) is off; DeepBloomTests covers it.
        let h = try await GnosisHarness.make(
            chain: chain, overrides: ["start_block": 11, "max_block_range": 500, "max_concurrency": 2, "deep_bloom_check": false])
        let target = h.node.tip
        try h.start()
        #expect(await waitUntil(.seconds(20)) { await h.pipeline.tip?.height ?? 0 > 30_000 })
        await h.stop()
        let stoppedAt = await h.pipeline.tip?.height ?? 0
        #expect(stoppedAt < target, "stopped after catching up fully; the test did not exercise a restart")
        let adapter = try h.start()
        #expect(await h.synced(timeout: .seconds(60)))
        #expect(await waitUntil(.seconds(10)) { expected.allSatisfy { h.row($0)?.state == .seenConfirmed } })
        #expect(h.store.rows.count == expected.count)
        for tx in expected {
            let kinds = h.store.events.filter { $0.0.txHash == tx }.map(\.2)
            #expect(kinds.filter { $0 == .included }.count <= 1, "\(tx): \(kinds)")
            #expect(kinds.filter { $0 == .confirmed }.count == 1, "\(tx): \(kinds)")
            #expect(!kinds.contains(.reorgedOut), "\(tx): \(kinds)")
        }
        let state = await adapter.state()
        #expect(state["requests"]?["by_method"]?["eth_getLogs"]?.int64Value ?? 0 > 0)
        await h.shutdown()
    }

    @Test func useFinalizedReportsOnlyFinalizedBlocksAndConfirmsOnInclusion() async throws {
        let h = try await GnosisHarness.make(overrides: ["use_finalized": true])
        let adapter = try h.start()
        #expect(await h.synced(to: h.node.tip - 8))
        let tx = h.node.transfer(to: handleA, amount: Amount(9))
        h.node.mine()
        // Proof the adapter looked since (not a fixed wait): a few more requests to the node.
        let asked = h.node.requestTotal
        #expect(await waitUntil(.seconds(10)) { h.node.requestTotal >= asked + 3 })
        #expect(h.row(tx) == nil)  // latest, not final yet
        h.node.mine(8)  // finalizedDepth = 8 in the double
        #expect(await waitUntil(.seconds(10)) { h.row(tx)?.state == .seenConfirmed })
        #expect(h.store.events.filter { $0.0.txHash == tx }.map(\.1) == [.seenConfirmed])
        let state = await adapter.state()
        #expect(state["confirmation_policy"]?["use_finalized"] == true)
        await h.shutdown()
    }

    @Test func rpcSecretsAreRedactedInState() async throws {
        let h = try await GnosisHarness.make(urlPath: "/v3/9aa3d95b3bc440fa88ea12eaa4456161")
        let adapter = try h.start()
        #expect(await h.synced())
        h.node.inject(.status(503, body: "down"), count: 1)
        #expect(await waitUntil { h.node.pendingFaults == 0 })  // the adapter met the failure
        #expect(await waitUntil { await adapter.state().serialized().contains("503") })
        let text = await adapter.state().serialized()
        #expect(!text.contains("9aa3d95b3bc440fa88ea12eaa4456161"))
        #expect(text.contains("/v3/<redacted>"))
        await h.shutdown()
    }
}

extension EVMChainModel {
    /// Tx hashes of the EURe v2 transfers to the test handles on the current chain.
    var allTransferTxs: [String] {
        let watched = Set([handleA, handleB].map { $0.lowercased() })
        return minedTransfers.filter { $0.token == EVM.eureV2.lowercased() && watched.contains($0.to) }.map(\.txHash)
    }
}
