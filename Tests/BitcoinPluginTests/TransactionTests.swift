import Testing
import WatchCore

@testable import BitcoinPlugin

@Suite("Transactions")
struct TransactionTests {
    @Test("reference §4 segwit vector: txid, wtxid, outputs, outpoint")
    func segwitVector() throws {
        let bytes = hex(segwitVectorHex)
        let tx = try TransactionParser.parse(bytes)
        #expect(tx.txid.displayHex == "f5864806e3565c34d1b41e716f72609d00b55ea5eac5b924c9719a842ef42206")
        #expect(tx.wtxid.displayHex == "80b7d8a82d5d5bf92905b06f2014dd699e03837ca172e3a59d51426ebbe3e7f5")
        #expect(tx.hasWitness)
        #expect(!tx.isCoinbase)
        #expect(tx.byteRange == 0..<bytes.count)
        #expect(tx.inputs.count == 1)
        #expect(tx.inputs[0].prevIndex == 1)
        #expect(
            tx.inputs[0].prevTxid.internalHex == "595895ea20179de87052b4046dfe6fd515860505d6511a9004cf12a1f93cac7c")
        #expect(tx.outputs.count == 1)
        #expect(tx.outputs[0].value == 0x07b8de)
        #expect(Hex.encode(tx.outputScript(0, in: bytes)) == "a9140f3444e271620c736808aa7b33e370bd87cb5a0787")
    }

    @Test("every bitcoinjs valid transaction gives its id; witness forms give their wtxid")
    func bitcoinjsTransactions() throws {
        let root = try #require(try Fixtures.json("bitcoinjs-transaction.json") as? [String: Any])
        let valid = try #require(root["valid"] as? [[String: Any]])
        #expect(valid.count == 20)
        var witnessCount = 0
        for entry in valid {
            let id = try #require(entry.string("id"))
            // In bitcoinjs `hash` is the txid in internal byte order (not the wtxid).
            let internalHash = try #require(entry.string("hash"))
            let legacy = try TransactionParser.parse(hex(try #require(entry.string("hex"))))
            #expect(legacy.txid.displayHex == id, "\(entry["description"] ?? "")")
            #expect(legacy.txid.internalHex == internalHash)
            #expect(Hash256(displayHex: id) == legacy.txid)
            #expect(legacy.wtxid == legacy.txid)
            #expect(!legacy.hasWitness)
            #expect(legacy.isCoinbase == (entry["coinbase"] as? Bool ?? false))
            if let whex = entry.string("whex"), !whex.isEmpty {
                witnessCount += 1
                let bytes = hex(whex)
                let full = try TransactionParser.parse(bytes)
                #expect(full.hasWitness)
                #expect(full.txid.displayHex == id)
                #expect(full.wtxid == Hash256.sha256d(bytes))
                #expect(full.wtxid != full.txid)
                #expect(full.outputs.map(\.value) == legacy.outputs.map(\.value))
                #expect(full.inputs == legacy.inputs)
            }
        }
        #expect(witnessCount == 9)
    }

    @Test("every Bitcoin Core tx_valid transaction deserializes exactly")
    func coreValidTransactions() throws {
        let rows = try #require(try Fixtures.json("core-tx_valid.json") as? [[Any]])
        var parsed = 0
        for row in rows where row.count >= 2 {
            guard let txHex = row[1] as? String, row[0] is [Any] else { continue }
            let tx = try TransactionParser.parse(hex(txHex))
            #expect(!tx.inputs.isEmpty)
            parsed += 1
        }
        #expect(parsed > 100)
    }

    @Test("bitcoinjs invalid buffers: trailing data and superfluous witness")
    func bitcoinjsInvalid() throws {
        let root = try #require(try Fixtures.json("bitcoinjs-transaction.json") as? [String: Any])
        let invalid = try #require(root.object("invalid")?["fromBuffer"] as? [[String: Any]])
        #expect(invalid.count == 2)
        for entry in invalid {
            let bytes = hex(try #require(entry.string("hex")))
            let exception = try #require(entry.string("exception"))
            if exception.contains("unexpected data") {
                #expect(throws: BitcoinParseError.trailingBytes(count: 4)) { try TransactionParser.parse(bytes) }
            } else {
                #expect(throws: BitcoinParseError.superfluousWitness(offset: 0)) { try TransactionParser.parse(bytes) }
            }
        }
    }

    @Test("Hash256 display and internal hex round-trip")
    func hashHex() throws {
        let display = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
        let hash = try #require(Hash256(displayHex: display))
        #expect(hash.displayHex == display)
        #expect(hash.internalHex == String(display.reversedHexPairs))
        #expect(Hash256(displayHex: "00") == nil)
        #expect(Hash256(displayHex: String(repeating: "zz", count: 32)) == nil)
        #expect(Hash256(internalBytes: hash.internalBytes) == hash)
    }
}

extension String {
    /// The hex string with its byte order reversed.
    var reversedHexPairs: String {
        Hex.encode(hex(self).reversed())
    }
}
