import BitcoinTesting
import JSONRPCClient
import Testing
import WatchCore
import WatchTesting

@testable import BitcoinPlugin

@Suite("Hostile input")
struct HostileInputTests {
    static let header = [UInt8](Fixtures.block413567.prefix(80))

    @Test("explicit malformed inputs throw the right error")
    func explicitCases() throws {
        #expect(throws: BitcoinParseError.truncated(offset: 0, needed: 80)) { try BlockParser.parse([]) }
        #expect(throws: BitcoinParseError.truncated(offset: 0, needed: 4)) { try TransactionParser.parse([]) }
        #expect(throws: BitcoinParseError.truncated(offset: 0, needed: 1)) {
            try BlockParser.parseHeader(Array(Self.header.dropLast()))
        }
        #expect(throws: BitcoinParseError.truncated(offset: 80, needed: 1)) { try BlockParser.parse(Self.header) }
        // Non-canonical CompactSize for the input count (1 encoded in 3, 5 and 9 bytes).
        let version: [UInt8] = [1, 0, 0, 0]
        for encoding: [UInt8] in [[0xfd, 0x01, 0x00], [0xfe, 0xff, 0xff, 0, 0], [0xff, 1, 0, 0, 0, 0, 0, 0, 0]] {
            #expect(throws: BitcoinParseError.nonCanonicalCompactSize(offset: 4)) {
                try TransactionParser.parse(version + encoding + [UInt8](repeating: 0, count: 64))
            }
        }
        // Smallest canonical forms are accepted as sizes (then the data runs out).
        #expect(throws: BitcoinParseError.truncated(offset: 7, needed: 36)) {
            try TransactionParser.parse(version + [0xfd, 0xfd, 0x00])
        }
        // MAX_SIZE itself is allowed; one more is "size too large".
        #expect(throws: BitcoinParseError.truncated(offset: 9, needed: 36)) {
            try TransactionParser.parse(version + [0xfe, 0x00, 0x00, 0x00, 0x02])
        }
        #expect(throws: BitcoinParseError.sizeTooLarge(value: 0x0200_0001, offset: 4)) {
            try TransactionParser.parse(version + [0xfe, 0x01, 0x00, 0x00, 0x02])
        }
        #expect(throws: BitcoinParseError.sizeTooLarge(value: UInt64.max, offset: 4)) {
            try TransactionParser.parse(version + [UInt8](repeating: 0xff, count: 9))
        }
        // Block transaction counts: zero, and more than the bytes could hold.
        #expect(throws: BitcoinParseError.noTransactions) { try BlockParser.parse(Self.header + [0]) }
        #expect(throws: BitcoinParseError.tooManyTransactions(count: 0x1_0000, maximum: 1)) {
            try BlockParser.parse(Self.header + [0xfe, 0x00, 0x00, 0x01, 0x00] + [UInt8](repeating: 0, count: 10))
        }
        // Trailing bytes after a full block.
        #expect(throws: BitcoinParseError.trailingBytes(count: 1)) {
            try BlockParser.parse(Fixtures.block413567 + [0])
        }
    }

    @Test("an error, log line or last_error carries an excerpt of what a node sent, never the whole reply")
    func errorsCarryAnExcerpt() {
        let huge = JSONValue.array(Array(repeating: .string("x"), count: 200_000))
        let bitcoin = BitcoinRPCError.malformed("getblockhash", Excerpt.of(json: huge)).description
        #expect(bitcoin == "malformed getblockhash reply from bitcoind: an array of 200000 items")
        let text = String(repeating: "y", count: 5_000_000)
        for error in [JSONRPCError.malformed(text), .http(status: 502, body: text), .rpc(code: -1, message: text, data: .string(text))] {
            #expect(error.description.utf8.count < 1_200, "\(error.description.prefix(100))")
            #expect(error.description.contains("(5000000 bytes in all)"))
        }
        #expect(Excerpt.of("é" + String(repeating: "é", count: 600)).hasSuffix("… (1202 bytes in all)"))
        #expect(Excerpt.of("short") == "short")
    }

    @Test("BIP144 flag handling: superfluous witness, unknown flags, empty vin")
    func witnessFlags() throws {
        let segwit = hex(segwitVectorHex)
        #expect(segwit[4] == 0 && segwit[5] == 1)
        // Unknown flag bits (flag 2: no witness read; flag 3: witness read, then bit 2 left).
        var flag2 = segwit
        flag2[5] = 2
        #expect(throws: BitcoinParseError.unknownOptionalData(flag: 2, offset: 0)) {
            try TransactionParser.parse(flag2)
        }
        var flag3 = segwit
        flag3[5] = 3
        #expect(throws: BitcoinParseError.unknownOptionalData(flag: 2, offset: 0)) {
            try TransactionParser.parse(flag3)
        }
        // Same transaction with an empty witness stack: "Superfluous witness record".
        let parsed = try TransactionParser.parse(segwit)
        let outputsEnd = parsed.outputs[0].scriptRange.upperBound
        let superfluous = Array(segwit[..<outputsEnd]) + [0x00] + Array(segwit.suffix(4))
        #expect(throws: BitcoinParseError.superfluousWitness(offset: 0)) { try TransactionParser.parse(superfluous) }
        // Core reads "version, 0x00, 0x00, locktime" as a transaction with no inputs and outputs.
        let empty = try TransactionParser.parse([2, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(empty.inputs.isEmpty && empty.outputs.isEmpty && !empty.hasWitness)
        #expect(empty.txid == Hash256.sha256d([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
    }

    enum Mutation: CaseIterable {
        case bitFlip, truncate, insert, delete, hugeCompactSize
    }

    /// Applies one seeded mutation. `sizeOffsets` are offsets of 1-byte CompactSizes.
    static func mutate(
        _ input: [UInt8], sizeOffsets: [Int], using rng: inout SeededGenerator
    ) -> (Mutation, [UInt8], Int) {
        var bytes = input
        let kind = Mutation.allCases.randomElement(using: &rng)!
        let position = Int.random(in: 0..<bytes.count, using: &rng)
        switch kind {
        case .bitFlip:
            bytes[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
        case .truncate:
            bytes.removeSubrange(position...)
        case .insert:
            let count = Int.random(in: 1...16, using: &rng)
            bytes.insert(contentsOf: (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: position)
        case .delete:
            bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...16, using: &rng)))
        case .hugeCompactSize:
            let at = sizeOffsets.randomElement(using: &rng) ?? position
            let huge: [UInt8] =
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: [0xff] + (0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) }
                case 1: [0xfe] + (0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) }
                default: [0xfd, 0xff, 0xff]
                }
            bytes.replaceSubrange(at...at, with: huge)
            return (kind, bytes, at)
        }
        return (kind, bytes, position)
    }

    /// Two thousand parses of a 1 MB block take half a minute of CPU in a debug build: they
    /// run on a thread of their own, off the concurrency pool (two threads on this machine),
    /// so the tests beside them are not starved; what they find is checked afterwards.
    @Test("seeded mutations of block 413567: parse or BitcoinParseError, parser and scanner agree")
    func mutateBlock() async throws {
        let (problems, parsedCount, failures) = try await offThePool { Self.mutateBlockFindings() }
        #expect(problems.isEmpty, "\(problems.prefix(20))")
        #expect(parsedCount < 50)
        #expect(failures.count >= 3, "\(failures)")
    }

    /// Every disagreement or wrong outcome of the block mutations, how many parsed, and the
    /// kinds of parse error seen.
    static func mutateBlockFindings() -> (problems: [String], parsed: Int, failures: [String: Int]) {
        let original = Fixtures.block413567
        let block = Fixtures.parsedBlock413567
        var sizeOffsets = [80]
        for tx in block.transactions {
            for output in tx.outputs where output.scriptRange.count < 0xfd {
                sizeOffsets.append(output.scriptRange.lowerBound - 1)
            }
        }
        var rng = SeededGenerator(seed: 413_567)
        let watch = WatchScriptSet(network: .mainnet)
        var parsedCount = 0
        var failures: [String: Int] = [:]
        var problems: [String] = []
        for _ in 0..<2000 {
            let (kind, bytes, position) = Self.mutate(original, sizeOffsets: sizeOffsets, using: &rng)
            var parserOutcome: Result<ParsedBlock, BitcoinParseError>
            do { parserOutcome = .success(try BlockParser.parse(bytes)) } catch { parserOutcome = .failure(error) }
            var scanOutcome: Result<BlockScanResult, BitcoinParseError>
            do { scanOutcome = .success(try BlockScanner.scan(block: bytes, watching: watch)) } catch {
                scanOutcome = .failure(error)
            }
            switch (parserOutcome, scanOutcome) {
            case (.success(let parsed), .success(let scanned)):
                parsedCount += 1
                if parsed.hash != scanned.blockHash { problems.append("\(kind) at \(position): hashes differ") }
                if parsed.transactions.reduce(0, { $0 + $1.outputs.count }) != scanned.outputCount {
                    problems.append("\(kind) at \(position): output counts differ")
                }
                // Only header fields other than the merkle root can change and still verify.
                if !(kind == .bitFlip && position < 80 && !(36..<68).contains(position)) {
                    problems.append("\(kind) at \(position) parsed")
                }
            case (.failure(let a), .failure(let b)):
                if a != b { problems.append("\(kind) at \(position): parser says \(a), scanner \(b)") }
                failures[String(describing: a).prefix { $0 != "(" }.description, default: 0] += 1
            default:
                problems.append("parser and scanner disagree on \(kind) at \(position)")
            }
            if kind == .truncate, case .success = parserOutcome { problems.append("a truncated block parsed") }
        }
        return (problems, parsedCount, failures)
    }

    @Test("seeded mutations of transaction fixtures: parse or BitcoinParseError")
    func mutateTransactions() throws {
        let root = try #require(try Fixtures.json("bitcoinjs-transaction.json") as? [String: Any])
        let valid = try #require(root["valid"] as? [[String: Any]])
        var corpus = [hex(segwitVectorHex)]
        for entry in valid {
            corpus.append(hex(try #require(entry.string("hex"))))
            if let whex = entry.string("whex"), !whex.isEmpty { corpus.append(hex(whex)) }
        }
        var rng = SeededGenerator(seed: 20_160_523)
        let watch = WatchScriptSet(network: .mainnet)
        var parsedCount = 0
        var rejected = 0
        for round in 0..<2000 {
            let original = corpus[round % corpus.count]
            let (kind, bytes, position) = Self.mutate(original, sizeOffsets: [4], using: &rng)
            let parsed: ParsedTransaction?
            do { parsed = try TransactionParser.parse(bytes) } catch { parsed = nil }
            let scanned: TransactionScanResult?
            do { scanned = try BlockScanner.scan(transaction: bytes, watching: watch) } catch { scanned = nil }
            #expect((parsed == nil) == (scanned == nil), "\(kind) at \(position)")
            if let parsed, let scanned {
                parsedCount += 1
                #expect(parsed.txid == scanned.txid && parsed.wtxid == scanned.wtxid)
                #expect(parsed.byteRange == 0..<bytes.count)
            } else {
                rejected += 1
            }
            if kind == .truncate {
                #expect(parsed == nil, "truncation at \(position) of \(original.count) bytes parsed")
            }
        }
        #expect(parsedCount > 100)
        #expect(rejected > 500)
    }

    /// A node reply larger than its method can legitimately be is refused before it is parsed,
    /// with a short error; the same method answers again once the node behaves.
    @Test func repliesAreCappedPerMethod() async throws {
        let double = try await BitcoindDouble.start()
        let node = try RPCBitcoinNode(configuration: try BitcoinAdapterTests.config(double))
        _ = try await node.chainInfo()
        double.padReplies("getblockchaininfo", bytes: 2 << 20)  // 2 MiB: fine for the client's cap, not for this method
        do {
            _ = try await node.chainInfo()
            Issue.record("a 2 MiB getblockchaininfo reply was taken")
        } catch {
            #expect("\(error)".contains("reply larger than 1048576 bytes") && "\(error)".utf8.count < 600, "\(error)")
        }
        double.padReplies("getblockchaininfo", bytes: nil)
        #expect(try await node.chainInfo().blocks >= 0)
        // A block (REST and RPC) may be a few MiB: not refused for its size.
        double.mine(1)
        let hash = try #require(try await node.blockHash(height: 1))
        double.padReplies("getblockhash", bytes: 100 << 10)
        await #expect(throws: (any Error).self) { _ = try await node.blockHash(height: 1) }
        double.padReplies("getblockhash", bytes: nil)
        #expect(try await node.rawBlock(hash: hash).count > 80)
    }
}
