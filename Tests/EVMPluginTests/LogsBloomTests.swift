import EVMTesting
import Foundation
import Testing
import WatchCore
import WatchTesting

@testable import EVMPlugin

@Suite struct LogsBloomTests {
    @Test func theDoublesBloomHoldsEveryAddressAndTopicOfItsLogsAndNothingElse() throws {
        var chain = EVMChainModel(tip: 10)
        _ = chain.transfer(token: EVM.eureV2, to: handleA, amount: Amount(7))
        chain.mine(2)
        let bloom = chain.logsBloom(11)
        let handle = try EVMAddress(handleA)
        #expect(bloom.mayContain(hex: EVM.eureV2.lowercased()))
        #expect(bloom.mayContain(hex: EVM.transferTopic))
        #expect(bloom.mayContain(hex: handle.topic))
        #expect(bloom.mayHoldTransfer(tokens: [try EVMAddress(EVM.eureV2)], recipients: [handle]))
        #expect(!bloom.mayHoldTransfer(tokens: [try EVMAddress(EVM.eureV2)], recipients: [try EVMAddress(stranger)]))
        #expect(!bloom.mayHoldTransfer(tokens: [try EVMAddress(otherToken)], recipients: [handle]))
        // 4 items (token, Transfer, from, to) × 3 bits: at most 12 bits set.
        let set = bloom.bytes.reduce(0) { $0 + $1.nonzeroBitCount }
        #expect((3...12).contains(set))
        #expect(chain.logsBloom(12) == LogsBloom())
        // What the node serves is what the model computes, and what the client decodes.
        let served = try chain.handle(method: "eth_getBlockByNumber", params: ["0xb", false])
        #expect(try EVMDecode.block(served)?.logsBloom == bloom)
    }

    @Test func aMalformedLogsBloomIsRefused() throws {
        var block: [String: JSONValue] = [
            "number": "0x1", "hash": .string("0x" + String(repeating: "a", count: 64)),
            "parentHash": .string("0x" + String(repeating: "b", count: 64)),
        ]
        for bad: JSONValue in ["0x1234", .string("0x" + String(repeating: "g", count: 512)), 5] {
            block["logsBloom"] = bad
            #expect(throws: EVMDecode.Failure.self) { try EVMDecode.block(.object(block)) }
        }
        block["logsBloom"] = nil
        #expect(try EVMDecode.block(.object(block))?.logsBloom == nil)
    }

    @Test func anEmptyGetLogsAnswerContradictedByTheBloomIsAskedAgainAndTheTransferFound() async throws {
        let h = try await GnosisHarness.make()
        let adapter = try h.start()
        #expect(await h.synced())
        h.node.inject(.emptyResult, count: 1, method: "eth_getLogs")
        let tx = h.node.transfer(to: handleA.lowercased(), amount: Amount(42))
        h.node.mine()
        #expect(await waitUntil(.seconds(10)) { h.row(tx)?.state == .seenUnconfirmed })
        #expect(h.node.pendingFaults == 0)
        let state = await adapter.state()
        #expect(state["empty_logs_contradicted_by_bloom"] == .int(1))
        #expect(state["bloom_false_positives"] == .int(0))
        // Blocks whose bloom rules a transfer out cost no second request.
        h.node.mine(5)
        #expect(await h.synced())
        #expect(await adapter.state()["empty_logs_contradicted_by_bloom"] == .int(1))
        await h.shutdown()
    }
}

/// Ethereum mainnet block 8065757: its header's `logsBloom` and all 120 logs of its 143
/// receipts, plus receipts with their own blooms (provenance in the file's `source` fields).
@Suite struct MainnetBloomTests {
    @Test func bloomsComputedFromRealLogsEqualTheChainsBlooms() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/mainnet-8065757-blooms", withExtension: "json"))
        let fixture = try JSONValue.parse(Array(try Data(contentsOf: url)))
        let items = try #require(fixture["items"]?.arrayValue)
        #expect(items.count >= 2)
        var transfers = 0
        for item in items {
            let bloomHex = try #require(item["logsBloom"]?.stringValue)
            let given = try #require(LogsBloom(hex: bloomHex))
            var computed = LogsBloom()
            for log in try #require(item["logs"]?.arrayValue) {
                let address = (log["address"]?.stringValue ?? "").lowercased()
                let topics = (log["topics"]?.arrayValue ?? []).compactMap { $0.stringValue?.lowercased() }
                computed.add(address: address, topics: topics)
                if topics.count == 3, topics[0] == EVM.transferTopic,
                    let to = EVMAddress(topic: topics[2]), let token = try? EVMAddress(address)
                {
                    #expect(given.mayHoldTransfer(tokens: [token], recipients: [to]))
                    transfers += 1
                }
            }
            #expect(computed == given, "\(item["kind"]?.stringValue ?? "?") \(item["tx_hash"]?.stringValue ?? "")")
        }
        #expect(transfers >= 80)
    }
}
