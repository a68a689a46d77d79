import WatchCore
/// A block's (or receipt's) `logsBloom`: 2048 bits, big-endian, into which every log's
/// address and topics are added by Keccak-256: bits `(h[i] << 8 | h[i+1]) & 2047` for i = 0, 2, 4
/// (Yellow Paper §4.3.1, the M3:2048 function). A bloom never says "absent" for what was added;
/// it may say "present" for what was not (a false positive).
public struct LogsBloom: Sendable, Hashable {
    public static let byteCount = 256
    public private(set) var bytes: [UInt8]

    /// The three bits one item sets: computed once per item, tested against any bloom.
    public struct Bits: Sendable {
        let positions: [(byte: Int, mask: UInt8)]

        public init(_ item: some Collection<UInt8>) {
            let h = Keccak256.hash(item)
            positions = stride(from: 0, to: 6, by: 2).map { i in
                let bit = (Int(h[i]) << 8 | Int(h[i + 1])) & 2047
                return (LogsBloom.byteCount - 1 - bit / 8, UInt8(1) << UInt8(bit % 8))
            }
        }

        /// An address or topic as `0x`-prefixed hex (as the node sends it, already validated).
        public init(hex item: String) { self.init(Hex.decode(item, allowing0x: true) ?? []) }
    }

    public init() { bytes = Array(repeating: 0, count: Self.byteCount) }

    /// `0x` + 512 hex digits; nil for anything else.
    public init?(hex text: String) {
        guard text.utf8.count == 2 + 2 * Self.byteCount, text.hasPrefix("0x"), let decoded = Hex.decode(text, allowing0x: true) else { return nil }
        bytes = decoded
    }

    public var hex: String { "0x" + Hex.encode(bytes) }

    public mutating func add(_ bits: Bits) {
        for (byte, mask) in bits.positions { bytes[byte] |= mask }
    }

    /// Adds one log: its address and every topic (`0x`-prefixed hex).
    public mutating func add(address: String, topics: [String]) {
        add(Bits(hex: address))
        for topic in topics { add(Bits(hex: topic)) }
    }

    /// Whether the item may have been added (false: certainly not).
    public func mayContain(_ bits: Bits) -> Bool { bits.positions.allSatisfy { bytes[$0.byte] & $0.mask != 0 } }

    public func mayContain(hex item: String) -> Bool { mayContain(Bits(hex: item)) }
}

/// Whether a block may hold a `Transfer` of a watched token to a watched recipient: the token
/// address, the Transfer topic and a recipient topic must all be in its bloom (one log adds all
/// three). The items' bits are hashed once, when the filter is built, not per block.
struct TransferBloomQuery: Sendable {
    let transfer: LogsBloom.Bits
    let tokens: [LogsBloom.Bits]
    let recipients: [LogsBloom.Bits]

    init(tokens: [EVMAddress], recipients: [EVMAddress]) {
        transfer = LogsBloom.Bits(hex: EVM.transferTopic)
        self.tokens = tokens.map { LogsBloom.Bits(hex: $0.lowercased) }
        self.recipients = recipients.map { LogsBloom.Bits(hex: $0.topic) }
    }

    init(_ filter: LogFilter) { self.init(tokens: filter.tokens, recipients: filter.recipients) }

    func mayMatch(_ bloom: LogsBloom) -> Bool {
        bloom.mayContain(transfer) && tokens.contains(where: bloom.mayContain) && recipients.contains(where: bloom.mayContain)
    }
}

extension LogsBloom {
    func mayHoldTransfer(tokens: [EVMAddress], recipients: [EVMAddress]) -> Bool {
        TransferBloomQuery(tokens: tokens, recipients: recipients).mayMatch(self)
    }
}
