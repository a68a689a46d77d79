import CSHA256

/// The 80-byte block header plus its hash.
public struct BlockHeader: Hashable, Sendable {
    /// Size of a serialized header.
    public static let size = 80

    public var version: Int32
    public var previousBlockHash: Hash256
    public var merkleRoot: Hash256
    /// Block time, seconds since the Unix epoch.
    public var time: UInt32
    /// Compact difficulty target (`nBits`).
    public var bits: UInt32
    public var nonce: UInt32
    /// SHA256d of the 80 header bytes.
    public var hash: Hash256
}

/// A fully deserialized block.
public struct ParsedBlock: Hashable, Sendable {
    public var header: BlockHeader
    /// All transactions in block order; byte ranges are relative to the block buffer.
    public var transactions: [ParsedTransaction]

    /// The block hash (same as `header.hash`).
    public var hash: Hash256 { header.hash }
}

/// Merkle root over txids the way Bitcoin Core computes it (odd levels duplicate the last node).
public enum MerkleTree {
    /// Computes the root, reusing `hashes` as scratch space. `hashes` must not be empty.
    static func root(_ hashes: inout [Hash256]) -> Hash256 {
        var count = hashes.count
        precondition(count > 0, "merkle root of an empty list")
        precondition(MemoryLayout<Hash256>.size == 32 && MemoryLayout<Hash256>.stride == 32)
        hashes.withUnsafeMutableBufferPointer { level in
            while count > 1 {
                let pairs = count / 2
                #if _endian(little)
                // A Hash256 is its 32 internal-order bytes in memory on little-endian hosts, so a
                // level is a run of 64-byte (left || right) nodes: hash them all in one C call,
                // in place (node i is written only after nodes 2i and 2i+1 were read).
                let raw = UnsafeMutableRawPointer(level.baseAddress!).assumingMemoryBound(to: UInt8.self)
                csha256d_64_many(raw, raw, pairs)
                #else
                for i in 0..<pairs { level[i] = Hash256.merkleParent(level[2 * i], level[2 * i + 1]) }
                #endif
                if count & 1 == 1 {
                    // Odd level: Core pairs the last node with itself.
                    let last = level[count - 1]
                    level[pairs] = Hash256.merkleParent(last, last)
                }
                count = (count + 1) / 2
            }
        }
        return hashes[0]
    }

    /// Computes the root of `txids` without modifying them.
    public static func root(of txids: [Hash256]) -> Hash256 {
        var scratch = txids
        return root(&scratch)
    }
}
