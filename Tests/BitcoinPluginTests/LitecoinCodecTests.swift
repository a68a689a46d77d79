import Foundation
import Testing
import WatchCore

@testable import BitcoinPlugin

/// Litecoin blocks and transactions from a real litecoind 0.21.2.1 (Fixtures/litecoin, see its
/// PROVENANCE.md), parsed with the same txids and outputs as `getblock <hash> 2` reports.
@Suite struct LitecoinCodecTests {
    static let regtest = UTXOChainParameters.litecoin.network("regtest")!.format

    static func url(_ name: String) -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/litecoin") else {
            fatalError("missing fixture \(name)")
        }
        return url
    }

    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(name))) as? [String: Any] ?? [:]
    }

    static func blockBytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: url(name + ".hex"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return try #require(Hex.decode(text))
    }

    static let blocks = ["pre-activation-block", "activation-pegin-block", "hogex-empty-block", "hogex-block", "reorg-replacement-block", "mweb-to-mweb-block"]

    /// Every transaction's txid, wtxid and outputs (value, script) as the node reports them; the
    /// merkle root checks the txids (HogEx included).
    @Test(arguments: blocks)
    func blocksParseAsTheNodeReportsThem(_ name: String) throws {
        let bytes = try Self.blockBytes(name)
        let node = try Self.json(name + ".json")
        let block = try BlockParser.parse(bytes, verifyMerkleRoot: true, mweb: true)
        #expect(block.header.hash.displayHex == node["hash"] as? String)
        let txs = node["tx"] as? [[String: Any]] ?? []
        #expect(block.transactions.count == txs.count)
        for (parsed, reported) in zip(block.transactions, txs) {
            #expect(parsed.txid.displayHex == reported["txid"] as? String)
            #expect(parsed.wtxid.displayHex == reported["hash"] as? String)
            let vout = reported["vout"] as? [[String: Any]] ?? []
            #expect(parsed.outputs.count == vout.count)
            for (output, expected) in zip(parsed.outputs, vout) {
                let script = (expected["scriptPubKey"] as? [String: Any])?["hex"] as? String
                #expect(Hex.encode(bytes[output.scriptRange]) == script)
                #expect(Decimal(output.value) / 100_000_000 == Decimal(string: "\(expected["value"] ?? "")"))
            }
        }
        let mweb = node["mweb"] != nil
        #expect(block.transactions.last?.isHogEx == mweb, "the last transaction is a HogEx exactly when the block has MWEB data")
        #expect(block.transactions.dropLast().allSatisfy { !$0.isHogEx })
    }

    /// The peg-out block: the HogEx's outputs after the first pay the two ordinary addresses,
    /// found by the scanner with the HogEx's txid and the exact amounts.
    @Test func aPegOutIsAnOutputOfTheHogEx() throws {
        let bytes = try Self.blockBytes("hogex-block")
        let node = try Self.json("hogex-block.json")
        let hogEx = try #require((node["tx"] as? [[String: Any]])?.last)
        var watch = WatchScriptSet(format: Self.regtest)
        _ = try watch.insert(address: "rltc1qcyuvjl4ndk009fj8nqkpln0twk4qj6jd2a6t8m", tag: 1)
        _ = try watch.insert(address: "mrtDmFwhJ75eidViRGnfiUkEU3g8S5Vsy7", tag: 2)
        let scan = try BlockScanner.scan(block: bytes, watching: watch, mweb: true)
        #expect(scan.matches.map(\.txid.displayHex) == [hogEx["txid"] as? String, hogEx["txid"] as? String])
        #expect(scan.matches.map(\.valueSats) == [500_000_000, 300_000_000])
        #expect(scan.matches.map(\.address) == ["rltc1qcyuvjl4ndk009fj8nqkpln0twk4qj6jd2a6t8m", "mrtDmFwhJ75eidViRGnfiUkEU3g8S5Vsy7"])
    }

    /// What follows a HogEx is the MWEB block, walked field by field to its last byte (the
    /// layout the loose MWEB transactions share); without a HogEx, trailing bytes are refused.
    @Test(arguments: blocks.dropFirst())
    func theMWEBBlockAfterTheHogExIsWalkedToItsEnd(_ name: String) throws {
        let bytes = try Self.blockBytes(name)
        let block = try BlockParser.parse(bytes, verifyMerkleRoot: false, mweb: true)
        let end = try #require(block.transactions.last?.byteRange.upperBound)
        try bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer, offset: end)
            #expect(try reader.readUInt8() == 1, "the MWEB block's presence tag")
            try MWEBSkipper.skipBlock(&reader)
            #expect(reader.remaining == 0)
        }
        let plain = try Self.blockBytes("pre-activation-block")
        #expect(throws: BitcoinParseError.trailingBytes(count: 1)) { try BlockParser.parse(plain + [0x01], verifyMerkleRoot: false, mweb: true) }
        // Anything after the MWEB block, or a bad presence byte, is refused; so is MWEB data on
        // a chain without MWEB (Bitcoin refuses the 0x08 flag, as Bitcoin Core does).
        #expect(throws: BitcoinParseError.trailingBytes(count: 1)) { try BlockParser.parse(bytes + [0x00], verifyMerkleRoot: false, mweb: true) }
        var badPresence = bytes
        badPresence[end] = 0x02
        #expect(throws: BitcoinParseError.self) { try BlockParser.parse(badPresence, verifyMerkleRoot: false, mweb: true) }
        #expect(throws: BitcoinParseError.unknownOptionalData(flag: 8, offset: try #require(block.transactions.last?.byteRange.lowerBound))) {
            try BlockParser.parse(bytes, verifyMerkleRoot: false)
        }
    }

    /// Unconfirmed MWEB transactions as the node serves them: the peg-in (flag 0x09) keeps its
    /// txid and wtxid; the peg-out (MWEB only) has no ordinary input or output to watch.
    @Test func looseMWEBTransactionsAreWalkedPast() throws {
        let pegIn = try Self.json("pegin-tx-mempool.json")
        let parsed = try TransactionParser.parse(try #require(Hex.decode(pegIn["hex"] as? String ?? "")), mweb: true)
        #expect(parsed.hasMWEBTransaction && parsed.hasWitness)
        #expect(parsed.txid.displayHex == pegIn["txid"] as? String)
        #expect(parsed.wtxid.displayHex == pegIn["hash"] as? String)
        // `getrawtransaction` lists the MWEB outputs too (`ismweb`); the canonical ones are parsed.
        let canonical = (pegIn["vout"] as? [[String: Any]] ?? []).filter { $0["ismweb"] as? Bool != true }
        #expect(parsed.outputs.count == canonical.count && !canonical.isEmpty)

        let pegOut = try Self.json("pegout-tx-mempool.json")
        let mwebOnly = try TransactionParser.parse(try #require(Hex.decode(pegOut["hex"] as? String ?? "")), mweb: true)
        #expect(mwebOnly.hasMWEBTransaction && mwebOnly.inputs.isEmpty && mwebOnly.outputs.isEmpty)
    }

    /// Hostile MWEB data is refused with an error, never a crash: a tag other than 0 or 1, a
    /// HogEx without outputs, unknown kernel features.
    @Test func malformedMWEBDataIsRefused() throws {
        // version | 00 08 | 1 input | 1 output | tag | locktime
        let input = [UInt8](repeating: 0x11, count: 36) + [0x00] + [0xff, 0xff, 0xff, 0xff]
        let output: [UInt8] = [0x00, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, 0x01, 0x51]
        func tx(outputs: [UInt8], tag: UInt8) -> [UInt8] { [2, 0, 0, 0, 0x00, 0x08, 0x01] + input + outputs + [tag, 0, 0, 0, 0] }
        #expect(throws: BitcoinParseError.self) { try TransactionParser.parse(tx(outputs: [0x01] + output, tag: 2), mweb: true) }
        #expect(throws: BitcoinParseError.self) { try TransactionParser.parse(tx(outputs: [0x00], tag: 0), mweb: true) }
        #expect(try TransactionParser.parse(tx(outputs: [0x01] + output, tag: 0), mweb: true).isHogEx)
        #expect(throws: BitcoinParseError.unknownOptionalData(flag: 8, offset: 0)) { try TransactionParser.parse(tx(outputs: [0x01] + output, tag: 0)) }
        // A loose MWEB transaction with one kernel of unknown features (0x40).
        let body: [UInt8] = [UInt8](repeating: 0, count: 64) + [0x00, 0x00, 0x01, 0x40] + [UInt8](repeating: 0, count: 97)
        let loose = [2, 0, 0, 0, 0x00, 0x08, 0x00, 0x00, 0x01] + body + [0, 0, 0, 0]
        #expect(throws: BitcoinParseError.invalidMWEB("unknown kernel features 0x40", offset: 76)) { try TransactionParser.parse(loose, mweb: true) }
    }

    /// `unrip-watch bitcoin scan-block --chain litecoin` on the peg-out block as the node printed it.
    @Test func scanBlockReadsALitecoinBlock() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ltc-\(UUID().uuidString).hex").path
        try String(contentsOf: Self.url("hogex-block.hex"), encoding: .utf8).write(toFile: path, atomically: true, encoding: .utf8)
        let lines = try ScanBlockTool.run(chain: "litecoin", network: "regtest", watch: ["rltc1qcyuvjl4ndk009fj8nqkpln0twk4qj6jd2a6t8m"], file: path)
        let hogEx = try #require((try Self.json("hogex-block.json")["tx"] as? [[String: Any]])?.last?["txid"] as? String)
        #expect(lines.count == 1 && lines[0].contains(hogEx) && lines[0].contains("500000000"), "\(lines)")
        #expect(throws: ScanBlockTool.Failure.self) { try ScanBlockTool.run(chain: "litecoin", network: "signet", watch: ["rltc1qcyuvjl4ndk009fj8nqkpln0twk4qj6jd2a6t8m"], file: path) }
        #expect(throws: ScanBlockTool.Failure.self) { try ScanBlockTool.run(chain: "dogecoin", network: "regtest", watch: ["x"], file: path) }
    }

    /// Addresses litecoind handed out round-trip through the codec to the scriptPubKey it reported.
    @Test func walletAddressesRoundTrip() throws {
        let addresses = try Self.json("regtest-addresses.json")
        for type in ["legacy", "p2sh-segwit", "bech32"] {
            let entry = addresses[type] as? [String: Any] ?? [:]
            let address = try #require(entry["address"] as? String)
            let script = try AddressCodec.scriptPubKey(for: address, format: Self.regtest)
            #expect(Hex.encode(script) == entry["scriptPubKey"] as? String, "\(type)")
            #expect(AddressCodec.address(forScript: script, format: Self.regtest) == address, "\(type)")
        }
        // An MWEB address has no script: it cannot be a handle, and says why.
        let mweb = try #require((addresses["mweb"] as? [String: Any])?["address"] as? String)
        #expect(throws: AddressError.self) { try AddressCodec.scriptPubKey(for: mweb, format: Self.regtest) }
    }
}
