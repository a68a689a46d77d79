/// Walks past Litecoin's MWEB (extension block) data without interpreting it: a loose MWEB
/// transaction after a transaction's witnesses (flag 0x08, tag 1), and the MWEB block after a
/// block's HogEx. Layouts from Litecoin Core 0.21's libmw (`mw/models/{block,tx}`), checked
/// against blocks of a real `litecoind` (docs/utxo.md). Every field is fixed-size, flagged or
/// counted, so the walk is bounded by the buffer; unknown feature bits are refused.
enum MWEBSkipper {
    static let commitment = 33, publicKey = 33, signature = 64, hash = 32, rangeProof = 675

    /// `kernel_offset | stealth_offset | TxBody`.
    static func skipTransaction(_ reader: inout ByteReader) throws(BitcoinParseError) {
        try reader.skip(2 * hash)
        try skipBody(&reader)
    }

    /// `Header | TxBody`: the MWEB block after a block's last transaction (its HogEx).
    static func skipBlock(_ reader: inout ByteReader) throws(BitcoinParseError) {
        _ = try readVarInt(&reader)  // height
        try reader.skip(5 * hash)  // output, kernel and leaf roots; kernel and stealth offsets
        _ = try readVarInt(&reader)  // output MMR size
        _ = try readVarInt(&reader)  // kernel MMR size
        try skipBody(&reader)
    }

    /// `inputs | outputs | kernels`, each a CompactSize-counted vector.
    static func skipBody(_ reader: inout ByteReader) throws(BitcoinParseError) {
        for _ in 0..<(try reader.readSize()) { try skipInput(&reader) }
        for _ in 0..<(try reader.readSize()) { try skipOutput(&reader) }
        for _ in 0..<(try reader.readSize()) { try skipKernel(&reader) }
    }

    /// `features | output_id | commitment | output_pubkey | [input_pubkey] | [extra] | signature`.
    static func skipInput(_ reader: inout ByteReader) throws(BitcoinParseError) {
        let start = reader.offset
        let features = try reader.readUInt8()
        guard features & ~0x03 == 0 else { throw BitcoinParseError.invalidMWEB("unknown input features 0x\(String(features, radix: 16))", offset: start) }
        try reader.skip(hash + commitment + publicKey)
        if features & 0x01 != 0 { try reader.skip(publicKey) }
        if features & 0x02 != 0 { _ = try reader.skipVarBytes() }
        try reader.skip(signature)
    }

    /// `commitment | sender_pubkey | receiver_pubkey | message | range_proof | signature`.
    static func skipOutput(_ reader: inout ByteReader) throws(BitcoinParseError) {
        try reader.skip(commitment + 2 * publicKey)
        let start = reader.offset
        let features = try reader.readUInt8()
        guard features & ~0x03 == 0 else { throw BitcoinParseError.invalidMWEB("unknown output message features 0x\(String(features, radix: 16))", offset: start) }
        if features & 0x01 != 0 { try reader.skip(publicKey + 1 + 8 + 16) }  // key exchange, view tag, masked value and nonce
        if features & 0x02 != 0 { _ = try reader.skipVarBytes() }
        try reader.skip(rangeProof + signature)
    }

    /// `features | [fee] | [peg-in] | [peg-outs] | [lock height] | [stealth excess] | [extra] | excess | signature`.
    static func skipKernel(_ reader: inout ByteReader) throws(BitcoinParseError) {
        let start = reader.offset
        let features = try reader.readUInt8()
        guard features & ~0x3f == 0 else { throw BitcoinParseError.invalidMWEB("unknown kernel features 0x\(String(features, radix: 16))", offset: start) }
        if features & 0x01 != 0 { _ = try readVarInt(&reader) }  // fee
        if features & 0x02 != 0 { _ = try readVarInt(&reader) }  // peg-in amount
        if features & 0x04 != 0 {
            for _ in 0..<(try reader.readSize()) {
                _ = try readVarInt(&reader)  // amount
                _ = try reader.skipVarBytes()  // scriptPubKey
            }
        }
        if features & 0x08 != 0 { _ = try readVarInt(&reader) }  // lock height
        if features & 0x10 != 0 { try reader.skip(publicKey) }  // stealth excess
        if features & 0x20 != 0 { _ = try reader.skipVarBytes() }
        try reader.skip(commitment + signature)
    }

    /// Bitcoin Core's `VARINT` (serialize.h `ReadVarInt`): MSB-first base 128, each
    /// continuation adding one. At most 9 bytes (a 64-bit value).
    static func readVarInt(_ reader: inout ByteReader) throws(BitcoinParseError) -> UInt64 {
        let start = reader.offset
        var n: UInt64 = 0
        for _ in 0..<10 {
            let byte = try reader.readUInt8()
            guard n <= (UInt64.max >> 7) else { break }
            n = (n << 7) | UInt64(byte & 0x7f)
            if byte & 0x80 == 0 { return n }
            guard n < UInt64.max else { break }
            n += 1
        }
        throw BitcoinParseError.invalidMWEB("VARINT larger than 64 bits", offset: start)
    }
}
