import Testing
import WatchTesting

@testable import BitcoinPlugin

@Suite("Scanner")
struct ScannerTests {
    @Test("scanning block 413567 finds exactly the outputs paying to watched addresses")
    func scanFindsWatchedOutputs() throws {
        let bytes = Fixtures.block413567
        let block = Fixtures.parsedBlock413567
        // Pick addressable output scripts spread over the block.
        var watchedScripts: [[UInt8]] = []
        var addresses: [String] = []
        for tx in stride(from: 3, to: block.transactions.count, by: 151).map({ block.transactions[$0] }) {
            let script = Array(bytes[tx.outputs[0].scriptRange])
            guard let address = AddressCodec.address(forScript: script, network: .mainnet),
                !watchedScripts.contains(script)
            else { continue }
            watchedScripts.append(script)
            addresses.append(address)
        }
        #expect(watchedScripts.count >= 8)
        var set = WatchScriptSet(network: .mainnet)
        for (i, address) in addresses.enumerated() { try set.insert(address: address, tag: UInt32(i)) }
        #expect(set.count == addresses.count)

        // Independent expectation: compare every output script byte-for-byte.
        var expected: [(txid: Hash256, vout: UInt32, value: Int64, index: Int)] = []
        for tx in block.transactions {
            for (vout, output) in tx.outputs.enumerated() {
                if let index = watchedScripts.firstIndex(where: { $0[...] == bytes[output.scriptRange] }) {
                    expected.append((tx.txid, UInt32(vout), output.value, index))
                }
            }
        }
        let result = try BlockScanner.scan(block: bytes, watching: set)
        #expect(result.blockHash.displayHex == "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069")
        #expect(result.transactionCount == 1557)
        #expect(result.outputCount == 3581)
        #expect(result.matches.count == expected.count)
        #expect(result.matches.count >= watchedScripts.count)
        for (match, want) in zip(result.matches, expected) {
            #expect(match.txid == want.txid)
            #expect(match.vout == want.vout)
            #expect(match.valueSats == want.value)
            #expect(match.tag == UInt32(want.index))
            #expect(match.address == addresses[want.index])
        }
        #expect(result.spentOutpoints.isEmpty)
    }

    @Test("scan without watches counts everything; spent outpoints on request")
    func scanCounts() throws {
        let block = Fixtures.parsedBlock413567
        let empty = WatchScriptSet(network: .mainnet)
        let result = try BlockScanner.scan(block: Fixtures.block413567, watching: empty, collectSpentOutpoints: true)
        #expect(result.matches.isEmpty)
        #expect(result.outputCount == 3581)
        let spends = block.transactions.dropFirst().flatMap { $0.inputs.map(\.outpoint) }
        #expect(result.spentOutpoints == spends)
        #expect(result.header == block.header)
    }

    @Test("scanning one transaction returns ids, matches and spent outpoints")
    func scanTransaction() throws {
        var set = WatchScriptSet(network: .mainnet)
        let p2sh = hex("a9140f3444e271620c736808aa7b33e370bd87cb5a0787")
        let inserted = set.insert(script: p2sh, tag: 7)
        #expect(inserted)
        let result = try BlockScanner.scan(transaction: hex(segwitVectorHex), watching: set)
        #expect(result.txid.displayHex == "f5864806e3565c34d1b41e716f72609d00b55ea5eac5b924c9719a842ef42206")
        #expect(result.wtxid.displayHex == "80b7d8a82d5d5bf92905b06f2014dd699e03837ca172e3a59d51426ebbe3e7f5")
        #expect(result.hasWitness)
        #expect(result.outputCount == 1)
        let expectedAddress = AddressCodec.address(forScript: p2sh, network: .mainnet)
        #expect(expectedAddress?.hasPrefix("3") == true)
        #expect(
            result.matches == [
                OutputMatch(txid: result.txid, vout: 0, valueSats: 506_078, address: expectedAddress ?? "", tag: 7)
            ])
        let prev = try #require(Hash256(displayHex: "7cac3cf9a112cf04901a51d605058615d56ffe6d04b45270e89d1720ea955859"))
        #expect(result.spentOutpoints == [OutPoint(txid: prev, vout: 1)])
        #expect(throws: BitcoinParseError.trailingBytes(count: 1)) {
            try BlockScanner.scan(transaction: hex(segwitVectorHex) + [0], watching: set)
        }
    }

    @Test("watch set: keys are inline, non-address and long scripts are never watched")
    func watchSet() throws {
        var set = WatchScriptSet(network: .regtest, capacity: 16)
        let p2pk = hex("2102" + String(repeating: "11", count: 32) + "ac")
        let insertedP2PK = set.insert(script: p2pk, tag: 1)
        #expect(!insertedP2PK)
        let v16 = [0x60, 40] + [UInt8](repeating: 0xab, count: 40)
        let insertedV16 = set.insert(script: v16, tag: 2)
        #expect(insertedV16)
        #expect(set.tag(forScript: v16) == 2)
        #expect(ScriptKey(v16)?.bytes == v16)
        #expect(ScriptKey(v16 + [0]) == nil)
        let address = try set.insert(
            address: "bcrt1qjh3dnrafy8f2zszh5sdqn6c3ycfljh930yza9nt72v30dkw8mlvscn82zx", tag: 3)
        #expect(set.tag(forScript: address) == 3)
        #expect(set.tag(forScript: Array(address.dropLast())) == nil)
        #expect(throws: AddressError.self) {
            try set.insert(address: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", tag: 4)
        }
        #expect(set.count == 2)
        set.remove(script: v16)
        #expect(!set.contains(script: v16))
        #expect(set.count == 1)
    }

    @Test("watch set grows past its prefilter size and still finds every script")
    func watchSetGrowth() throws {
        var set = WatchScriptSet(network: .mainnet)
        var rng = SeededGenerator(seed: 42)
        var scripts: [[UInt8]] = []
        for i in 0..<5000 {
            let hash = (0..<(i % 2 == 0 ? 20 : 32)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let script = [0x00, UInt8(hash.count)] + hash
            let inserted = set.insert(script: script, tag: UInt32(i))
            #expect(inserted)
            scripts.append(script)
        }
        #expect(set.count == 5000)
        for (i, script) in scripts.enumerated() {
            let found = script.withUnsafeBytes { set.tag(forScript: $0.baseAddress!, count: $0.count) }
            #expect(found == UInt32(i))
        }
        var misses = 0
        for _ in 0..<5000 {
            let other = [0x00, 20] + (0..<20).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if other.withUnsafeBytes({ set.tag(forScript: $0.baseAddress!, count: $0.count) }) == nil { misses += 1 }
        }
        #expect(misses == 5000)
        set.reserveCapacity(100_000)
        #expect(scripts.allSatisfy { set.contains(script: $0) })
        #expect(set.tag(forScript: scripts[4999]) == 4999)
    }
}
