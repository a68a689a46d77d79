/// Why a block, header or transaction could not be deserialized.
///
/// Offsets count bytes from the start of the buffer handed to the parser.
public enum BitcoinParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The data ended: `needed` more bytes were required at `offset`.
    case truncated(offset: Int, needed: Int)
    /// A CompactSize at `offset` used a longer encoding than its value needs.
    case nonCanonicalCompactSize(offset: Int)
    /// A CompactSize at `offset` exceeds `MAX_SIZE` (0x02000000).
    case sizeTooLarge(value: UInt64, offset: Int)
    /// A transaction at `offset` set the witness flag but every witness stack is empty.
    case superfluousWitness(offset: Int)
    /// A transaction at `offset` used unknown optional-data flag bits.
    case unknownOptionalData(flag: UInt8, offset: Int)
    /// `count` bytes follow the end of the block or transaction.
    case trailingBytes(count: Int)
    /// The header's merkle root (display order) differs from the one computed from the txids.
    case merkleRootMismatch(expected: Hash256, computed: Hash256)
    /// The block declares `count` transactions but only `maximum` could fit in its remaining bytes.
    case tooManyTransactions(count: UInt64, maximum: Int)
    /// The block declares no transactions at all.
    case noTransactions
    /// Litecoin MWEB data at `offset` that Litecoin Core would not have written (`what` says how).
    case invalidMWEB(String, offset: Int)

    public var description: String {
        switch self {
        case .truncated(let offset, let needed):
            "data truncated: needed \(needed) more byte(s) at offset \(offset)"
        case .nonCanonicalCompactSize(let offset):
            "non-canonical CompactSize at offset \(offset)"
        case .sizeTooLarge(let value, let offset):
            "CompactSize \(value) at offset \(offset) exceeds MAX_SIZE (33554432)"
        case .superfluousWitness(let offset):
            "superfluous witness record in transaction at offset \(offset) (witness flag set, all witnesses empty)"
        case .unknownOptionalData(let flag, let offset):
            "unknown transaction optional data (flag 0x\(String(flag, radix: 16))) in transaction at offset \(offset)"
        case .trailingBytes(let count):
            "\(count) unexpected trailing byte(s) after the end of the data"
        case .merkleRootMismatch(let expected, let computed):
            "merkle root mismatch: header says \(expected.displayHex), transactions give \(computed.displayHex)"
        case .tooManyTransactions(let count, let maximum):
            "block declares \(count) transactions but its size allows at most \(maximum)"
        case .noTransactions:
            "block declares zero transactions"
        case .invalidMWEB(let what, let offset):
            "invalid MWEB data at offset \(offset): \(what)"
        }
    }
}
