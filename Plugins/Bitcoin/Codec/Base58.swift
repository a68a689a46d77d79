/// Base58 and Base58Check (Bitcoin alphabet; checksum = first 4 bytes of SHA256d).
public enum Base58 {
    static let alphabet: [UInt8] = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)

    /// Maps an ASCII byte to its digit value, or -1.
    static let digitValues: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    /// Encodes `bytes` (leading zero bytes become leading `1`s).
    public static func encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix { $0 == 0 }.count
        // log(256)/log(58) ≈ 1.37 digits per byte.
        var digits = [UInt8](repeating: 0, count: (bytes.count - zeros) * 138 / 100 + 1)
        var length = 0
        for byte in bytes[zeros...] {
            var carry = Int(byte)
            var i = 0
            var k = digits.count - 1
            while carry != 0 || i < length {
                carry += 256 * Int(digits[k])
                digits[k] = UInt8(carry % 58)
                carry /= 58
                i += 1
                k -= 1
            }
            length = i
        }
        var out = [UInt8](repeating: alphabet[0], count: zeros)
        for d in digits[(digits.count - length)...] { out.append(alphabet[Int(d)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a Base58 string; `nil` on a character outside the alphabet.
    public static func decode(_ string: String) -> [UInt8]? {
        let chars = Array(string.utf8)
        let ones = chars.prefix { $0 == alphabet[0] }.count
        // log(58)/log(256) ≈ 0.733 bytes per digit.
        var bytes = [UInt8](repeating: 0, count: (chars.count - ones) * 733 / 1000 + 1)
        var length = 0
        for c in chars[ones...] {
            let value = digitValues[Int(c)]
            guard value >= 0 else { return nil }
            var carry = Int(value)
            var i = 0
            var k = bytes.count - 1
            while carry != 0 || i < length {
                carry += 58 * Int(bytes[k])
                bytes[k] = UInt8(carry & 0xff)
                carry >>= 8
                i += 1
                k -= 1
            }
            length = i
        }
        return [UInt8](repeating: 0, count: ones) + bytes[(bytes.count - length)...]
    }

    /// Encodes `payload` followed by its 4-byte SHA256d checksum.
    public static func encodeCheck(_ payload: [UInt8]) -> String {
        encode(payload + checksum(payload))
    }

    /// Decodes Base58Check; `nil` on a bad character, fewer than 4 bytes or a wrong checksum.
    public static func decodeCheck(_ string: String) -> [UInt8]? {
        guard let raw = decode(string), raw.count >= 4 else { return nil }
        let payload = Array(raw.dropLast(4))
        guard checksum(payload) == Array(raw.suffix(4)) else { return nil }
        return payload
    }

    static func checksum(_ payload: [UInt8]) -> [UInt8] {
        Array(Hash256.sha256d(payload).internalBytes.prefix(4))
    }
}
