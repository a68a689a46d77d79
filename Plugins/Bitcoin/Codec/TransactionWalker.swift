import CSHA256

/// Receives the pieces of a transaction while `TransactionWalker` reads it.
///
/// Implementations are value types so the generic walker is specialized and
/// the hot path has no dynamic dispatch.
protocol TransactionVisitor {
    /// Called once with the input count before any input.
    mutating func beginInputs(count: Int, reader: ByteReader)
    /// Called for every input with a pointer to its 36-byte outpoint (txid, vout).
    mutating func visitInput(index: Int, outpoint: UnsafeRawPointer)
    /// Called once with the output count before any output.
    mutating func beginOutputs(count: Int, reader: ByteReader)
    /// Called for every output; `script` is valid for `scriptRange.count` bytes.
    mutating func visitOutput(index: Int, value: Int64, script: UnsafeRawPointer, scriptRange: Range<Int>)
}

/// Byte layout of one transaction inside a buffer, enough to hash it without copying.
struct TransactionLayout {
    /// What a Litecoin transaction carries after its witnesses (flag 0x08).
    enum MWEBPart: Equatable { case none, hogEx, transaction }

    /// The whole serialization (witness form when `hasWitness`).
    var range: Range<Int>
    /// Offset of the first byte after the version (and after marker+flag in extended form):
    /// the input count.
    var ioStart: Int
    /// Offset just past the last output.
    var ioEnd: Int
    /// Offset just past the witnesses (where MWEB data starts; `ioEnd` without witness).
    var witnessEnd: Int
    /// True when the serialization carries witness data (BIP144 marker and flag).
    var hasWitness: Bool
    /// Litecoin: a HogEx (the block's integrating transaction) or a loose MWEB transaction.
    var mweb: MWEBPart = .none
    var inputCount: Int
    var outputCount: Int

    /// The marker and flag bytes are present (witness, MWEB or both).
    var isExtended: Bool { hasWitness || mweb != .none }

