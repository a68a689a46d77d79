/// What the pipeline persists: the observations of a batch of reports, with the adapter's
/// cursor and recent blocks, in one transaction.
public struct TrackerCommit: Sendable {
    public var adapter: String
    public var chain: ChainName
    public var observations: [ChainObservation]
    public var tip: BlockRef?
    public var recentBlocks: [BlockRef]
    /// Tracker's view of transfers that left the reorg-watch (for `demoted_at_height`).
    public var demotions: [TransferKey: Int?]
    /// Whether the cursor (tip and recent blocks) moved; a batch of mempool entries leaves it.
    public var cursorMoved: Bool

    public init(
        adapter: String, chain: ChainName, observations: [ChainObservation], tip: BlockRef?, recentBlocks: [BlockRef],
        demotions: [TransferKey: Int?], cursorMoved: Bool = true
    ) {
        self.adapter = adapter
        self.chain = chain
        self.observations = observations
        self.tip = tip
        self.recentBlocks = recentBlocks
        self.demotions = demotions
        self.cursorMoved = cursorMoved
    }
}

/// What the tracker is rebuilt from after a restart.
public struct TrackerSnapshot: Sendable {
    public var recentBlocks: [BlockRef]
    public var openTransfers: [TrackedTransfer]

    public init(recentBlocks: [BlockRef], openTransfers: [TrackedTransfer]) {
        self.recentBlocks = recentBlocks
        self.openTransfers = openTransfers
    }
}

/// Durable storage for chain tracking, implemented by PostgresStore (and by tests' memory store).
public protocol ChainStateStore: Sendable {
    func loadTracker(adapter: String, chain: ChainName) async throws -> TrackerSnapshot?
    func commit(_ commit: TrackerCommit) async throws
}
