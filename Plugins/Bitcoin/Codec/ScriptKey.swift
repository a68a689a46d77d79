/// A scriptPubKey of at most 42 bytes held inline (no heap), usable as a dictionary key.
///
/// 42 bytes is the longest script any address produces (witness v1–16 with a 40-byte program).
public struct ScriptKey: Hashable, Sendable {
    /// Longest script a key can hold.
    public static let maxLength = 42

    // 48 bytes of zero-padded script, then its length.
    @usableFromInline var w0: UInt64
    @usableFromInline var w1: UInt64
    @usableFromInline var w2: UInt64
    @usableFromInline var w3: UInt64
    @usableFromInline var w4: UInt64
    @usableFromInline var tail: UInt16
    @usableFromInline var length: UInt8

    /// Builds a key from raw script bytes; `nil` if longer than `maxLength`.
    @inline(__always)
    public init?(_ script: UnsafeRawPointer, count: Int) {
        guard count <= ScriptKey.maxLength else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { dst in
            dst.baseAddress!.copyMemory(from: script, byteCount: count)
        }
        w0 = words.0
        w1 = words.1
        w2 = words.2
        w3 = words.3
        w4 = words.4
        tail = UInt16(truncatingIfNeeded: words.5)
        length = UInt8(count)
    }

    /// Builds a key from script bytes; `nil` if longer than `maxLength`.
    public init?(_ script: [UInt8]) {
        guard
            let key = script.withUnsafeBytes({
                ScriptKey($0.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10)!, count: $0.count)
            })
        else { return nil }
        self = key
    }

    @inline(__always)
    public func hash(into hasher: inout Hasher) {
        // Scripts differ mostly in their hash bytes (w0...w3); the rest is template constant.
        hasher.combine(w0)
        hasher.combine(w1)
        hasher.combine(w2)
        hasher.combine(w3)
        hasher.combine(w4)
        hasher.combine(UInt32(tail) | UInt32(length) << 16)
    }

    /// A cheap, unkeyed 64-bit mix used only by the watch set's prefilter bitmap
    /// (the dictionary behind it uses the standard seeded hasher).
    @inline(__always)
    var filterHash: UInt64 {
        var h = (w0 ^ UInt64(length)) &* 0x9E37_79B9_7F4A_7C15
        h ^= w1 &* 0xC2B2_AE3D_27D4_EB4F
        h ^= (w2 ^ w3) &* 0x1656_67B1_9E37_79F9
        h ^= h >> 29
        return h &* 0xFF51_AFD7_ED55_8CCD
    }

    /// The script bytes.
    public var bytes: [UInt8] {
        var words = (w0, w1, w2, w3, w4, UInt64(tail))
        return withUnsafeBytes(of: &words) { Array($0.prefix(Int(length))) }
    }
}
