import struct Foundation.Date
import Synchronization

/// Facts an adapter publishes for the watchdog that the node's RPC cannot tell: whether a push
/// feed (ZMQ) is configured, when it last delivered, and when a periodic resync saw the
/// mempool change. One per chain, kept by the host across adapter restarts.
public final class ChainSignals: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var pushFeedConfigured = false
        /// When the adapter (re)started listening: silence is counted from here before any message.
        public var listeningSince: Date?
        public var lastPushMessageAt: Date?
        /// The last time a resync found the mempool different from what the adapter knew.
        public var mempoolChangedAt: Date?

        public init() {}
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    public func listening(since: Date) {
        state.withLock {
            $0.pushFeedConfigured = true
            $0.listeningSince = since
        }
    }

    public func pushMessage(at: Date) { state.withLock { $0.lastPushMessageAt = at } }

    public func mempoolChanged(at: Date) { state.withLock { $0.mempoolChangedAt = at } }
}
