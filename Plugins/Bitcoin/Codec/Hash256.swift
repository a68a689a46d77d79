import CSHA256
#if canImport(WatchCore)
    import WatchCore  // Hex (scripts/fuzz compiles the codec with Hex.swift beside it instead)
#endif

#if canImport(Crypto)
import Crypto
#endif

/// A 32-byte hash (txid, wtxid, block hash, merkle root) stored in internal byte order.
///
/// `displayHex` is the byte-reversed hex used by bitcoind's RPC and explorers.
public struct Hash256: Hashable, Sendable, CustomStringConvertible {
    /// The bytes in internal order, as four little-endian 64-bit words.
    /// (MerkleTree hashes `[Hash256]` in place as raw bytes: keep exactly these four stored words.)
    @usableFromInline var w0: UInt64
    @usableFromInline var w1: UInt64
    @usableFromInline var w2: UInt64
    @usableFromInline var w3: UInt64

    /// The all-zero hash (e.g. a coinbase input's previous txid, the genesis previous block).
    public static let zero = Hash256(w0: 0, w1: 0, w2: 0, w3: 0)

    @inlinable init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Reads 32 bytes in internal order at `pointer`.
    @inlinable init(loadingFrom pointer: UnsafeRawPointer) {
        w0 = UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
        w1 = UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Creates a hash from exactly 32 bytes in internal order; `nil` for any other length.
    public init?(internalBytes bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        let array = Array(bytes)
        self = array.withUnsafeBytes { Hash256(loadingFrom: $0.baseAddress!) }
    }

    /// Creates a hash from 64 hex digits in display (byte-reversed) order; `nil` if malformed.
    public init?(displayHex: String) {
        guard let bytes = Hex.decode(displayHex), bytes.count == 32 else { return nil }
        self.init(internalBytes: bytes.reversed())
    }

    #if canImport(Crypto)
    /// Creates a hash from a swift-crypto SHA-256 digest (internal order is the digest's byte order).
    public init(digest: SHA256.Digest) {
        self = digest.withUnsafeBytes { Hash256(loadingFrom: $0.baseAddress!) }
    }
    #endif

    /// Runs `body` with a 32-byte scratch buffer for a C digest and reads the hash from it.
    @inline(__always)
    static func receiving(_ body: (UnsafeMutablePointer<UInt8>) -> Void) -> Hash256 {
        var out: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &out) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
            return Hash256(loadingFrom: UnsafeRawPointer(raw.baseAddress!))
        }
    }

    /// The 32 bytes in internal (serialization) order.
    public var internalBytes: [UInt8] {
        var copy = self
        return withUnsafeBytes(of: &copy) { raw in
            // Words are stored little-endian in memory on every supported platform.
            var out = [UInt8](repeating: 0, count: 32)
            for i in 0..<4 {
                let word = raw.load(fromByteOffset: i * 8, as: UInt64.self)
                for b in 0..<8 { out[i * 8 + b] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(b))) }
            }
            return out
        }
    }

    /// Hex of the byte-reversed hash, as printed by bitcoind (`getblockhash`, `txid`).
    public var displayHex: String {
        Hex.encode(internalBytes.reversed())
    }

    /// Hex in internal byte order.
    public var internalHex: String {
        Hex.encode(internalBytes)
    }

    public var description: String { displayHex }

    /// Double SHA-256 of `buffer` (CSHA256: SHA-NI when the CPU has it, portable C otherwise).
    public static func sha256d(_ buffer: UnsafeRawBufferPointer) -> Hash256 {
        receiving { out in
            csha256d(buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count, out)
        }
    }

    /// Double SHA-256 of `bytes`.
    public static func sha256d(_ bytes: [UInt8]) -> Hash256 {
        bytes.withUnsafeBytes { sha256d($0) }
    }

    /// SHA256d of the 64-byte concatenation `left || right` (a merkle tree node).
    static func merkleParent(_ left: Hash256, _ right: Hash256) -> Hash256 {
        var pair = (
            left.w0.littleEndian, left.w1.littleEndian, left.w2.littleEndian, left.w3.littleEndian,
            right.w0.littleEndian, right.w1.littleEndian, right.w2.littleEndian, right.w3.littleEndian
        )
        return withUnsafeBytes(of: &pair) { raw in
            receiving { out in csha256d_64(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), out) }
        }
    }
}

