import WatchCore

/// A fake chain for tests: mines blocks with chosen transfers, forks and reorgs, and turns
/// each step into the `ChainReport`s an adapter would send. Hashes are deterministic.
public struct ScriptedChain: Sendable {
    public private(set) var blocks: [BlockRef] = []
    private var forkCounter = 0
    public let asset: String

    public init(asset: String = "BTC", genesisHeight: Int = 100) {
        self.asset = asset
        blocks = [BlockRef(height: genesisHeight, hash: Self.hash("genesis", genesisHeight), parentHash: nil)]
    }

    public var tip: BlockRef { blocks.last! }

    static func hash(_ salt: String, _ height: Int) -> String {
        var h: UInt64 = 1_469_598_103_934_665_603
        for b in "\(salt)/\(height)".utf8 { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 64 - hex.count) + hex
    }

    /// A transfer paying `address`.
    public func transfer(_ tx: String, _ vout: Int = 0, to address: String, amount: UInt64) -> TransferSighting {
        TransferSighting(txHash: tx, outputIndex: vout, address: address, asset: asset, amount: Amount(amount))
    }

    /// The report of the genesis (cursor start) block.
    public var genesisReport: ChainReport { .blockConnected(blocks[0], transfers: []) }

    /// Mines one block on the tip.
    public mutating func mine(_ transfers: [TransferSighting] = []) -> ChainReport {
        let height = tip.height + 1
        let block = BlockRef(height: height, hash: Self.hash("fork\(forkCounter)", height), parentHash: tip.hash)
        blocks.append(block)
        return .blockConnected(block, transfers: transfers)
    }

    /// Drops the last `depth` blocks and mines `depth + 1` new ones (the longer fork), with
    /// `transfers[i]` in the i-th new block. Reports: the disconnects (tip first), then the connects.
    public mutating func reorg(depth: Int, transfers: [[TransferSighting]] = []) -> [ChainReport] {
        var reports: [ChainReport] = []
        for _ in 0..<depth { reports.append(.blockDisconnected(blocks.removeLast())) }
        forkCounter += 1
        for i in 0...depth { reports.append(mine(i < transfers.count ? transfers[i] : [])) }
        return reports
    }
}
