import Testing
import WatchCore
import EVMTesting
import WatchTesting

/// The double answers like the execution API and real providers (reference §5).
@Suite struct EVMDoubleTests {
    let a = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    let b = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"
    let token = "0x420ca0f9b9b604ce0fd9c18ef134c705e5fa3430"
    let other = "0xd1220a0cf47c7b9be7a2e6ba89f429762e7b9adb"
    func pad(_ x: String) -> JSONValue { .string("0x" + String(repeating: "0", count: 24) + x.dropFirst(2)) }

    func chain() -> EVMChainModel {
        var c = EVMChainModel(tip: 10)
        _ = c.transfer(token: token, to: a, amount: Amount(1))
        _ = c.transfer(token: other, to: a, amount: Amount(2))
        c.mine()  // 11
        _ = c.transfer(token: token, to: b, amount: Amount(3))
        c.mine(5)  // 12..16
        return c
    }

    func logs(_ c: EVMChainModel, _ filter: [String: JSONValue]) throws -> [JSONValue] {
        try c.handle(method: "eth_getLogs", params: [.object(filter)]).arrayValue ?? []
    }

    @Test func blocksAndTags() throws {
        let c = chain()
        #expect(try c.handle(method: "eth_chainId", params: []) == "0x64")
        #expect(try c.handle(method: "eth_blockNumber", params: []) == "0x10")
        let latest = try c.handle(method: "eth_getBlockByNumber", params: ["latest", false])
        #expect(latest["number"] == "0x10")
        #expect(latest["parentHash"] == .string(c.blockHash(15)))
        #expect(try c.handle(method: "eth_getBlockByNumber", params: ["finalized", false])["number"] == "0x8")
        #expect(try c.handle(method: "eth_getBlockByNumber", params: ["safe", false])["number"] == "0xc")
        #expect(try c.handle(method: "eth_getBlockByNumber", params: ["0x11", false]) == .null)
        let b11 = try c.handle(method: "eth_getBlockByHash", params: [.string(c.blockHash(11)), true])
        #expect(b11["number"] == "0xb")
        #expect(b11["transactions"]?.arrayValue?.count == 2)
        #expect(throws: EVMChainModel.RPCError.self) { try c.handle(method: "eth_getBlockByNumber", params: ["0x011", false]) }
    }

    @Test func logFilters() throws {
        let c = chain()
        #expect(try logs(c, ["fromBlock": "0x0", "toBlock": "latest"]).count == 3)
        #expect(try logs(c, ["fromBlock": "0x0", "toBlock": "latest", "address": .string(token)]).count == 2)
        #expect(try logs(c, ["fromBlock": "0x0", "toBlock": "latest", "address": [.string(token), .string(other)]]).count == 3)
        #expect(try logs(c, ["fromBlock": "0x0", "toBlock": "latest", "topics": [.string(EVMChainModel.transferTopic), .null, pad(b)]]).count == 1)
        #expect(try logs(c, ["fromBlock": "0x0", "toBlock": "latest", "topics": [.null, .null, [pad(a), pad(b)]]]).count == 3)
        #expect(try logs(c, ["blockHash": .string(c.blockHash(11))]).count == 2)
        let log = try #require(logs(c, ["fromBlock": "0xc", "toBlock": "0xc"]).first)
        for field in ["address", "topics", "data", "blockNumber", "blockHash", "transactionHash", "transactionIndex", "logIndex", "removed"] {
            #expect(log[field] != nil, "\(field)")
        }
        #expect(log["data"] == "0x0000000000000000000000000000000000000000000000000000000000000003")
    }

    @Test func errorsAsGethAndProvidersWordThem() {
        var c = chain()
        func error(_ filter: [String: JSONValue]) -> EVMChainModel.RPCError? {
            do {
                _ = try c.handle(method: "eth_getLogs", params: [.object(filter)])
                return nil
            } catch { return error }
        }
        #expect(error(["fromBlock": "0x5", "toBlock": "0x4"]) == .init(code: -32602, message: "invalid block range params"))
        #expect(error(["fromBlock": "0x5", "toBlock": "0x50"]) == .init(code: -32602, message: "block range extends beyond current head block"))
        #expect(error(["blockHash": .string(c.blockHash(11)), "fromBlock": "0x1"])?.message.contains("cannot specify both BlockHash") == true)
        c.limits = .init(maxBlockRange: 5, maxResults: 1, style: .infura)
        #expect(error(["fromBlock": "0x0", "toBlock": "0x10"]) == .init(code: -32602, message: "range 17 exceeds limit of 5"))
        #expect(error(["fromBlock": "0xb", "toBlock": "0xc"])?.message == "query returned more than 1 results. Try with this block range [0xb, 0xb].")
        c.limits = .init(maxBlockRange: 5, maxResults: 1, style: .generic)
        #expect(error(["fromBlock": "0x0", "toBlock": "0x10"]) == .init(code: -32602, message: "query exceeds max block range 5"))
        c.limits = .init(maxBlockRange: 2, maxResults: 1, style: .alchemy)
        #expect(error(["fromBlock": "0xb", "toBlock": "0xc"]) == nil)  // within 2 blocks: no result cap
        #expect(error(["fromBlock": "0x0", "toBlock": "0x10"])?.message.hasPrefix("Log response size exceeded.") == true)
    }
}
