import Foundation
import JSONRPCClient
import WatchCore

/// Reads verifier balances from `intents.near` with NEAR RPC `query` / `call_function`
/// `mt_batch_balance_of` (NEP-245): args as base64 JSON, the result as the bytes of a JSON
/// array of decimal strings, one per token id.
public struct NEARVerifierClient: Sendable {
    let client: JSONRPCClient
    public let contract: String

    public init(url: String, contract: String = "intents.near", timeout: Duration = .seconds(15)) {
        client = JSONRPCClient(.init(url: url, version: .v2, timeout: timeout, concurrency: 1))
        self.contract = contract
    }

    public struct Balances: Sendable, Equatable {
        public var blockHeight: Int
        public var balances: [String: Amount]
    }

    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
    }

    public func balances(account: String, tokenIDs: [String]) async throws -> Balances {
        let args: JSONValue = ["account_id": .string(account), "token_ids": .array(tokenIDs.map(JSONValue.string))]
        let (decoded, height) = try await view(contract: contract, method: "mt_batch_balance_of", args: args)
        guard let list = decoded.arrayValue, list.count == tokenIDs.count else {
            throw Malformed(description: "mt_batch_balance_of returned \(decoded.arrayValue?.count ?? -1) balances for \(tokenIDs.count) token ids")
        }
        var balances: [String: Amount] = [:]
        for (token, value) in zip(tokenIDs, list) {
            guard let text = value.stringValue, let amount = Amount(decimal: text) else {
                throw Malformed(description: "balance of \(token) is not a decimal string: \(value.serialized())")
            }
            balances[token] = amount
        }
        return Balances(blockHeight: height, balances: balances)
    }

    /// A view call (`query` / `call_function`, final): the JSON its result bytes hold, and the
    /// block height it was read at.
    public func view(contract: String, method: String, args: JSONValue = .object([:])) async throws -> (JSONValue, Int) {
        let result = try await client.call(
            "query",
            named: [
                "request_type": "call_function", "finality": "final", "account_id": .string(contract),
                "method_name": .string(method), "args_base64": .string(Data(args.serialized().utf8).base64EncodedString()),
            ])
        guard let bytes = result["result"]?.arrayValue else {
            throw Malformed(description: "NEAR query result has no result byte array: \(String(result.serialized().prefix(120)))")
        }
        let raw = try bytes.map { value -> UInt8 in
            guard let n = value.int64Value, (0...255).contains(n) else { throw Malformed(description: "result byte out of range") }
            return UInt8(n)
        }
        return (try JSONValue.parse(raw), Int(result["block_height"]?.int64Value ?? 0))
    }
}
