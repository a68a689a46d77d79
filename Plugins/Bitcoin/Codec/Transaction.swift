/// A reference to a previous transaction output.
public struct OutPoint: Hashable, Sendable, CustomStringConvertible {
    /// The previous transaction's txid.
    public var txid: Hash256
    /// The output index in that transaction.
    public var vout: UInt32

    public init(txid: Hash256, vout: UInt32) {
        self.txid = txid
        self.vout = vout
    }

    public var description: String { "\(txid.displayHex):\(vout)" }
}

/// A transaction input: only the outpoint it spends (scripts and witnesses are skipped).
public struct TxInput: Hashable, Sendable {
    /// txid of the transaction whose output is spent (all zero for a coinbase).
    public var prevTxid: Hash256
    /// Index of the spent output (`0xffffffff` for a coinbase).
    public var prevIndex: UInt32

    public init(prevTxid: Hash256, prevIndex: UInt32) {
        self.prevTxid = prevTxid
        self.prevIndex = prevIndex
    }

    /// The spent outpoint.
    public var outpoint: OutPoint { OutPoint(txid: prevTxid, vout: prevIndex) }

    /// True for the null outpoint a coinbase input carries.
    public var isNull: Bool { prevTxid == .zero && prevIndex == .max }
}

/// A transaction output: its value and where its scriptPubKey lies in the parsed buffer.
public struct TxOutput: Hashable, Sendable {
    /// Value in satoshis (as serialized; consensus range checks are not applied).
    public var value: Int64
    /// Byte range of the scriptPubKey, relative to the start of the buffer that was parsed
    /// (the block for block parsing, the transaction for `TransactionParser.parse`).
    public var scriptRange: Range<Int>

    public init(value: Int64, scriptRange: Range<Int>) {
        self.value = value
        self.scriptRange = scriptRange
    }
}

/// A deserialized transaction: ids, spent outpoints and outputs.
public struct ParsedTransaction: Hashable, Sendable {
    /// SHA256d of the legacy (non-witness) serialization.
    public var txid: Hash256
    /// SHA256d of the full serialization; equals `txid` when there is no witness.
    public var wtxid: Hash256
    public var inputs: [TxInput]
    public var outputs: [TxOutput]
    /// True when the transaction has exactly one input spending the null outpoint.
    public var isCoinbase: Bool
    /// True when the serialization carries BIP144 witness data.
    public var hasWitness: Bool
    /// Litecoin: the block's integrating transaction (flag 0x08, no MWEB body), whose outputs
    /// after the first are peg-outs from MWEB to ordinary addresses.
    public var isHogEx = false
    /// Litecoin: carries a loose MWEB transaction (only ever unconfirmed).
    public var hasMWEBTransaction = false
    /// Byte range of the whole transaction within the parsed buffer.
    public var byteRange: Range<Int>

    /// The scriptPubKey bytes of output `index`, taken from the buffer that was parsed.
    public func outputScript(_ index: Int, in bytes: [UInt8]) -> ArraySlice<UInt8> {
        bytes[outputs[index].scriptRange]
    }
}

/// Collects inputs and outputs into arrays (the non-hot, full-detail path).
struct CollectingVisitor: TransactionVisitor {
    var inputs: [TxInput] = []
    var outputs: [TxOutput] = []

    mutating func beginInputs(count: Int, reader: ByteReader) {
        // Never trust a hostile count for the allocation size.
        inputs.reserveCapacity(min(count, reader.remaining / TransactionWalker.minInputSize))
    }

    mutating func visitInput(index: Int, outpoint: UnsafeRawPointer) {
        let vout = UInt32(littleEndian: outpoint.loadUnaligned(fromByteOffset: 32, as: UInt32.self))
        inputs.append(TxInput(prevTxid: Hash256(loadingFrom: outpoint), prevIndex: vout))
    }

    mutating func beginOutputs(count: Int, reader: ByteReader) {
        outputs.reserveCapacity(min(count, reader.remaining / TransactionWalker.minOutputSize))
    }

    mutating func visitOutput(index: Int, value: Int64, script: UnsafeRawPointer, scriptRange: Range<Int>) {
        outputs.append(TxOutput(value: value, scriptRange: scriptRange))
    }
}

/// Parses standalone raw transactions (e.g. ZMQ `rawtx`, `getrawtransaction`).
public enum TransactionParser {
    /// Parses one transaction that must fill `bytes` exactly.
    ///
    /// - Throws: `BitcoinParseError` (e.g. `.trailingBytes` if anything follows it).
    /// With `mweb` (Litecoin), MWEB data after the witnesses (flag 0x08) is read.
    public static func parse(_ bytes: [UInt8], mweb: Bool = false) throws(BitcoinParseError) -> ParsedTransaction {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(BitcoinParseError) -> ParsedTransaction in try parse(buffer, mweb: mweb) }
        }
        return try result.get()
    }

    /// Parses one transaction that must fill `buffer` exactly.
    public static func parse(_ buffer: UnsafeRawBufferPointer, mweb: Bool = false) throws(BitcoinParseError) -> ParsedTransaction {
        var reader = ByteReader(buffer)
        let tx = try parse(from: &reader, mweb: mweb)
        if reader.remaining != 0 { throw BitcoinParseError.trailingBytes(count: reader.remaining) }
        return tx
    }

    /// Parses one transaction at the reader's position and advances past it.
    static func parse(from reader: inout ByteReader, mweb: Bool = false) throws(BitcoinParseError) -> ParsedTransaction {
        var visitor = CollectingVisitor()
        let layout = try TransactionWalker.walk(&reader, visitor: &visitor, mweb: mweb)
        let txid = layout.txid(base: reader.base)
        let wtxid = layout.wtxid(base: reader.base, txid: txid)
        let isCoinbase = visitor.inputs.count == 1 && visitor.inputs[0].isNull
        var tx = ParsedTransaction(
            txid: txid, wtxid: wtxid, inputs: visitor.inputs, outputs: visitor.outputs,
            isCoinbase: isCoinbase, hasWitness: layout.hasWitness, byteRange: layout.range)
        tx.isHogEx = layout.mweb == .hogEx
        tx.hasMWEBTransaction = layout.mweb == .transaction
        return tx
    }
}