    /// txid: SHA256d of version | inputs+outputs | locktime, hashed piecewise without copying.
    /// (A Litecoin MWEB-only transaction, no inputs nor outputs, is named by its first kernel's
    /// id instead, which this does not compute: it pays no ordinary output.)
    func txid(base: UnsafeRawPointer) -> Hash256 {
        if !isExtended {
            return Hash256.sha256d(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
        }
        return hashWithLocktime(base: base, marker: [], through: ioEnd)
    }

    /// wtxid: SHA256d of the witness serialization, MWEB data left out (equals txid without witness).
    func wtxid(base: UnsafeRawPointer, txid: Hash256) -> Hash256 {
        guard hasWitness else { return txid }
        guard mweb != .none else {
            return Hash256.sha256d(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
        }
        return hashWithLocktime(base: base, marker: [0x00, 0x01], through: witnessEnd)
    }

    /// SHA256d of version | `marker` | the bytes from the input count to `end` | locktime.
    private func hashWithLocktime(base: UnsafeRawPointer, marker: [UInt8], through end: Int) -> Hash256 {
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var context = csha256_ctx()
        csha256_init(&context)
        csha256_update(&context, bytes + range.lowerBound, 4)
        if !marker.isEmpty { csha256_update(&context, marker, marker.count) }
        csha256_update(&context, bytes + ioStart, end - ioStart)
        csha256_update(&context, bytes + range.upperBound - 4, 4)
        return Hash256.receiving { csha256d_final(&context, $0) }
    }
}

/// Reads one transaction following Bitcoin Core's `UnserializeTransaction` (BIP144), with
/// Litecoin Core's MWEB flag (0x08) after the witnesses.
enum TransactionWalker {
    /// Smallest possible serialized input (32+4 outpoint, 1 script length, 4 sequence).
    static let minInputSize = 41
    /// Smallest possible serialized output (8 value, 1 script length).
    static let minOutputSize = 9
    /// Smallest possible transaction (version, two empty counts... as Core accepts: 4+1+1+4).
    static let minTransactionSize = 10

    @inline(__always)
    static func walk<V: TransactionVisitor>(
        _ reader: inout ByteReader, visitor: inout V, mweb: Bool = false
    ) throws(BitcoinParseError) -> TransactionLayout {
        let start = reader.offset
        try reader.skip(4)  // version
        var ioStart = reader.offset
        var flags: UInt8 = 0
        var inputCount = try reader.readSize()
        var outputCount = 0
        var ioEnd: Int
        if inputCount == 0 {
            // Either an empty vin or the BIP144 marker; the next byte is the flag.
            flags = try reader.readUInt8()
            if flags != 0 {
                ioStart = reader.offset
                inputCount = try reader.readSize()
                try readInputs(&reader, count: inputCount, visitor: &visitor)
                outputCount = try reader.readSize()
                try readOutputs(&reader, count: outputCount, visitor: &visitor)
            } else {
                visitor.beginInputs(count: 0, reader: reader)
                visitor.beginOutputs(count: 0, reader: reader)
            }
        } else {
            try readInputs(&reader, count: inputCount, visitor: &visitor)
            outputCount = try reader.readSize()
            try readOutputs(&reader, count: outputCount, visitor: &visitor)
        }
        ioEnd = reader.offset
        let hasWitness = flags & 1 != 0
        if hasWitness {
            flags ^= 1
            try skipWitnesses(&reader, inputs: inputCount, txStart: start)
        }
        let witnessEnd = reader.offset
        var part = TransactionLayout.MWEBPart.none
        if mweb, flags & 8 != 0 {
            flags ^= 8
            part = try readMWEBPart(&reader, outputs: outputCount)
        }
        if flags != 0 {
            throw BitcoinParseError.unknownOptionalData(flag: flags, offset: start)
        }
        try reader.skip(4)  // locktime
        if !hasWitness && part == .none {
            // Legacy form (including Core's "empty vin, flag 0" reading): hash it whole.
            ioStart = start + 4
            ioEnd = reader.offset - 4
        }
        return TransactionLayout(
            range: start..<reader.offset, ioStart: ioStart, ioEnd: ioEnd, witnessEnd: witnessEnd,
            hasWitness: hasWitness, mweb: part, inputCount: inputCount, outputCount: outputCount)
    }

    /// BIP144 witnesses, one stack per input; all empty is refused (Core: superfluous witness).
    @inline(__always)
    private static func skipWitnesses(_ reader: inout ByteReader, inputs: Int, txStart: Int) throws(BitcoinParseError) {
        var anyWitness = false
        for _ in 0..<inputs {
            let items = try reader.readSize()
            if items != 0 { anyWitness = true }
            for _ in 0..<items {
                _ = try reader.skipVarBytes()
            }
        }
        if !anyWitness { throw BitcoinParseError.superfluousWitness(offset: txStart) }
    }

    /// Litecoin's MWEB part (flag 0x08): a tag byte, 0 for a HogEx (which pays at least one
    /// output), 1 for a loose MWEB transaction, which is walked past.
    private static func readMWEBPart(_ reader: inout ByteReader, outputs: Int) throws(BitcoinParseError) -> TransactionLayout.MWEBPart {
        let at = reader.offset
        switch try reader.readUInt8() {
        case 0:
            guard outputs > 0 else { throw BitcoinParseError.invalidMWEB("a HogEx without outputs", offset: at) }
            return .hogEx
        case 1:
            try MWEBSkipper.skipTransaction(&reader)
            return .transaction
        case let tag:
            throw BitcoinParseError.invalidMWEB("MWEB tag \(tag), expected 0 (HogEx) or 1 (MWEB transaction)", offset: at)
        }
    }

    @inline(__always)
    private static func readInputs<V: TransactionVisitor>(
        _ reader: inout ByteReader, count: Int, visitor: inout V
    ) throws(BitcoinParseError) {
        visitor.beginInputs(count: count, reader: reader)
        for i in 0..<count {
            try reader.require(36)
            visitor.visitInput(index: i, outpoint: reader.pointer)
            reader.offset &+= 36
            _ = try reader.skipVarBytes()  // scriptSig
            try reader.skip(4)  // sequence
        }
    }

    @inline(__always)
    private static func readOutputs<V: TransactionVisitor>(
        _ reader: inout ByteReader, count: Int, visitor: inout V
    ) throws(BitcoinParseError) {
        visitor.beginOutputs(count: count, reader: reader)
        for i in 0..<count {
            let value = try reader.readInt64LE()
            let script = try reader.skipVarBytes()
            visitor.visitOutput(index: i, value: value, script: reader.base + script.lowerBound, scriptRange: script)
        }
    }
}
