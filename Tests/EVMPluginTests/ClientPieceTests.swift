import Testing
import WatchCore

@testable import EVMPlugin
@testable import JSONRPCClient

@Suite struct ClientPieceTests {
    @Test func redactsSecretsInURLs() {
        #expect(URLRedaction.redact("https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161") == "https://mainnet.infura.io/v3/<redacted>")
        #expect(URLRedaction.redact("https://gnosis-mainnet.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUv") == "https://gnosis-mainnet.g.alchemy.com/v2/<redacted>")
        #expect(URLRedaction.redact("http://user:pa55@127.0.0.1:8332/wallet/x") == "http://user:<redacted>@127.0.0.1:8332/wallet/x")
        #expect(URLRedaction.redact("https://rpc.example/?apikey=abc&x=1") == "https://rpc.example/?apikey=<redacted>&x=<redacted>")
        #expect(URLRedaction.redact("https://rpc.gnosischain.com") == "https://rpc.gnosischain.com")
    }

    @Test func decodesJSONRPCReplies() throws {
        func reply(_ status: Int, _ body: String) throws(JSONRPCError) -> JSONValue {
            try JSONRPCClient.decodeReply(HTTPResponse(status: status, body: Array(body.utf8)), id: 5)
        }
        #expect(try reply(200, #"{"jsonrpc":"2.0","id":5,"result":"0x64"}"#) == .string("0x64"))
        // JSON-RPC 1.0 (bitcoind): result and error both present.
        #expect(try reply(200, #"{"result":{"blocks":1},"error":null,"id":5}"#)["blocks"] == .int(1))
        // bitcoind answers RPC errors with HTTP 500 / 404 and a JSON-RPC body.
        #expect(throws: JSONRPCError.rpc(code: -8, message: "Block height out of range", data: nil)) {
            try reply(500, #"{"result":null,"error":{"code":-8,"message":"Block height out of range"},"id":5}"#)
        }
        #expect(throws: JSONRPCError.http(status: 429, body: "slow down")) { try reply(429, "slow down") }
        #expect(throws: JSONRPCError.http(status: 502, body: "<html>bad gateway</html>")) { try reply(502, "<html>bad gateway</html>") }
        #expect(throws: JSONRPCError.self) { try reply(200, #"{"jsonrpc":"2.0","id":5,"result":"0x64""#) }
        #expect(throws: JSONRPCError.malformed("reply id 6 does not match request id 5")) { try reply(200, #"{"jsonrpc":"2.0","id":6,"result":1}"#) }
        #expect(throws: JSONRPCError.self) { try reply(200, #"{"jsonrpc":"2.0","id":5,"error":{"code":"x"}}"#) }
        #expect(throws: JSONRPCError.self) { try reply(200, "[]") }
    }

