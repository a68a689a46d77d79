import struct Foundation.Date

/// What a chain's node says of itself, read by the watchdog independently of the adapter (so a
/// paused or crashed adapter's chain is still watched).
public struct NodeVitals: Sendable, Hashable {
    /// The node's best block.
    public var tipHeight: Int
    public var tipHash: String?
    /// The best block's timestamp, when the node gives it.
    public var tipTime: Date?
    /// Why the node is still syncing (`initialblockdownload`, headers ahead, `eth_syncing`), or nil.
    public var syncing: String?
    /// Headers the node knows of (Bitcoin), for the figures.
    public var headers: Int?
    /// The node's finalized block, when it serves one (EVM `finalized`).
    public var finalized: BlockRef?

    public init(tipHeight: Int, tipHash: String? = nil, tipTime: Date? = nil, syncing: String? = nil, headers: Int? = nil, finalized: BlockRef? = nil) {
        self.tipHeight = tipHeight
        self.tipHash = tipHash
        self.tipTime = tipTime
        self.syncing = syncing
        self.headers = headers
        self.finalized = finalized
    }
}

extension NodeVitals {
    /// The height the cursor is measured against under `policy`.
    public func lagReference(_ policy: WatchdogPolicy) -> Int {
        policy.lagFromFinalized ? (finalized?.height ?? tipHeight) : tipHeight
    }
}

/// Reads a node's vitals: one per chain adapter, built from the adapter's own config.
public protocol ChainProbe: Sendable {
    func vitals() async throws -> NodeVitals
    /// The hash of the node's block at `height` now (to see a finalized block change).
    func blockHash(at height: Int) async throws -> String?
}

/// A chain section's watchdog thresholds (`tip_stale_after_s`, `max_cursor_lag_blocks`,
/// `zmq_silent_after_s`, `watchdog_interval_ms`), with the chain's own defaults.
public struct WatchdogPolicy: Sendable, Hashable {
    public var tipStaleAfterSeconds: Int
    public var maxCursorLagBlocks: Int
    /// Only for chains fed by ZMQ (Bitcoin); nil elsewhere.
    public var zmqSilentAfterSeconds: Int?
    /// How often the node is probed.
    public var intervalMs: Int
    /// The adapter follows the node's `finalized` block (EVM `use_finalized`): its lag is
    /// counted from there, not from the head.
    public var lagFromFinalized = false

    public init(tipStaleAfterSeconds: Int, maxCursorLagBlocks: Int, zmqSilentAfterSeconds: Int? = nil, intervalMs: Int = 15_000) {
        self.tipStaleAfterSeconds = tipStaleAfterSeconds
        self.maxCursorLagBlocks = maxCursorLagBlocks
        self.zmqSilentAfterSeconds = zmqSilentAfterSeconds
        self.intervalMs = intervalMs
    }

    /// Reads the keys from a chain's section over `defaults`; problems are recorded in it.
    public init(section: ConfigSection, defaults d: WatchdogPolicy) {
        tipStaleAfterSeconds = section.int("tip_stale_after_s", default: d.tipStaleAfterSeconds, range: 1...31_536_000)
        maxCursorLagBlocks = section.int("max_cursor_lag_blocks", default: d.maxCursorLagBlocks, range: 0...1_000_000)
        zmqSilentAfterSeconds = d.zmqSilentAfterSeconds.map { section.int("zmq_silent_after_s", default: $0, range: 1...31_536_000) }
        intervalMs = section.int("watchdog_interval_ms", default: d.intervalMs, range: 50...3_600_000)
    }
}
