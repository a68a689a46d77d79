/// A 20-byte EVM address, held as lower-case hex with `0x`.
public struct EVMAddress: Sendable, Hashable, CustomStringConvertible {
    /// `0x` + 40 lower-case hex digits.
    public let lowercased: String

    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case format
        case checksum(expected: String)

        public var description: String {
            switch self {
            case .format: "expected 0x followed by 40 hex digits"
            case .checksum(let expected): "mixed-case address fails its EIP-55 checksum; the checksummed form is \(expected) (check for a typo)"
            }
        }
    }

    /// Parses `0x…`: all lower-case or all upper-case is accepted as is; mixed case must carry
    /// a valid EIP-55 checksum.
    public init(_ text: String) throws(Problem) {
        guard text.utf8.count == 42, text.hasPrefix("0x"), text.utf8.dropFirst(2).allSatisfy(\.isHexDigit) else {
            throw .format
        }
        let body = text.dropFirst(2)
        let lower = body.lowercased()
        lowercased = "0x" + lower
        let hasLower = body.contains { $0.isLowercase }
        let hasUpper = body.contains { $0.isUppercase }
        if hasLower, hasUpper, checksummed != text { throw .checksum(expected: checksummed) }
    }

    /// From a 32-byte topic (left-padded address); nil unless the top 12 bytes are zero.
    public init?(topic: String) {
        guard topic.utf8.count == 66, topic.hasPrefix("0x"), topic.utf8.dropFirst(2).allSatisfy(\.isHexDigit),
            topic.dropFirst(2).prefix(24).allSatisfy({ $0 == "0" })
        else { return nil }
        lowercased = "0x" + topic.suffix(40).lowercased()
    }

    /// The EIP-55 mixed-case form.
    public var checksummed: String {
        let lower = Array(lowercased.utf8.dropFirst(2))
        let hash = Keccak256.hash(lower)
        var out: [UInt8] = Array("0x".utf8)
        for (i, ch) in lower.enumerated() {
            let nibble = i % 2 == 0 ? hash[i / 2] >> 4 : hash[i / 2] & 0x0F
            out.append(ch >= UInt8(ascii: "a") && nibble >= 8 ? ch - 32 : ch)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The address left-padded to a 32-byte topic.
    public var topic: String { "0x" + String(repeating: "0", count: 24) + lowercased.dropFirst(2) }

    public var description: String { checksummed }
}

extension UInt8 {
    var isHexDigit: Bool { (48...57).contains(self) || (65...70).contains(self) || (97...102).contains(self) }
}

/// Well-known constants.
public enum EVM {
    /// keccak256("Transfer(address,address,uint256)").
    public static let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    /// EURe v2 (Monerium) on Gnosis: the contract NEAR Intents bridges.
    public static let eureV2 = "0x420CA0f9B9b604cE0fd9C18EF134C705e5Fa3430"
    /// EURe v1 (legacy): mirrors every transfer onto v2, so watching both counts deposits twice.
    public static let eureV1 = "0xcB444e90D8198415266c6a2724b7900fb12FC56E"
}
