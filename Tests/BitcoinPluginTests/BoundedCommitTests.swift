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
        let receivedBefore = h.adapter.inbox.stats.received
        let txids = (0..<backlog).map { double.pay(script: BitcoinAdapterTests.script, sats: 20_000 + Int64($0)).txid }
        // The whole backlog (rawtx and sequence per deposit) waits in the adapter's inbox before
        // the database comes back, however slowly ZMQ delivers on a loaded machine.
        #expect(await waitUntil(.seconds(60)) { h.adapter.inbox.stats.received - receivedBefore >= 2 * backlog }, "the backlog never reached the adapter")
        store.releaseCommits()
        #expect(
            await waitUntil(.seconds(60)) {
                let rows = store.rows  // one copy per look, not one per deposit
                return txids.allSatisfy { rows[TransferKey(chain: "bitcoin", txHash: $0, outputIndex: 0)]?.state == .seenUnconfirmed }
            }, "not every deposit was recorded")
        #expect(store.largestCommit == BitcoinAdapter.maxReportsPerCommit, "largest commit \(store.largestCommit) observations")
        await h.stop()
    }
}
