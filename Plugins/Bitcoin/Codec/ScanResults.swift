/// A transaction output paying to a watched script.
public struct OutputMatch: Hashable, Sendable {
    public var txid: Hash256
    public var vout: UInt32
    public var valueSats: Int64
    /// The output's address on the set's network (segwit addresses in lowercase).
    public var address: String
    /// The tag the script was registered with in the `WatchScriptSet`.
    public var tag: UInt32

    public init(txid: Hash256, vout: UInt32, valueSats: Int64, address: String, tag: UInt32) {
        self.txid = txid
        self.vout = vout
        self.valueSats = valueSats
        self.address = address
        self.tag = tag
    }
}

/// What one pass over a block found.
public struct BlockScanResult: Hashable, Sendable {
    public var header: BlockHeader
    public var transactionCount: Int
    /// Outputs in all transactions of the block.
    public var outputCount: Int
    /// Outputs paying to watched scripts, in block order.
    public var matches: [OutputMatch]
    /// Every outpoint spent by the block's transactions (coinbase inputs excluded);
    /// empty unless requested with `collectSpentOutpoints`.
    public var spentOutpoints: [OutPoint]
    /// The transaction spending each of `spentOutpoints` (same order).
    public var spendingTxids: [Hash256] = []

    /// The block hash (same as `header.hash`).
    public var blockHash: Hash256 { header.hash }
}

/// What a pass over one standalone transaction found.
public struct TransactionScanResult: Hashable, Sendable {
    public var txid: Hash256
    public var wtxid: Hash256
    public var hasWitness: Bool
    public var outputCount: Int
    /// Outputs paying to watched scripts, in output order.
    public var matches: [OutputMatch]
    /// The outpoints this transaction spends (for detecting conflicts / RBF replacements).
    public var spentOutpoints: [OutPoint]
}
