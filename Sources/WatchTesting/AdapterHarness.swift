import Foundation
import Logging
import Synchronization
import WatchCore

/// One chain adapter wired as the host wires it (pipeline, tracker, context) over a memory
/// store: what every adapter's tests and the conformance suite run an adapter in.
public final class AdapterHarness: Sendable {
    public let store: MemoryChainStore
    public let pipeline: ChainPipeline
    public let context: AdapterContext
    private let running = Mutex<Task<Void, any Error>?>(nil)

    /// A fresh pipeline for `chain` (its cursor starts empty, whatever `store` holds).
    public init(
        chain: ChainName, network: String, policy: ChainPolicy, handles: [FundingHandle], store: MemoryChainStore = MemoryChainStore(),
        clock: any WatchClock = SystemClock(), logger: Logger = AdapterHarness.quietLogger()
    ) {
        self.store = store
        pipeline = ChainPipeline(adapter: chain, tracker: ChainTracker(chain: chain, network: network, policy: policy), store: store, clock: clock)
        context = AdapterContext(name: chain, chain: chain, network: network, handles: handles, pipeline: pipeline, logger: logger, clock: clock)
    }

    /// A pipeline that resumes from what `store` holds (a restart from the durable cursor).
    public init(
        restoring chain: ChainName, network: String, policy: ChainPolicy, handles: [FundingHandle], store: MemoryChainStore,
        clock: any WatchClock = SystemClock(), logger: Logger = AdapterHarness.quietLogger()
    ) async throws {
        self.store = store
        pipeline = try await ChainPipeline.restore(adapter: chain, chain: chain, network: network, policy: policy, store: store, clock: clock)
        context = AdapterContext(name: chain, chain: chain, network: network, handles: handles, pipeline: pipeline, logger: logger, clock: clock)
    }

    public static func quietLogger(_ label: String = "adapter-test") -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return logger
    }

    /// Runs `adapter` until `stop()` (a previous run is stopped first).
    public func start(_ adapter: any ChainAdapter) {
        let task = Task { try await adapter.run() }
        let previous = running.withLock { r -> Task<Void, any Error>? in
            defer { r = task }
            return r
        }
        previous?.cancel()
    }

    /// Cancels the running adapter and waits for it to return.
    public func stop() async {
        let task = running.withLock { r -> Task<Void, any Error>? in
            defer { r = nil }
            return r
        }
        task?.cancel()
        _ = await task?.result
    }

    /// The row of the transfer `tx` (its first output/log when there are several).
    public func row(_ tx: String) -> MemoryChainStore.Row? { store.rows.first { $0.key.txHash == tx }?.value }

    /// Waits until the cursor reaches `height`.
    public func synced(to height: Int, timeout: Duration = .seconds(20)) async -> Bool {
        await waitUntil(timeout) { await self.pipeline.tip?.height ?? -1 >= height }
    }
}
