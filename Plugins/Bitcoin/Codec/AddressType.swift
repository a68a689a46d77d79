/// The standard output templates that have an address form.
public enum AddressType: Hashable, Sendable, CustomStringConvertible {
    /// `76 a9 14 <20> 88 ac`
    case p2pkh
    /// `a9 14 <20> 87`
    case p2sh
    /// `00 14 <20>`
    case p2wpkh
    /// `00 20 <32>`
    case p2wsh
    /// `51 20 <32>`
    case p2tr
    /// Any other witness program: version 1–16 with 2–40 bytes (not a 32-byte v1 program).
    case witness(version: UInt8)

    public var description: String {
        switch self {
        case .p2pkh: "P2PKH"
        case .p2sh: "P2SH"
        case .p2wpkh: "P2WPKH"
        case .p2wsh: "P2WSH"
        case .p2tr: "P2TR"
        case .witness(let version): "witness v\(version)"
        }
    }

    /// Classifies a scriptPubKey; `nil` if it has no address form
    /// (P2PK, bare multisig, OP_RETURN, non-standard, v0 programs not 20/32 bytes).
    public static func classify(_ script: UnsafeRawBufferPointer) -> AddressType? {
        let n = script.count
        guard n >= 4 else { return nil }
        let b0 = script[0]
        let b1 = script[1]
        if n == 25 && b0 == 0x76 && b1 == 0xa9 && script[2] == 0x14 && script[23] == 0x88 && script[24] == 0xac {
            return .p2pkh
        }
        if n == 23 && b0 == 0xa9 && b1 == 0x14 && script[22] == 0x87 {
            return .p2sh
        }
        // Witness program: OP_0 or OP_1..OP_16, then one direct push of 2–40 bytes.
        guard n <= 42, Int(b1) == n - 2, b1 >= 2, b1 <= 40 else { return nil }
        if b0 == 0x00 {
            switch b1 {
            case 20: return .p2wpkh
            case 32: return .p2wsh
            default: return nil
            }
        }
        guard b0 >= 0x51 && b0 <= 0x60 else { return nil }
        let version = b0 - 0x50
        if version == 1 && b1 == 32 { return .p2tr }
        return .witness(version: version)
    }

    /// Classifies a scriptPubKey given as bytes.
    public static func classify(_ script: [UInt8]) -> AddressType? {
        script.withUnsafeBytes { classify($0) }
    }
}
