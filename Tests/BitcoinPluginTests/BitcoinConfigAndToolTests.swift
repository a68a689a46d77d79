import Foundation
import Testing
import WatchCore
import WatchTesting

@testable import BitcoinPlugin

@Suite struct BitcoinConfigAndToolTests {
    func load(_ table: [String: ConfigValue]) -> (BitcoinConfiguration, [ConfigProblem]) {
        let problems = ConfigProblems()
        let section = ConfigSection(path: "bitcoin", table: table, problems: problems)
        let c = BitcoinConfiguration(section: section)
        section.finish()
        return (c, problems.all)
    }

    @Test func addressesAreValidatedForTheNetworkAndStoredCanonically() {
        let (c, problems) = load([
            "network": "mainnet",
            "handles": .array([
                .table(["address": "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"]),
                .table(["address": "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"]),
                .table(["address": "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "asset": "BTC", "label": "cold"]),
            ]),
        ])
        #expect(c.handles.map(\.address) == ["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"])
        #expect(problems.count == 1)
        #expect(problems.first?.key == "bitcoin.handles[1].address")
        #expect(problems.first?.description.contains("tb1qw508") == true)
    }

    @Test func badKeysAreNamedWithTheFix() {
        let (_, problems) = load([
            "network": "moonnet", "rpc_url": "127.0.0.1:8332", "zmq_rawtx": "localhost:28332", "rpc_user": "u",
            "confirmations": 0,
        ])
        let text = problems.map(\.description).joined(separator: "\n")
        for expected in ["bitcoin.network = \"moonnet\"", "bitcoin.rpc_url = \"127.0.0.1:8332\"", "bitcoin.zmq_rawtx = \"localhost:28332\"", "bitcoin.rpc_password", "bitcoin.confirmations = 0", "bitcoin.handles: at least one handle"] {
            #expect(text.contains(expected), "missing \(expected) in\n\(text)")
        }
    }

    @Test func zmqFramesAreParsedAndRejectedLikeBitcoindSendsThem() throws {
        let hash = [UInt8](repeating: 0xab, count: 32)
        let (n, seq) = try ZMQNotification.parse(frames: [Array("sequence".utf8), hash + [0x41] + [5, 0, 0, 0, 0, 0, 0, 0], [7, 0, 0, 1]])
        #expect(seq == 0x0100_0007)
        #expect(n == .sequence(hash: String(repeating: "ab", count: 32), label: .txAdded, mempoolSequence: 5))
        let bad: [[[UInt8]]] = [
            [Array("rawtx".utf8), [1]],
            [Array("sequence".utf8), hash + [0x43, 1], [0, 0, 0, 0]],
            [Array("sequence".utf8), hash + [0x41], [0, 0, 0, 0]],
            [Array("sequence".utf8), hash + [0x5a], [0, 0, 0, 0]],
            [Array("hashblock".utf8), [1, 2], [0, 0, 0, 0]],
            [Array("hashblock".utf8), hash, [0, 0, 0]],
            [Array("bogus".utf8), hash, [0, 0, 0, 0]],
        ]
        for frames in bad { #expect(throws: ZMQFrameError.self) { try ZMQNotification.parse(frames: frames) } }
        var gaps = ZMQGapDetector()
        #expect(gaps.record(topic: "rawtx", sequence: 10) == 0)
        #expect(gaps.record(topic: "rawtx", sequence: 11) == 0)
        #expect(gaps.record(topic: "rawtx", sequence: 15) == 3)
        #expect(gaps.record(topic: "sequence", sequence: 0) == 0)
        #expect(gaps.record(topic: "rawtx", sequence: UInt32.max) == 0 || gaps.gaps == 2)
        #expect(gaps.lostMessages >= 3)
    }

    @Test func scanBlockToolFindsRealOutputsAndRejectsBadInput() throws {
        let path = try #require(Bundle.module.path(forResource: "block413567", ofType: "raw", inDirectory: "Fixtures/bitcoin"))
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let block = try BlockParser.parse(bytes)
        // Pick the first P2PKH output of the 10th transaction as the watched address.
        let tx = block.transactions[9]
        let script = Array(bytes[tx.outputs[0].scriptRange])
        let address = try #require(AddressCodec.address(forScript: script, network: .mainnet))
        let lines = try ScanBlockTool.run(network: "mainnet", watch: [address], file: path)
        #expect(!lines.isEmpty)
        #expect(lines.contains { $0.contains(tx.txid.displayHex) && $0.contains("\"vout\":0") && $0.contains(address) })
        #expect(throws: ScanBlockTool.Failure.self) { try ScanBlockTool.run(network: "mainnet", watch: ["bcrt1qnotanaddress"], file: path) }
        #expect(throws: ScanBlockTool.Failure.self) { try ScanBlockTool.run(network: "marsnet", watch: [address], file: path) }
        let truncated = FileManager.default.temporaryDirectory.appendingPathComponent("trunc-\(UUID()).raw").path
        try Data(bytes.prefix(5000)).write(to: URL(fileURLWithPath: truncated))
        #expect { try ScanBlockTool.run(network: "mainnet", watch: [address], file: truncated) } throws: { "\($0)".contains("not a valid block") }
    }
}
