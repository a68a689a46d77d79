import CSHA256
import Crypto
import Testing
import WatchCore
import WatchTesting

@testable import BitcoinPlugin

/// CSHA256 (SHA-NI or portable C) against NIST vectors and swift-crypto.
///
/// Serialized because `csha256_force_portable` is process-wide: cases that force the portable
/// path must not interleave with cases that expect auto-detection. (Other suites running at the
/// same time are unaffected in results: both implementations compute the same digests.)
@Suite("CSHA256", .serialized)
struct SHA256Tests {
    /// Runs `body` with the portable implementation forced (or with auto-detection).
    static func with(portable: Bool, _ body: () throws -> Void) rethrows {
        csha256_force_portable(portable ? 1 : 0)
        defer { csha256_force_portable(0) }
        if portable { #expect(csha256_using_shani() == 0) }
        try body()
    }

    static func oneShot(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBufferPointer { csha256($0.baseAddress, $0.count, &out) }
        return out
    }

    static func oneShotDouble(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBufferPointer { csha256d($0.baseAddress, $0.count, &out) }
        return out
    }

    /// Incremental hash fed in the given piece sizes (which must sum to `bytes.count`).
    static func incremental(_ bytes: [UInt8], splits: [Int], double: Bool = false) -> [UInt8] {
        var context = csha256_ctx()
        csha256_init(&context)
        var offset = 0
        bytes.withUnsafeBufferPointer { buffer in
            for size in splits {
                csha256_update(&context, buffer.baseAddress.map { $0 + offset }, size)
                offset += size
            }
        }
        var out = [UInt8](repeating: 0, count: 32)
        if double { csha256d_final(&context, &out) } else { csha256_final(&context, &out) }
        return out
    }

    /// Random split of `count` into pieces (including empty ones).
    static func randomSplits(_ count: Int, using rng: inout some RandomNumberGenerator) -> [Int] {
        var splits: [Int] = []
        var left = count
        while left > 0 {
            let size = Int.random(in: 0...min(left, 130), using: &rng)
            splits.append(size)
            left -= size
        }
        splits.append(0)
        return splits
    }

    static let nist: [(message: [UInt8], digest: String)] = [
        (Array("".utf8), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            Array(
                ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                    + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu").utf8),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
        (
            [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        ),
    ]

    @Test("NIST vectors, one-shot and incremental", arguments: [false, true])
    func nistVectors(portable: Bool) {
        Self.with(portable: portable) {
            for (message, digest) in Self.nist {
                #expect(Hex.encode(Self.oneShot(message)) == digest, "one-shot, \(message.count) bytes")
                // Incremental in 1000-byte pieces (a million 'a' the way FIPS 180-2 states it).
                let pieces = Array(repeating: 1000, count: message.count / 1000) + [message.count % 1000]
                #expect(Hex.encode(Self.incremental(message, splits: pieces)) == digest, "incremental, \(message.count) bytes")
            }
        }
    }

    @Test("matches swift-crypto for random lengths 0...300 (seeded), random splits", arguments: [false, true])
    func matchesSwiftCrypto(portable: Bool) {
        Self.with(portable: portable) {
            var rng = SeededGenerator(seed: 0x5348_4132_3536)
            for length in 0...300 {
                for _ in 0..<3 {
                    let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    let expected = Array(SHA256.hash(data: bytes))
                    let expectedDouble = Array(SHA256.hash(data: expected))
                    #expect(Self.oneShot(bytes) == expected, "csha256, length \(length)")
                    #expect(Self.oneShotDouble(bytes) == expectedDouble, "csha256d, length \(length)")
                    let splits = Self.randomSplits(length, using: &rng)
                    #expect(Self.incremental(bytes, splits: splits) == expected, "incremental \(splits)")
                    #expect(Self.incremental(bytes, splits: splits, double: true) == expectedDouble, "incremental d \(splits)")
                    #expect(Hash256.sha256d(bytes).internalBytes == expectedDouble)
                }
            }
        }
    }

    @Test("64-byte merkle nodes: csha256d_64 and in-place csha256d_64_many", arguments: [false, true])
    func merkleNodes(portable: Bool) {
        Self.with(portable: portable) {
            var rng = SeededGenerator(seed: 64)
            let count = 9
            let input = (0..<(64 * count)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var expected: [UInt8] = []
            for i in 0..<count {
                let node = Array(input[(64 * i)..<(64 * i + 64)])
                let digest = Array(SHA256.hash(data: Array(SHA256.hash(data: node))))
                var single = [UInt8](repeating: 0, count: 32)
                csha256d_64(node, &single)
                #expect(single == digest)
                expected += digest
            }
            var inPlace = input
            inPlace.withUnsafeMutableBufferPointer { csha256d_64_many($0.baseAddress, $0.baseAddress, count) }
            #expect(Array(inPlace[0..<(32 * count)]) == expected)
            // Merkle root of an odd-length list, both paths.
            let leaves = (0..<7).map { i in Hash256.sha256d([UInt8(i)]) }
            var level = leaves
            while level.count > 1 {
                if level.count % 2 == 1 { level.append(level[level.count - 1]) }
                level = stride(from: 0, to: level.count, by: 2).map { i in
                    Hash256.sha256d(level[i].internalBytes + level[i + 1].internalBytes)
                }
            }
            #expect(MerkleTree.root(of: leaves) == level[0])
        }
    }

    @Test("block 413567 merkle root and txids with the portable path forced")
    func blockWithPortable() throws {
        try Self.with(portable: true) {
            let block = try BlockParser.parse(Fixtures.block413567)
            #expect(block.hash.displayHex == "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069")
            #expect(MerkleTree.root(of: block.transactions.map(\.txid)) == block.header.merkleRoot)
        }
    }
}
