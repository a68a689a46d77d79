/// Finds outputs paying to watched scripts in raw blocks and transactions, in one pass.
///
/// The hot path walks the serialization in place: no per-transaction or per-output
/// allocation (except for matches), txids hashed straight from the buffer.
public enum BlockScanner {
    /// Scans a raw block.
    ///
    /// - Parameters:
    ///   - verifyMerkleRoot: recompute the merkle root from all txids and throw on mismatch.
    ///   - collectSpentOutpoints: also return every outpoint spent in the block.
    public static func scan(
        block bytes: [UInt8], watching watch: WatchScriptSet, verifyMerkleRoot: Bool = true,
        collectSpentOutpoints: Bool = false, mweb: Bool = false
    ) throws(BitcoinParseError) -> BlockScanResult {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(BitcoinParseError) -> BlockScanResult in
                try scan(
                    block: buffer, watching: watch, verifyMerkleRoot: verifyMerkleRoot,
                    collectSpentOutpoints: collectSpentOutpoints, mweb: mweb)
            }
        }
        return try result.get()
    }

    /// Scans a raw block in memory the caller owns.
    public static func scan(
        block buffer: UnsafeRawBufferPointer, watching watch: WatchScriptSet, verifyMerkleRoot: Bool = true,
        collectSpentOutpoints: Bool = false, mweb: Bool = false
    ) throws(BitcoinParseError) -> BlockScanResult {
        var reader = ByteReader(buffer)
        let header = try BlockParser.readHeader(&reader)
        let count = try BlockParser.readTransactionCount(&reader)
        var txids: [Hash256] = []
        if verifyMerkleRoot { txids.reserveCapacity(count) }
        var visitor = ScanningVisitor(watch: watch, collectSpends: collectSpentOutpoints)
        var matches: [OutputMatch] = []
        var spenders: [Hash256] = []
        var lastIsHogEx = false
        for _ in 0..<count {
            let spendsBefore = visitor.spends.count
            let layout = try TransactionWalker.walk(&reader, visitor: &visitor, mweb: mweb)
            lastIsHogEx = layout.mweb == .hogEx
            let txid = layout.txid(base: reader.base)
            if verifyMerkleRoot { txids.append(txid) }
            if !visitor.pending.isEmpty { visitor.flush(txid: txid, into: &matches) }
            if collectSpentOutpoints { spenders += repeatElement(txid, count: visitor.spends.count - spendsBefore) }
        }
        try BlockParser.checkEnd(&reader, transactions: count, lastIsHogEx: lastIsHogEx)
        if verifyMerkleRoot {
            let computed = MerkleTree.root(&txids)
            if computed != header.merkleRoot {
                throw BitcoinParseError.merkleRootMismatch(expected: header.merkleRoot, computed: computed)
            }
        }
        return BlockScanResult(
            header: header, transactionCount: count, outputCount: visitor.outputCount,
            matches: matches, spentOutpoints: visitor.spends, spendingTxids: spenders)
    }

    /// Scans one raw transaction (e.g. ZMQ `rawtx`) that must fill `bytes` exactly.
    public static func scan(
        transaction bytes: [UInt8], watching watch: WatchScriptSet, mweb: Bool = false
    ) throws(BitcoinParseError) -> TransactionScanResult {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(BitcoinParseError) -> TransactionScanResult in
                try scan(transaction: buffer, watching: watch, mweb: mweb)
            }
        }
        return try result.get()
    }

    /// Scans one raw transaction in memory the caller owns.
    public static func scan(
        transaction buffer: UnsafeRawBufferPointer, watching watch: WatchScriptSet, mweb: Bool = false
    ) throws(BitcoinParseError) -> TransactionScanResult {
        var reader = ByteReader(buffer)
        var visitor = ScanningVisitor(watch: watch, collectSpends: true)
        let layout = try TransactionWalker.walk(&reader, visitor: &visitor, mweb: mweb)
        if reader.remaining != 0 { throw BitcoinParseError.trailingBytes(count: reader.remaining) }
        let txid = layout.txid(base: reader.base)
        var matches: [OutputMatch] = []
        visitor.flush(txid: txid, into: &matches)
        return TransactionScanResult(
            txid: txid, wtxid: layout.wtxid(base: reader.base, txid: txid), hasWitness: layout.hasWitness,
            outputCount: visitor.outputCount, matches: matches, spentOutpoints: visitor.spends)
    }
}

/// A watched output seen before its transaction's txid is known.
struct PendingMatch {
    var vout: UInt32
    var value: Int64
    var tag: UInt32
    var script: UnsafeRawPointer
    var scriptLength: Int
}

/// Visitor for the scan hot path: counts outputs, looks scripts up, optionally records spends.
struct ScanningVisitor: TransactionVisitor {
    let watch: WatchScriptSet
    let collectSpends: Bool
    var outputCount = 0
    var pending: [PendingMatch] = []
    var spends: [OutPoint] = []

    init(watch: WatchScriptSet, collectSpends: Bool) {
        self.watch = watch
        self.collectSpends = collectSpends
    }

    @inline(__always)
    mutating func beginInputs(count: Int, reader: ByteReader) {}

    @inline(__always)
    mutating func visitInput(index: Int, outpoint: UnsafeRawPointer) {
        guard collectSpends else { return }
        let point = OutPoint(
            txid: Hash256(loadingFrom: outpoint),
            vout: UInt32(littleEndian: outpoint.loadUnaligned(fromByteOffset: 32, as: UInt32.self)))
        // Skip the null outpoint of a coinbase.
        if point.txid == .zero && point.vout == .max { return }
        spends.append(point)
    }

    @inline(__always)
    mutating func beginOutputs(count: Int, reader: ByteReader) {}

    @inline(__always)
    mutating func visitOutput(index: Int, value: Int64, script: UnsafeRawPointer, scriptRange: Range<Int>) {
        outputCount &+= 1
        if let tag = watch.tag(forScript: script, count: scriptRange.count) {
            pending.append(
                PendingMatch(
                    vout: UInt32(truncatingIfNeeded: index), value: value, tag: tag, script: script,
                    scriptLength: scriptRange.count))
        }
    }

    /// Turns pending matches into `OutputMatch`es now that the txid is known.
    mutating func flush(txid: Hash256, into matches: inout [OutputMatch]) {
        for p in pending {
            let address =
                AddressCodec.address(
                    forScript: UnsafeRawBufferPointer(start: p.script, count: p.scriptLength), format: watch.format)
                ?? ""
            matches.append(OutputMatch(txid: txid, vout: p.vout, valueSats: p.value, address: address, tag: p.tag))
        }
        pending.removeAll(keepingCapacity: true)
    }
}
