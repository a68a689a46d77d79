import Testing
import WatchCore
import WatchTesting

@Suite struct ConformanceTests {
    @Test func testChainAdapterPassesTheSharedConformanceSuite() async throws {
        let node = TestChainNode.named("conformance-\(UInt64.random(in: 0...UInt64.max))")
        let configuration = try #require(loadTestChainConfig(node: node.name))
        let failures = try await AdapterConformance.run(
            .init(
                chain: TestChainAdapter.kind, network: "devnet", handle: configuration.handles[0],
                policy: configuration.policy, make: { try TestChainAdapter(configuration: configuration, context: $0) }),
            node: node)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func pipelineLeavesTrackerUnchangedWhenCommitFails() async throws {
        var chain = ScriptedChain()
        let store = MemoryChainStore()
        let pipeline = ChainPipeline(adapter: "t", tracker: ChainTracker(chain: "t", network: "n", policy: ChainPolicy(confirmations: 1)), store: store, clock: TestClock())
        try await pipeline.submit([chain.genesisReport])
        let tip = await pipeline.tip
        store.failNextCommit()
        let block = chain.mine([chain.transfer("aa", 0, to: "x", amount: 1)])
        await #expect(throws: MemoryChainStore.InjectedFailure.self) { try await pipeline.submit([block]) }
        #expect(await pipeline.tip == tip)
        #expect(store.rows.isEmpty)
        // Retrying the same report succeeds: nothing was lost.
        try await pipeline.submit([block])
        #expect(store.rows.count == 1)
        #expect(await pipeline.tip == chain.tip)
    }
}

@Suite struct PipelineReloadTests {
    @Test func aCommitThatFailedAfterBecomingDurableIsFollowedFromWhatIsStored() async throws {
        let chain = ScriptedChain()
        let store = MemoryChainStore()
        let pipeline = ChainPipeline(
            adapter: "t", tracker: ChainTracker(chain: "t", network: "n", policy: ChainPolicy(confirmations: 2)), store: store,
            clock: TestClock())
        try await pipeline.submit([chain.genesisReport])
        let pay = chain.transfer("aa", 0, to: "x", amount: 1)
        let key = TransferKey(chain: "t", txHash: "aa", outputIndex: 0)
        store.failNextCommit(afterWriting: true)
        await #expect(throws: MemoryChainStore.InjectedFailure.self) { try await pipeline.submit([.mempoolEntered(pay)]) }
        #expect(store.rows[key]?.state == .seenUnconfirmed)
        // The transfer is durable although the commit failed: the pipeline follows it, so its
        // eviction ends it instead of leaving it open for ever.
        try await pipeline.submit([.mempoolLeft(txHash: "aa", why: .evicted)])
        #expect(store.rows[key]?.state == .failedOrStuck)
        #expect(store.events.map(\.2) == [.seenInMempool, .evicted])
    }
}

func loadTestChainConfig(node: String, confirmations: Int = 2) -> TestChainAdapter.Configuration? {
    let problems = ConfigProblems()
    let section = ConfigSection(
        path: "testchain",
        table: [
            "node": .string(node), "confirmations": .int(confirmations), "reorg_grace_blocks": .int(2),
            "handles": .array([.table(["address": .string("abc123"), "label": .string("hot")])]),
        ], problems: problems)
    let config = TestChainAdapter.Configuration(section: section)
    section.finish()
    return problems.all.isEmpty ? config : nil
}
