/// What the tracker remembers of one open transfer between reports (and what storage
/// hands back to rebuild the tracker after a restart).
public struct TrackedTransfer: Sendable, Hashable {
    public var key: TransferKey
    public var network: String
    public var asset: String
    public var address: String
    public var amount: Amount
    /// The tracker's view of the state; storage is the arbiter when the reconciler moved it further.
    public var state: FundingState
    public var block: BlockRef?
    public var confirmations: Int
    /// Height of the tip when the transfer's block was disconnected, while it has not come back.
    public var demotedAtHeight: Int?

    public init(
        key: TransferKey, network: String, asset: String, address: String, amount: Amount, state: FundingState,
        block: BlockRef?, confirmations: Int, demotedAtHeight: Int?
    ) {
        self.key = key
        self.network = network
        self.asset = asset
        self.address = address
        self.amount = amount
        self.state = state
        self.block = block
        self.confirmations = confirmations
        self.demotedAtHeight = demotedAtHeight
    }
}

/// A report the tracker cannot place; the adapter must re-sync (walk back, or fetch the gap).
public enum TrackerError: Error, Equatable, CustomStringConvertible {
    /// The block's height is beyond tip + 1: the blocks in between were not reported.
    case gap(tipHeight: Int, got: BlockRef)
    /// The block's parent is not a block the tracker knows: report from the fork point.
    case unknownParent(BlockRef)
    /// A disconnect for a block the tracker does not have on its chain.
    case unknownBlock(BlockRef)

    public var description: String {
        switch self {
        case .gap(let tip, let got): "block \(got.height) \(got.hash) skips ahead of tip \(tip)"
        case .unknownParent(let b): "block \(b.height) \(b.hash) has unknown parent \(b.parentHash ?? "-")"
        case .unknownBlock(let b): "disconnect of unknown block \(b.height) \(b.hash)"
        }
    }
}
