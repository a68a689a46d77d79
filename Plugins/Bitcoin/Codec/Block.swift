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
        hashes.withUnsafeMutableBufferPointer { level in
            while count > 1 {
                var write = 0
                var read = 0
                while read < count {
                    let left = level[read]
                    let right = read + 1 < count ? level[read + 1] : left
                    level[write] = Hash256.merkleParent(left, right)
                    write += 1
                    read += 2
                }
                count = write
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
