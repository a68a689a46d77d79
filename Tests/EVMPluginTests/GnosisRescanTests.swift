import Foundation
import Logging
import Synchronization
import Testing
import WatchCore
import WatchTesting

@testable import EVMPlugin

@Suite struct GnosisRescanTests {
    final class Finished: Sendable {
        let handles = Mutex<[FundingHandle]>([])
    }

    /// A handle added with `rescan_from` gets the transfers mined before it was watched, from the
    /// history scan; the host is told when the scan is done.
    @Test func aHandleAddedWithRescanFromFindsTransfersMinedBeforeIt() async throws {
        let h = try await GnosisHarness.make(handles: [handleA])
        defer { Task { await h.node.stop() } }
        try h.start()
        #expect(await h.synced())
        let early = h.node.transfer(to: handleB, amount: Amount(77))
        h.node.mine(6)
        #expect(await h.synced())
        await h.stop()
        #expect(h.row(early) == nil)  // not watched then

        let finished = Finished()
        let handles = h.configuration.handles + [FundingHandle(chain: "gnosis", network: h.configuration.network, asset: "EURe", address: handleB, source: "api", rescanFrom: 0)]
        var context = AdapterContext(name: "gnosis", chain: "gnosis", network: h.configuration.network, handles: handles, pipeline: h.pipeline, logger: Logger(label: "rescan"), clock: SystemClock())
        context.onRescanFinished = { done in finished.handles.withLock { $0 += done } }
        let adapter = try EVMAdapter(configuration: h.configuration, context: context)
        let task = Task { try await adapter.run() }
        defer { task.cancel() }
        #expect(await waitUntil(.seconds(20)) { h.row(early)?.state == .seenConfirmed })
        #expect(h.row(early)?.amount == Amount(77) && h.row(early)?.address == handleB)
        #expect(await waitUntil(.seconds(10)) { finished.handles.withLock { $0.map(\.address) } == [handleB] })
        #expect(await adapter.state()["rescan"] == .null)
    }
}
