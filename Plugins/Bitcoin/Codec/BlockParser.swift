/// Parses raw blocks (`getblock <hash> 0`, REST `.bin`, ZMQ `rawblock`) and headers.
public enum BlockParser {
    /// Parses the 80-byte header at the start of `bytes` (longer input is fine; the rest is ignored).
    public static func parseHeader(_ bytes: [UInt8]) throws(BitcoinParseError) -> BlockHeader {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(BitcoinParseError) -> BlockHeader in try parseHeader(buffer) }
        }
        return try result.get()
    }

    /// Parses the 80-byte header at the start of `buffer`.
    public static func parseHeader(_ buffer: UnsafeRawBufferPointer) throws(BitcoinParseError) -> BlockHeader {
        var reader = ByteReader(buffer)
        return try readHeader(&reader)
    }

    /// Reads and hashes a header at the reader's position.
    static func readHeader(_ reader: inout ByteReader) throws(BitcoinParseError) -> BlockHeader {
        try reader.require(BlockHeader.size)
        let start = reader.offset
        let hash = Hash256.sha256d(UnsafeRawBufferPointer(start: reader.pointer, count: BlockHeader.size))
        let version = try reader.readInt32LE()
        let prev = try reader.readHash()
        let merkle = try reader.readHash()
        let time = try reader.readUInt32LE()
        let bits = try reader.readUInt32LE()
        let nonce = try reader.readUInt32LE()
        assert(reader.offset == start + BlockHeader.size)
        return BlockHeader(
            version: version, previousBlockHash: prev, merkleRoot: merkle,
            time: time, bits: bits, nonce: nonce, hash: hash)
    }

    /// Reads the transaction count and rejects counts the remaining bytes cannot hold.
    static func readTransactionCount(_ reader: inout ByteReader) throws(BitcoinParseError) -> Int {
        let count = try reader.readCompactSize()
        if count == 0 { throw BitcoinParseError.noTransactions }
        let maximum = reader.remaining / TransactionWalker.minTransactionSize
        if count > UInt64(maximum) { throw BitcoinParseError.tooManyTransactions(count: count, maximum: maximum) }
        return Int(count)
    }

    /// The end of a block's transactions: nothing may follow, except Litecoin's MWEB block
    /// after a HogEx (the last of two or more transactions): its presence byte, then the MWEB
    /// block walked field by field (it has no length of its own), to the last byte.
    static func checkEnd(_ reader: inout ByteReader, transactions: Int, lastIsHogEx: Bool) throws(BitcoinParseError) {
        if lastIsHogEx, transactions >= 2, reader.remaining > 0 {
            let at = reader.offset
            switch try reader.readUInt8() {
            case 0: break
            case 1: try MWEBSkipper.skipBlock(&reader)
            case let tag: throw BitcoinParseError.invalidMWEB("MWEB block presence byte \(tag), expected 0 or 1", offset: at)
            }
        }
        if reader.remaining != 0 { throw BitcoinParseError.trailingBytes(count: reader.remaining) }
    }

    /// Parses a whole block; the data must end exactly after the last transaction (or its
    /// MWEB block, after a HogEx).
    ///
    /// - Parameter verifyMerkleRoot: recompute the merkle root from the txids and throw
    ///   `.merkleRootMismatch` when it differs from the header's.
    public static func parse(_ bytes: [UInt8], verifyMerkleRoot: Bool = true, mweb: Bool = false) throws(BitcoinParseError) -> ParsedBlock {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(BitcoinParseError) -> ParsedBlock in
                try parse(buffer, verifyMerkleRoot: verifyMerkleRoot, mweb: mweb)
            }
        }
        return try result.get()
    }

    /// Parses a whole block from raw memory.
    public static func parse(
        _ buffer: UnsafeRawBufferPointer, verifyMerkleRoot: Bool = true, mweb: Bool = false
    ) throws(BitcoinParseError) -> ParsedBlock {
        var reader = ByteReader(buffer)
        let header = try readHeader(&reader)
        let count = try readTransactionCount(&reader)
        var transactions: [ParsedTransaction] = []
        transactions.reserveCapacity(count)
        for _ in 0..<count {
            transactions.append(try TransactionParser.parse(from: &reader, mweb: mweb))
        }
        try checkEnd(&reader, transactions: count, lastIsHogEx: transactions.last?.isHogEx ?? false)
        if verifyMerkleRoot {
            var txids = transactions.map(\.txid)
            let computed = MerkleTree.root(&txids)
            if computed != header.merkleRoot {
                throw BitcoinParseError.merkleRootMismatch(expected: header.merkleRoot, computed: computed)
            }
        }
        return ParsedBlock(header: header, transactions: transactions)
    }
}
