import BitcoinTesting
import Foundation
import Testing
import WatchCore
import WatchTesting

@testable import BitcoinPlugin

/// A backlog of mempool deposits (the database slow, the adapter behind) is written in commits of
/// at most `maxReportsPerCommit`, one after the other, not in one transaction that grows with it.
@Suite(.serialized) struct BoundedCommitTests {
    @Test func aBacklogGoesOutInBoundedCommitsAndNothingIsLost() async throws {
        let double = try await BitcoindDouble.start()
        double.mine(5)
        let store = MemoryChainStore()
        let h = try await BitcoinAdapterTests.start(double, try BitcoinAdapterTests.config(double), store: store)
        defer { Task { await h.stop() } }
        let backlog = BitcoinAdapter.maxReportsPerCommit * 2 + 500
        await store.holdCommits()  // the database stalls: the first deposit's commit waits, the rest queue
        let txids = (0..<backlog).map { double.pay(script: BitcoinAdapterTests.script, sats: 20_000 + Int64($0)).txid }
        store.releaseCommits()
        #expect(await waitUntil(.seconds(60)) { txids.allSatisfy { h.row($0)?.state == .seenUnconfirmed } }, "not every deposit was recorded")
        #expect(store.largestCommit == BitcoinAdapter.maxReportsPerCommit, "largest commit \(store.largestCommit) observations")
        await h.stop()
    }
}
