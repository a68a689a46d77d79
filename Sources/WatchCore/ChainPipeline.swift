import Foundation
import Metrics

/// The observation sink of one adapter: runs reports through its `ChainTracker` and commits
/// the resulting observations together with the cursor. Back-pressured: `submit` returns once
/// the batch is durable; if the commit fails, the tracker is left as it was.
public actor ChainPipeline {
    public let adapter: String
    private var tracker: ChainTracker
    private let store: any ChainStateStore
    private let clock: any WatchClock
    public private(set) var submitted = 0
    public private(set) var rejected = 0
    /// The tip last made durable (what readers see while a batch is being committed).
    private var committedTip: BlockRef?
    private let gate = AsyncGate()
    /// Set by a failed commit: the next submission first rebuilds the tracker from the store.
    private var reloadBeforeNextBatch = false

    public init(adapter: String, tracker: ChainTracker, store: any ChainStateStore, clock: any WatchClock) {
        self.adapter = adapter
        self.tracker = tracker
        self.store = store
        self.clock = clock
        committedTip = tracker.tip
    }

    /// Builds a pipeline whose tracker is restored from the store.
    public static func restore(adapter: String, chain: ChainName, network: String, policy: ChainPolicy, store: any ChainStateStore, clock: any WatchClock) async throws -> ChainPipeline {
        let tracker = try await loadTracker(adapter: adapter, chain: chain, network: network, policy: policy, store: store)
        return ChainPipeline(adapter: adapter, tracker: tracker, store: store, clock: clock)
    }

    /// The tracker as the store has it (empty when the adapter has no cursor yet).
    static func loadTracker(
        adapter: String, chain: ChainName, network: String, policy: ChainPolicy, store: any ChainStateStore
    ) async throws -> ChainTracker {
        let snapshot = try await store.loadTracker(adapter: adapter, chain: chain)
        return ChainTracker(
            chain: chain, network: network, policy: policy, blocks: snapshot?.recentBlocks ?? [],
            transfers: snapshot?.openTransfers ?? [])
    }

    /// The cursor: the last block made durable.
    public var tip: BlockRef? { committedTip }
    public func hash(at height: Int) -> String? { tracker.hash(at: height) }
    public var openTransfers: [TrackedTransfer] { Array(tracker.transfers.values) }

    /// Rebuilds the tracker from the store now: this host took the chain's lease, and the host
    /// that had it may have moved the chain on since this one restored it.
    public func reload() async throws {
        await gate.acquire()
        defer { gate.release() }
        tracker = try await Self.loadTracker(
            adapter: adapter, chain: tracker.chain, network: tracker.network, policy: tracker.policy, store: store)
        committedTip = tracker.tip
        reloadBeforeNextBatch = false
    }

    /// Applies and commits `reports` in order. Reports before a failing one are committed; the
    /// failing one is rethrown as `TrackerError` for the adapter to re-sync. Submissions are
    /// serialized: one waits for the commit of the one before it.
    @discardableResult
    public func submit(_ reports: [ChainReport]) async throws -> [ChainObservation] {
        await gate.acquire()
        defer { gate.release() }
        if reloadBeforeNextBatch {
            // A failed commit may have been partly durable (a split commit's other half):
            // what is stored is the truth.
            tracker = try await Self.loadTracker(
                adapter: adapter, chain: tracker.chain, network: tracker.network, policy: tracker.policy, store: store)
            committedTip = tracker.tip
            reloadBeforeNextBatch = false
        }
        // The tracker is changed in place under a journal (copying every open transfer per
        // batch would cost more than the batch) and rolled back if the commit fails.
        tracker.beginBatch()
        let tipBefore = tracker.tip
        var observations: [ChainObservation] = []
        var failure: TrackerError?
        let now = clock.now()
        for report in reports {
            do {
                observations += try tracker.apply(report, at: now)
            } catch {
                failure = error
                rejected += 1
                break
            }
        }
        let demotions = tracker.demotionChanges
        if !observations.isEmpty || tracker.tip != tipBefore || !demotions.isEmpty {
            // Metric only (how long the commit took on the machine's clock), no decision.
            let started = ContinuousClock.now
            defer { Timer(label: "unrip_commit_seconds", dimensions: [("adapter", adapter)]).record(duration: ContinuousClock.now - started) }
            let commit = TrackerCommit(
                adapter: adapter, chain: tracker.chain, observations: observations, tip: tracker.tip,
                recentBlocks: tracker.blocks, demotions: demotions, cursorMoved: tracker.tip != tipBefore)
            let store = store
            do {
                // In a task of its own: a shutdown that cancels the adapter lets the batch being
                // committed finish (a split commit's halves both land, or neither).
                try await Task { try await store.commit(commit) }.value
            } catch {
                tracker.rollback()
                reloadBeforeNextBatch = true
                throw error
            }
        }
        tracker.endBatch()
        committedTip = tracker.tip
        submitted += reports.count
        var byKind: [ObservationKind: Int] = [:]
        for o in observations { byKind[o.kind, default: 0] += 1 }
        for (kind, n) in byKind {
            Counter(label: "unrip_observations_total", dimensions: [("chain", tracker.chain), ("kind", kind.rawValue)]).increment(by: n)
        }
        if let tip = tracker.tip { Gauge(label: "unrip_cursor_height", dimensions: [("adapter", adapter)]).record(tip.height) }
        if failure != nil { Counter(label: "unrip_tracker_rejected_reports_total", dimensions: [("adapter", adapter)]).increment() }
        if let failure { throw failure }
        return observations
    }
}
