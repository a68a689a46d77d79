import Foundation
import WatchCore
import WatchTesting

/// The double's chain and mempool, with bitcoind's notification order for every change.
struct BitcoindChain {
    var blocks: [DoubleBlock] = []
    var stale: [String: DoubleBlock] = [:]
    var mempool: [DoubleTransaction] = []
    /// The next mempool sequence number (getrawmempool's `mempool_sequence`).
    var mempoolSequence: UInt64 = 1
    var fundingCounter: UInt64 = 0
    /// Blocks made so far: the nonce, so two blocks on the same parent in the same second differ.
    var blockCounter: UInt32 = 0
    /// "Now" for a new block's timestamp (wall-clock unless a test sets its clock).
    var clock: @Sendable () -> Date = { Date() }
    /// Seconds in the past the next blocks are stamped (a node whose newest block is old).
    var staleBy: UInt32 = 0
    /// getblockchaininfo: `initialblockdownload`, and how many headers the node knows beyond its blocks.
    var initialBlockDownload = false
    var headersAhead = 0
    var minerScript: [UInt8] = [0x51]

    /// A notification bitcoind would publish.
    enum Note {
        case rawtx(DoubleTransaction)
        case sequenceTx(String, label: UInt8, sequence: UInt64)
        case sequenceBlock(String, label: UInt8)
        case block(DoubleBlock)
    }

    init() {
        blocks = [makeBlock(height: 0, previous: String(repeating: "0", count: 64), transactions: [])]
    }

    var tip: DoubleBlock { blocks.last! }

    /// The median time of the last 11 blocks, as bitcoind computes `mediantime`.
    var medianTime: UInt32 {
        let times = blocks.suffix(11).map(\.time).sorted()
        return times[times.count / 2]
    }

    mutating func makeBlock(height: Int, previous: String, transactions: [DoubleTransaction]) -> DoubleBlock {
        blockCounter &+= 1
        let time = UInt32(clamping: Int(clock().timeIntervalSince1970)) &- staleBy
        let coinbase = DoubleTransaction.coinbase(height: height, script: minerScript)
        return DoubleBlock(height: height, previousHash: previous, transactions: [coinbase] + transactions, time: time, nonce: blockCounter)
    }

    /// A fresh outpoint to spend (the double does not model wallets).
    mutating func fundingInput() -> DoubleTransaction.Input {
        fundingCounter += 1
        let txid = DoubleSerialization.displayHex(DoubleSerialization.sha256d(Array("funding-\(fundingCounter)".utf8)))
        return .init(txid: txid, vout: 0)
    }

    func block(hash: String) -> DoubleBlock? {
        blocks.first { $0.hash == hash } ?? stale[hash]
    }

    func confirmations(of block: DoubleBlock) -> Int {
        blocks.indices.contains(block.height) && blocks[block.height].hash == block.hash ? tip.height - block.height + 1 : -1
    }

    mutating func accept(_ tx: DoubleTransaction) -> [Note] {
        mempool.append(tx)
        defer { mempoolSequence += 1 }
        return [.rawtx(tx), .sequenceTx(tx.txid, label: 0x41, sequence: mempoolSequence)]
    }

    mutating func remove(_ txid: String) -> [Note] {
        guard let index = mempool.firstIndex(where: { $0.txid == txid }) else { return [] }
        mempool.remove(at: index)
        defer { mempoolSequence += 1 }
        return [.sequenceTx(txid, label: 0x52, sequence: mempoolSequence)]
    }

    /// Mines one block with `transactions`; conflicting mempool entries are removed first (R).
    mutating func mine(_ transactions: [DoubleTransaction], publishTip: Bool = true) -> [Note] {
        var notes: [Note] = []
        let spent = Set(transactions.flatMap(\.inputs))
        let included = Set(transactions.map(\.txid))
        for tx in mempool where !included.contains(tx.txid) && !spent.isDisjoint(with: tx.inputs) {
            notes += remove(tx.txid)
        }
        mempool.removeAll { included.contains($0.txid) }
        mempoolSequence += UInt64(transactions.count)  // block inclusion advances it, with no R
        let block = makeBlock(height: tip.height + 1, previous: tip.hash, transactions: transactions)
        blocks.append(block)
        notes += block.transactions.map { .rawtx($0) }
        notes.append(.sequenceBlock(block.hash, label: 0x43))
        if publishTip { notes.append(.block(block)) }
        return notes
    }

    /// Disconnects the tip (D, and rawtx for each of its transactions).
    mutating func disconnectTip() -> (DoubleBlock, [Note]) {
        let block = blocks.removeLast()
        stale[block.hash] = block
        return (block, [.sequenceBlock(block.hash, label: 0x44)] + block.transactions.map { .rawtx($0) })
    }
}
