/// A block's (or receipt's) `logsBloom`: 2048 bits, big-endian, into which every log's
/// address and topics are added by Keccak-256: bits `(h[i] << 8 | h[i+1]) & 2047` for i = 0, 2, 4
/// (Yellow Paper §4.3.1, the M3:2048 function). A bloom never says "absent" for what was added;
/// it may say "present" for what was not (a false positive).
public struct LogsBloom: Sendable, Hashable {
    public static let byteCount = 256
    public private(set) var bytes: [UInt8]

    public init() { bytes = Array(repeating: 0, count: Self.byteCount) }

    /// `0x` + 512 hex digits; nil for anything else.
    public init?(hex text: String) {
        guard text.utf8.count == 2 + 2 * Self.byteCount, text.hasPrefix("0x") else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(Self.byteCount)
        var high: UInt8?
        for c in text.utf8.dropFirst(2) {
            guard let v = Self.nibble(c) else { return nil }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        bytes = out
    }

    public var hex: String { "0x" + bytes.map { String($0, radix: 16).leftPadded(2) }.joined() }

    /// Adds raw bytes: a 20-byte address or a 32-byte topic.
    public mutating func add(_ item: some Collection<UInt8>) {
        for (byte, mask) in Self.positions(item) { bytes[byte] |= mask }
    }

    /// Adds one log: its address and every topic (`0x`-prefixed hex).
    public mutating func add(address: String, topics: [String]) {
        add(Self.decode(address))
        for topic in topics { add(Self.decode(topic)) }
    }

    /// Whether `item` may have been added (false: certainly not).
    public func mayContain(_ item: some Collection<UInt8>) -> Bool {
        Self.positions(item).allSatisfy { bytes[$0.byte] & $0.mask != 0 }
    }

    /// `0x`-prefixed hex of an address or topic.
    public func mayContain(hex item: String) -> Bool { mayContain(Self.decode(item)) }

    private static func positions(_ item: some Collection<UInt8>) -> [(byte: Int, mask: UInt8)] {
        let h = Keccak256.hash(item)
        return stride(from: 0, to: 6, by: 2).map { i in
            let bit = (Int(h[i]) << 8 | Int(h[i + 1])) & 2047
            return (byteCount - 1 - bit / 8, UInt8(1) << UInt8(bit % 8))
        }
    }

    private static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var high: UInt8?
        for c in text.utf8.dropFirst(text.hasPrefix("0x") ? 2 : 0) {
            guard let v = nibble(c) else { continue }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

extension LogsBloom {
    /// Whether a block with this bloom may hold a `Transfer` of one of `tokens` to one of
    /// `recipients`: the token address, the Transfer topic and a recipient topic must all be in
    /// it (one log adds all three).
    func mayHoldTransfer(tokens: [EVMAddress], recipients: [EVMAddress]) -> Bool {
        guard mayContain(hex: EVM.transferTopic) else { return false }
        guard tokens.contains(where: { mayContain(hex: $0.lowercased) }) else { return false }
        return recipients.contains { mayContain(hex: $0.topic) }
    }
}
