import Synchronization
import WatchCore

/// An in-memory `ChainStateStore` that arbitrates states through `FundingStateMachine` the
/// way the PostgreSQL repository does. For core and conformance tests.
public final class MemoryChainStore: ChainStateStore {
    public struct Row: Sendable, Equatable {
        public var state: FundingState
        public var reason: String?
        public var confirmations: Int
        public var block: BlockRef?
        public var amount: Amount
        public var address: String
        public var demotedAtHeight: Int?
        public var network: String
        public var asset: String
    }

    private struct Storage {
        var rows: [TransferKey: Row] = [:]
        var events: [(TransferKey, FundingState, ObservationKind)] = []
        var cursors: [String: [BlockRef]] = [:]
        var failNextCommit = false
        var failNextCommitAfterWriting = false
        var largestCommit = 0
    }
    private let storage = Mutex(Storage())
    /// Held by `holdCommits()`: every commit waits for it (a slow database).
    private let commitGate = AsyncGate()

    public init() {}

    public var rows: [TransferKey: Row] { storage.withLock { $0.rows } }
    /// The most observations one commit carried.
    public var largestCommit: Int { storage.withLock { $0.largestCommit } }

    /// Commits wait from now until `releaseCommits()`, as behind a slow database.
    public func holdCommits() async { await commitGate.acquire() }
    public func releaseCommits() { commitGate.release() }
    public var events: [(TransferKey, FundingState, ObservationKind)] { storage.withLock { $0.events } }
    public func cursor(_ adapter: String) -> BlockRef? { storage.withLock { $0.cursors[adapter]?.last } }

    /// Makes the next commit fail, as a lost database would; `afterWriting`: fail once what it
    /// carried is durable, as when a commit's answer is lost or one of its halves failed.
    public func failNextCommit(afterWriting: Bool = false) {
        storage.withLock { s in
            if afterWriting { s.failNextCommitAfterWriting = true } else { s.failNextCommit = true }
        }
    }

    /// Moves a stored row the way the reconciler would (through the state machine).
    public func force(_ key: TransferKey, to target: FundingTarget) throws {
        try storage.withLock { s in
            guard var row = s.rows[key] else { return }
            row.state = try FundingStateMachine.transition(from: row.state, to: target)
            row.reason = target.reason?.description
            s.rows[key] = row
        }
    }

    public struct InjectedFailure: Error {}

    public func loadTracker(adapter: String, chain: ChainName) async throws -> TrackerSnapshot? {
        storage.withLock { s in
            guard let blocks = s.cursors[adapter] else { return nil }
            let open = s.rows.filter { $0.key.chain == chain && $0.value.state.isOpen }.map { key, row in
                TrackedTransfer(
                    key: key, network: row.network, asset: row.asset, address: row.address, amount: row.amount,
                    state: row.state, block: row.block, confirmations: row.confirmations,
                    demotedAtHeight: row.demotedAtHeight)
            }
            return TrackerSnapshot(recentBlocks: blocks, openTransfers: open)
        }
    }

    public func commit(_ commit: TrackerCommit) async throws {
        await commitGate.acquire()
        commitGate.release()
        try storage.withLock { s in
            s.largestCommit = max(s.largestCommit, commit.observations.count)
            if s.failNextCommit {
                s.failNextCommit = false
                throw InjectedFailure()
            }
            var next = s
            for o in commit.observations {
                let previous = next.rows[o.key]?.state
                let previousBlock = next.rows[o.key]?.block?.hash
                let legal = FundingStateMachine.isLegal(from: previous, to: o.target.state)
                guard previous != nil || legal else { continue }
                let state = legal ? o.target.state : previous!
                var row = next.rows[o.key] ?? Row(
                    state: state, reason: nil, confirmations: 0, block: nil, amount: o.amount, address: o.address,
                    demotedAtHeight: nil, network: o.network, asset: o.asset)
                row.state = state
                row.reason = state == .failedOrStuck ? (legal ? o.target.reason?.description : row.reason) : nil
                row.confirmations = o.confirmations
                row.block = o.block
                if o.block != nil { row.demotedAtHeight = nil }
                next.rows[o.key] = row
                if previous != state || previous == nil || previousBlock != o.block?.hash {
                    next.events.append((o.key, state, o.kind))
                }
            }
            for (key, height) in commit.demotions { next.rows[key]?.demotedAtHeight = height }
            next.cursors[commit.adapter] = commit.recentBlocks
            s = next
            if s.failNextCommitAfterWriting {
                s.failNextCommitAfterWriting = false
                throw InjectedFailure()
            }
        }
    }
}
