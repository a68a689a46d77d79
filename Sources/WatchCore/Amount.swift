/// An exact, non-negative amount in an asset's base units (satoshis, wei-like EURe units).
///
/// Stored as an unsigned 256-bit integer so any ERC-20 `uint256` fits; never a `Double`.
/// Text form is a plain decimal string, as stored in `NUMERIC(78,0)` and published on Kafka.
public struct Amount: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// Little-endian 64-bit limbs.
    public private(set) var limbs: (UInt64, UInt64, UInt64, UInt64)

    public static let zero = Amount(0)

    public init(_ value: UInt64) { limbs = (value, 0, 0, 0) }

    /// Parses a decimal string of base units (`"1500000000000000000"`). Rejects signs, blanks,
    /// fractions and anything above 2^256 - 1.
    public init?(decimal text: some StringProtocol) {
        guard !text.isEmpty, text.count <= 78 else { return nil }
        var value = Amount.zero
        for ch in text.utf8 {
            guard ch >= 48, ch <= 57 else { return nil }
            guard let times10 = value.multipliedReportingOverflow(by: 10),
                let next = times10.addingReportingOverflow(Amount(UInt64(ch - 48)))
            else { return nil }
            value = next
        }
        self = value
    }

    /// Parses `0x`-prefixed (or bare) hexadecimal, as EVM JSON-RPC quantities and log data arrive.
    public init?(hex text: some StringProtocol) {
        var digits = Substring(text)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty else { return nil }
        while digits.count > 1, digits.first == "0" { digits = digits.dropFirst() }
        guard digits.count <= 64 else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (i, ch) in digits.utf8.reversed().enumerated() {
            let nibble: UInt64
            switch ch {
            case 48...57: nibble = UInt64(ch - 48)
            case 97...102: nibble = UInt64(ch - 87)
            case 65...70: nibble = UInt64(ch - 55)
            default: return nil
            }
            words[i / 16] |= nibble << (UInt64(i % 16) * 4)
        }
        limbs = (words[0], words[1], words[2], words[3])
    }

    private var words: [UInt64] { [limbs.0, limbs.1, limbs.2, limbs.3] }
    private init(words w: [UInt64]) { limbs = (w[0], w[1], w[2], w[3]) }

    /// The value as `UInt64` when it fits.
    public var uint64: UInt64? { limbs.1 == 0 && limbs.2 == 0 && limbs.3 == 0 ? limbs.0 : nil }

    public func addingReportingOverflow(_ other: Amount) -> Amount? {
        var result: [UInt64] = [0, 0, 0, 0]
        var carry: UInt64 = 0
        let a = words, b = other.words
        for i in 0..<4 {
            let (s1, o1) = a[i].addingReportingOverflow(b[i])
            let (s2, o2) = s1.addingReportingOverflow(carry)
            result[i] = s2
            carry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        return carry == 0 ? Amount(words: result) : nil
    }

    /// `self - other`, or nil when `other` is larger (amounts are never negative).
    public func subtractingReportingOverflow(_ other: Amount) -> Amount? {
        guard other <= self else { return nil }
        var result: [UInt64] = [0, 0, 0, 0]
        var borrow: UInt64 = 0
        let a = words, b = other.words
        for i in 0..<4 {
            let (d1, o1) = a[i].subtractingReportingOverflow(b[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            result[i] = d2
            borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        return Amount(words: result)
    }

    func multipliedReportingOverflow(by factor: UInt64) -> Amount? {
        var result: [UInt64] = [0, 0, 0, 0]
        var carry: UInt64 = 0
        for (i, w) in words.enumerated() {
            let (high, low) = w.multipliedFullWidth(by: factor)
            let (sum, overflow) = low.addingReportingOverflow(carry)
            result[i] = sum
            carry = high &+ (overflow ? 1 : 0)
        }
        return carry == 0 ? Amount(words: result) : nil
    }

    /// Divides by a small divisor, returning quotient and remainder.
    private func dividedBy(_ divisor: UInt64) -> (Amount, UInt64) {
        var result: [UInt64] = [0, 0, 0, 0]
        var remainder: UInt64 = 0
        let w = words
        for i in stride(from: 3, through: 0, by: -1) {
            let (q, r) = divisor.dividingFullWidth((high: remainder, low: w[i]))
            result[i] = q
            remainder = r
        }
        return (Amount(words: result), remainder)
    }

    public var description: String {
        if self == .zero { return "0" }
        var digits: [UInt8] = []
        var value = self
        while value != .zero {
            let (q, r) = value.dividedBy(10_000_000_000_000_000_000)
            var chunk = r
            for _ in 0..<19 {
                digits.append(UInt8(chunk % 10) + 48)
                chunk /= 10
            }
            value = q
        }
        while digits.count > 1, digits.last == 48 { digits.removeLast() }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }

    public static func == (l: Amount, r: Amount) -> Bool { l.words == r.words }
    public func hash(into hasher: inout Hasher) { hasher.combine(words) }
    public static func < (l: Amount, r: Amount) -> Bool {
        for i in stride(from: 3, through: 0, by: -1) where l.words[i] != r.words[i] {
            return l.words[i] < r.words[i]
        }
        return false
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Amount(decimal: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a base-unit decimal amount: \(text)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
