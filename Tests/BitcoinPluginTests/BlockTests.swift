import Testing

@testable import BitcoinPlugin

@Suite("Blocks")
struct BlockTests {
    @Test("block 413567: hash, merkle root, 1557 txs, 3581 outputs")
    func block413567() throws {
        let block = try BlockParser.parse(Fixtures.block413567)
        #expect(block.hash.displayHex == "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069")
        #expect(
            block.header.merkleRoot.displayHex == "64a50c649fc816baaa2effda230c39cacf1504e4e616a2863685b72aaa7dce05")
        #expect(block.transactions.count == 1557)
        #expect(block.transactions.reduce(0) { $0 + $1.outputs.count } == 3581)
        #expect(block.transactions[0].isCoinbase)
        #expect(block.transactions.dropFirst().allSatisfy { !$0.isCoinbase && !$0.hasWitness })
        #expect(block.transactions.last?.byteRange.upperBound == Fixtures.block413567.count)
        #expect(MerkleTree.root(of: block.transactions.map(\.txid)) == block.header.merkleRoot)
    }

    @Test("corrupting one transaction byte fails the merkle check")
    func corruptedTransaction() throws {
        let parsed = Fixtures.parsedBlock413567
        var bytes = Fixtures.block413567
        // Flip the top byte of an output value in the middle of the block: the structure stays valid.
        let output = parsed.transactions[777].outputs[0]
        let valueByte = output.scriptRange.lowerBound - 2
        bytes[valueByte] ^= 0x40
        let reparsed = try BlockParser.parse(bytes, verifyMerkleRoot: false)
        #expect(reparsed.transactions[777].txid != parsed.transactions[777].txid)
        #expect(reparsed.transactions[776].txid == parsed.transactions[776].txid)
        let expected = parsed.header.merkleRoot
        let computed = MerkleTree.root(of: reparsed.transactions.map(\.txid))
        #expect(computed != expected)
        #expect(throws: BitcoinParseError.merkleRootMismatch(expected: expected, computed: computed)) {
            try BlockParser.parse(bytes)
        }
        #expect(throws: BitcoinParseError.merkleRootMismatch(expected: expected, computed: computed)) {
            try BlockScanner.scan(block: bytes, watching: WatchScriptSet(network: .mainnet))
        }
    }

    @Test("Bitcoin Core blocks give their ids and tx counts, merkle verified")
    func coreBlocks() throws {
        let entries = try #require(try Fixtures.json("core-blocks.json") as? [[String: Any]])
        #expect(entries.count == 5)
        for entry in entries {
            let block = try BlockParser.parse(hex(try #require(entry.string("hex"))))
            #expect(block.hash.displayHex == entry.string("id"))
            #expect(block.transactions.count == entry["transactions"] as? Int)
        }
    }

    @Test("bitcoinjs blocks give their ids and merkle roots")
    func bitcoinjsBlocks() throws {
        let root = try #require(try Fixtures.json("bitcoinjs-block.json") as? [String: Any])
        let valid = try #require(root["valid"] as? [[String: Any]])
        var fullBlocks = 0
        for entry in valid {
            let bytes = hex(try #require(entry.string("hex")))
            let header = try BlockParser.parseHeader(bytes)
            #expect(header.hash.displayHex == entry.string("id"))
            #expect(header.hash.internalHex == entry.string("hash"))
            #expect(header.merkleRoot.internalHex == entry.string("merkleRoot"))
            #expect(header.previousBlockHash.internalHex == entry.string("prevHash"))
            #expect(Int(header.version) == entry["version"] as? Int)
            #expect(Int(header.time) == entry["timestamp"] as? Int)
            #expect(Int(header.bits) == entry["bits"] as? Int)
            #expect(Int(header.nonce) == entry["nonce"] as? Int)
            guard bytes.count > BlockHeader.size else { continue }
            let block = try BlockParser.parse(bytes)
            #expect(block.hash.displayHex == entry.string("id"))
            #expect(block.header.merkleRoot.internalHex == entry.string("merkleRoot"))
            fullBlocks += 1
        }
        #expect(fullBlocks == 5)
        let invalid = try #require(root["invalid"] as? [[String: Any]])
        for entry in invalid {
            let bytes = hex(try #require(entry.string("hex")))
            #expect(throws: BitcoinParseError.truncated(offset: 0, needed: 80 - bytes.count)) {
                try BlockParser.parseHeader(bytes)
            }
        }
    }

    @Test("segwit block 542213 has witness transactions and verifies")
    func segwitBlock() throws {
        let root = try #require(try Fixtures.json("bitcoinjs-block.json") as? [String: Any])
        let valid = try #require(root["valid"] as? [[String: Any]])
        let entry = try #require(valid.first { $0.string("description") == "Block with witness commit" })
        let block = try BlockParser.parse(hex(try #require(entry.string("hex"))))
        #expect(block.transactions.contains { $0.hasWitness })
        #expect(block.transactions[0].isCoinbase)
        #expect(block.hash.displayHex == "000000000000000000143a2c56c0214236dadfd30df41d4a0345492ad6d861ec")
    }

    @Test("mainnet and regtest genesis headers hash as in the reference")
    func genesisHeaders() throws {
        let prefix =
            "01000000" + String(repeating: "00", count: 32)
            + "3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a"
        let mainnet = try BlockParser.parseHeader(hex(prefix + "29ab5f49" + "ffff001d" + "1dac2b7c"))
        #expect(mainnet.hash.displayHex == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
        #expect(mainnet.time == 1_231_006_505)
        #expect(mainnet.bits == 0x1d00_ffff)
        #expect(mainnet.previousBlockHash == .zero)
        let regtest = try BlockParser.parseHeader(hex(prefix + "dae5494d" + "ffff7f20" + "02000000"))
        #expect(regtest.hash.displayHex == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")
        #expect(regtest.time == 1_296_688_602)
        #expect(regtest.nonce == 2)
    }
}