    @Test func decodesBatchReplies() throws {
        func batch(_ body: String, status: Int = 200) throws(JSONRPCError) -> [JSONValue] {
            try JSONRPCClient.decodeBatch(HTTPResponse(status: status, body: Array(body.utf8)), ids: [7, 8, 9])
        }
        // Replies may come in any order; they are matched by id.
        #expect(try batch(#"[{"jsonrpc":"2.0","id":9,"result":"c"},{"jsonrpc":"2.0","id":7,"result":"a"},{"jsonrpc":"2.0","id":8,"result":"b"}]"#)
            == ["a", "b", "c"])
        #expect(throws: JSONRPCError.self) { try batch(#"[{"id":7,"result":1},{"id":8,"result":2}]"#) }
        #expect(throws: JSONRPCError.self) { try batch(#"[{"id":7,"result":1},{"id":7,"result":2},{"id":9,"result":3}]"#) }
        #expect(throws: JSONRPCError.self) { try batch(#"[{"id":7,"result":1},{"id":8,"result":2},{"id":10,"result":3}]"#) }
        // One element's error fails the batch with it.
        #expect(throws: JSONRPCError.rpc(code: -32000, message: "header not found", data: nil)) {
            try batch(#"[{"id":7,"result":1},{"id":8,"error":{"code":-32000,"message":"header not found"}},{"id":9,"result":3}]"#)
        }
        // geth over its batch limit: one error element; a server without batches: one error object.
        #expect(throws: JSONRPCError.rpc(code: -32600, message: "batch too large", data: nil)) {
            try batch(#"[{"jsonrpc":"2.0","id":7,"error":{"code":-32600,"message":"batch too large"}}]"#)
        }
        #expect(throws: JSONRPCError.rpc(code: -32600, message: "invalid request", data: nil)) {
            try batch(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request"}}"#)
        }
        #expect(throws: JSONRPCError.http(status: 429, body: "slow down")) { try batch("slow down", status: 429) }
        #expect(throws: JSONRPCError.self) { try batch(#"{"jsonrpc":"2.0","id":7,"result":1}"#) }
    }

    @Test func transientClassification() {
        #expect(JSONRPCError.transport(.timeout).isTransient)
        #expect(JSONRPCError.http(status: 429, body: "").isTransient)
        #expect(JSONRPCError.http(status: 503, body: "").isTransient)
        #expect(!JSONRPCError.http(status: 404, body: "").isTransient)
        #expect(!JSONRPCError.malformed("x").isTransient)
        #expect(JSONRPCError.rpc(code: -32005, message: "daily request count exceeded, request rate limited", data: nil).isTransient)
        #expect(!JSONRPCError.rpc(code: -32005, message: "query returned more than 10000 results", data: nil).isTransient)
    }

    @Test func classifiesProviderLimitErrors() {
        func c(_ code: Int, _ m: String, _ data: JSONValue? = nil) -> ProviderLimit? {
            ProviderLimit.classify(.rpc(code: code, message: m, data: data))
        }
        #expect(c(-32005, "query returned more than 10000 results. Try with this block range [0x10, 0x2f].", ["from": "0x10", "to": "0x2f", "limit": 10000]) == .tooManyResults(suggested: 16...47))
        #expect(c(-32602, "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters and the response size limit, this block range should work: [0x1, 0x7d0]") == .tooManyResults(suggested: 1...2000))
        #expect(c(-32602, "range 1000000 exceeds limit of 10000") == .rangeTooLarge(max: 10000))
        #expect(c(-32602, "query exceeds max block range 100000") == .rangeTooLarge(max: 100000))
        #expect(c(-32603, "eth_getLogs range is too large, max is 1k blocks") == .rangeTooLarge(max: 1000))
        #expect(c(-32000, "exceed maximum block range: 50000") == .rangeTooLarge(max: 50000))
        #expect(c(-32005, "query returned more than 20000 results") == .tooManyResults(suggested: nil))
        #expect(c(-32602, "block range extends beyond current head block") == .beyondHead)
        #expect(c(-32602, "invalid block range params") == nil)
        #expect(c(-32601, "the method eth_getLogs does not exist/is not available") == nil)
    }

    @Test func decodesTransfersExactly() throws {
        let log = EVMLog(
            address: EVM.eureV2.lowercased(), topics: [EVM.transferTopic, try EVMAddress("0x00000000000000000000000000000000000000f1").topic, try EVMAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").topic],
            data: "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", blockNumber: 7, blockHash: "0x" + String(repeating: "a", count: 64),
            transactionHash: "0x" + String(repeating: "b", count: 64), logIndex: 3, removed: false)
        let t = try #require(ERC20Transfer(log))
        #expect(t.value.description == "115792089237316195423570985008687907853269984665640564039457584007913129639935")
        #expect(t.jsonLine.hasPrefix("{\"tx_hash\":\"0xbbbb"))
        var short = log
        short.data = "0x01"
        #expect(ERC20Transfer(short) == nil)
        var nft = log
        nft.topics.append(nft.topics[2])
        #expect(ERC20Transfer(nft) == nil)
        #expect((try? EVMDecode.quantity(.string("0xffffffffffffffffffff"), "n")) == nil)
        #expect((try? EVMDecode.quantity(.int(5), "n")) == nil)
        #expect(try EVMDecode.quantity(.string("0x1f"), "n") == 31)
    }
}
