/// Bech32 (BIP173) and bech32m (BIP350) strings, and segwit address programs.
public enum Bech32 {
    /// The checksum variant.
    public enum Variant: String, Sendable {
        /// BIP173, checksum constant 1 — witness version 0.
        case bech32
        /// BIP350, checksum constant 0x2bc830a3 — witness versions 1 to 16.
        case bech32m

        var constant: UInt32 { self == .bech32 ? 1 : 0x2bc8_30a3 }
    }

    /// Why a string is not valid bech32/bech32m (before any segwit interpretation).
    public enum DecodingError: Error, Equatable, Sendable {
        case tooLong(length: Int)
        case mixedCase
        case invalidCharacter(position: Int)
        case missingSeparator
        case emptyHRP
        case tooShortChecksum
        case invalidChecksum
    }

    /// A decoded string: lowercase HRP, 5-bit data without the checksum, and variant.
    public struct Decoded: Equatable, Sendable {
        public var hrp: String
        public var data: [UInt8]
        public var variant: Variant
    }

    static let charset: [UInt8] = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

    static let charsetRev: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (i, c) in charset.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var chk: UInt32 = 1
        for v in values {
            let top = chk >> 25
            chk = (chk & 0x1ff_ffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> UInt32(i)) & 1 != 0 { chk ^= generator[i] }
        }
        return chk
    }

    static func hrpExpand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    /// Encodes `hrp` (lowercased) and 5-bit `data` with the checksum of `variant`.
    public static func encode(hrp: String, data: [UInt8], variant: Variant) -> String {
        let hrpBytes = Array(hrp.lowercased().utf8)
        let mod = polymod(hrpExpand(hrpBytes) + data + [0, 0, 0, 0, 0, 0]) ^ variant.constant
        var out = hrpBytes + [UInt8(ascii: "1")]
        for d in data { out.append(charset[Int(d)]) }
        for i in 0..<6 { out.append(charset[Int((mod >> (5 * (5 - UInt32(i)))) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes and verifies a bech32 or bech32m string (max 90 characters, single case).
    public static func decode(_ string: String) -> Result<Decoded, DecodingError> {
        let bytes = Array(string.utf8)
        if bytes.count > 90 { return .failure(.tooLong(length: bytes.count)) }
        var hasLower = false
        var hasUpper = false
        for (i, c) in bytes.enumerated() {
            if c < 33 || c > 126 { return .failure(.invalidCharacter(position: i)) }
            if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { hasLower = true }
            if c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") { hasUpper = true }
        }
        if hasLower && hasUpper { return .failure(.mixedCase) }
        let lower = bytes.map { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) ? $0 + 32 : $0 }
        guard let sep = lower.lastIndex(of: UInt8(ascii: "1")) else { return .failure(.missingSeparator) }
        if sep == 0 { return .failure(.emptyHRP) }
        if lower.count - sep - 1 < 6 { return .failure(.tooShortChecksum) }
        var values: [UInt8] = []
        values.reserveCapacity(lower.count - sep - 1)
        for i in (sep + 1)..<lower.count {
            let v = charsetRev[Int(lower[i])]
            if v < 0 { return .failure(.invalidCharacter(position: i)) }
            values.append(UInt8(v))
        }
        let hrp = Array(lower[..<sep])
        let check = polymod(hrpExpand(hrp) + values)
        let variant: Variant
        switch check {
        case Variant.bech32.constant: variant = .bech32
        case Variant.bech32m.constant: variant = .bech32m
        default: return .failure(.invalidChecksum)
        }
        return .success(
            Decoded(hrp: String(decoding: hrp, as: UTF8.self), data: Array(values.dropLast(6)), variant: variant))
    }

    /// Regroups bits (e.g. 8→5 to encode, 5→8 to decode). Decoding (`pad == false`) fails
    /// on more than 4 leftover bits or nonzero padding.
    static func convertBits(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var acc = 0
        var bits = 0
        let maxv = (1 << to) - 1
        var out: [UInt8] = []
        out.reserveCapacity(data.count * from / to + 1)
        for value in data {
            if Int(value) >> from != 0 { return nil }
            acc = ((acc << from) | Int(value)) & ((1 << (from + to - 1)) - 1)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((acc >> bits) & maxv))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8((acc << (to - bits)) & maxv)) }
        } else if bits >= from || (acc << (to - bits)) & maxv != 0 {
            return nil
        }
        return out
    }

    /// Encodes a segwit address: bech32 for version 0, bech32m for versions 1–16.
    public static func encodeSegwit(hrp: String, version: UInt8, program: [UInt8]) -> String {
        let data = [version] + (convertBits(program, from: 8, to: 5, pad: true) ?? [])
        return encode(hrp: hrp, data: data, variant: version == 0 ? .bech32 : .bech32m)
    }
}
