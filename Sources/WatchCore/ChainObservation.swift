import struct Foundation.Date

/// Identifies one inbound transfer: chain, tx hash, and output index (UTXO vout, or EVM log index).
public struct TransferKey: Sendable, Hashable, Codable, CustomStringConvertible {
    public var chain: ChainName
    public var txHash: String
    public var outputIndex: Int

    public init(chain: ChainName, txHash: String, outputIndex: Int) {
        self.chain = chain
        self.txHash = txHash
        self.outputIndex = outputIndex
    }

    public var description: String { "\(chain):\(txHash):\(outputIndex)" }
}

/// A transfer paying a watched handle, as an adapter's node reports it.
public struct TransferSighting: Sendable, Hashable {
    public var txHash: String
    public var outputIndex: Int
    /// The watched address paid.
    public var address: String
    public var asset: String
    public var amount: Amount

    public init(txHash: String, outputIndex: Int, address: String, asset: String, amount: Amount) {
        self.txHash = txHash
        self.outputIndex = outputIndex
        self.address = address
        self.asset = asset
        self.amount = amount
    }
}

/// A block by height and hash.
public struct BlockRef: Sendable, Hashable, Codable {
    public var height: Int
    public var hash: String
    public var parentHash: String?

    public init(height: Int, hash: String, parentHash: String? = nil) {
        self.height = height
        self.hash = hash
        self.parentHash = parentHash
    }
}

/// Why a transfer left the mempool without being mined.
public enum MempoolExit: Sendable, Hashable {
    /// Replaced (RBF, or a conflicting spend); the replacing tx hash when known.
    case replaced(by: String?)
    /// Evicted (expiry, size limit, …).
    case evicted
}

/// What an adapter reports, normalized. Adapters only report what their node says; the core
/// (`ChainTracker`) derives confirmations, state transitions, reorg depth and the cursor.
public enum ChainReport: Sendable, Hashable {
    case blockConnected(BlockRef, transfers: [TransferSighting])
    /// Like `blockConnected`, for adapters that scan ranges (EVM `eth_getLogs`) instead of
    /// reading every block: the adapter vouches that every height between the tip and this
    /// block held nothing to report. When the block skips ahead of the tip, the tracker jumps
    /// there without a parent check and restarts its block memory at it; open transfers keep
    /// their depth (by height) until confirmed. Otherwise it behaves as `blockConnected`.
    case blockScanned(BlockRef, transfers: [TransferSighting])
    case blockDisconnected(BlockRef)
    /// Transfers a history rescan found in a block at or below the tip (a handle added with
    /// `rescan_from`). The tip does not move; a block the tracker holds under another hash at
    /// that height is stale and ignored, and transfers it already follows are left as they are.
    /// New ones are followed with their depth from the tip, like any transfer.
    case historicalTransfers(BlockRef, transfers: [TransferSighting])
    case mempoolEntered(TransferSighting)
    case mempoolLeft(txHash: String, why: MempoolExit)
}

/// The normalized observation kinds of DESIGN §4.
public enum ObservationKind: String, Sendable, Codable {
    case seenInMempool = "seen_in_mempool"
    case included = "included"
    case confirmed = "confirmed"
    case reorgedOut = "reorged_out"
    case replaced = "replaced"
    case evicted = "evicted"
    case depthUpdate = "depth_update"
}

/// A normalized chain observation: what the core hands storage for one transfer.
public struct ChainObservation: Sendable, Hashable {
    public var key: TransferKey
    public var network: String
    public var asset: String
    public var address: String
    public var amount: Amount
    public var kind: ObservationKind
    /// Where the tracker wants the transfer to be; storage applies it through the state machine.
    public var target: FundingTarget
    public var confirmations: Int
    public var block: BlockRef?
    public var observedAt: Date
    /// On a `replaced` observation: what the replacement pays, and so what the transfer became.
    public var replacement: Replacement? = nil

    public init(
        key: TransferKey, network: String, asset: String, address: String, amount: Amount, kind: ObservationKind,
        target: FundingTarget, confirmations: Int, block: BlockRef?, observedAt: Date
    ) {
        self.key = key
        self.network = network
        self.asset = asset
        self.address = address
        self.amount = amount
        self.kind = kind
        self.target = target
        self.confirmations = confirmations
        self.block = block
        self.observedAt = observedAt
    }
}
