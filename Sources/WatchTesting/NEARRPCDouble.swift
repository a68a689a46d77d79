import Foundation
import Hummingbird
import Synchronization
import WatchCore

/// A NEAR RPC double for `query` / `call_function` `mt_batch_balance_of` on the verifier
/// contract: `result.result` is the bytes of the JSON return value, with `block_height`,
/// `block_hash` and `logs`; errors in NEAR's `{name, cause: {name}}` shape.
public final class NEARRPCDouble: Sendable {
    let balances = Mutex<[String: [String: String]]>([:])  // account → token → units
    let height = Mutex(100)
    /// (contract, method) → the JSON a view call returns (`get_config` of the BTC connector).
    let views = Mutex<[String: JSONValue]>([:])
    public let port: Int
    let server = Mutex<DoubleHTTPServer?>(nil)

    public static func start() async throws -> NEARRPCDouble {
        let double = NEARRPCDouble(port: try freePort())
        let router = Router()
        router.post("/") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            return double.handle(Data(buffer: body))
        }
        let server = try await DoubleHTTPServer.start(router: router, port: double.port, label: "near-double")
        double.server.withLock { $0 = server }
        return double
    }

    init(port: Int) { self.port = port }
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Sets `account`'s balance of `token` (base units) and advances the block height.
    public func setBalance(account: String, token: String, _ units: String) {
        balances.withLock { $0[account, default: [:]][token] = units }
        height.withLock { $0 += 1 }
    }

    public func stop() { server.withLock { $0 }?.stop() }

    /// What the view `method` of `contract` returns from now on.
    public func setView(contract: String, method: String, _ value: JSONValue) {
        views.withLock { $0["\(contract)|\(method)"] = value }
    }

    func reply(_ fields: [String: JSONValue]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: JSONValue.object(fields).serialized())))
    }

    func error(_ id: JSONValue, _ name: String, _ cause: String) -> Response {
        reply(["jsonrpc": "2.0", "id": id, "error": ["name": .string(name), "cause": ["name": .string(cause), "info": [:]], "code": -32000, "message": "Server error"]])
    }

    func handle(_ body: Data) -> Response {
        let request = JSONValue.requestObject(body) ?? [:]
        let id = JSONValue.scalar(request["id"] ?? NSNull())
        if let params = request["params"] as? [String: Any], let method = params["method_name"] as? String, method != "mt_batch_balance_of",
            let contract = params["account_id"] as? String
        {
            guard let value = views.withLock({ $0["\(contract)|\(method)"] }) else { return error(id, "HANDLER_ERROR", "METHOD_NOT_FOUND") }
            return result(id, value)
        }
        guard request["method"] as? String == "query", let params = request["params"] as? [String: Any],
            params["request_type"] as? String == "call_function", params["method_name"] as? String == "mt_batch_balance_of",
            let argsText = params["args_base64"] as? String, let argsData = Data(base64Encoded: argsText),
            let args = JSONValue.requestObject(argsData), let account = args["account_id"] as? String,
            let tokens = args["token_ids"] as? [String]
        else { return error(id, "REQUEST_VALIDATION_ERROR", "PARSE_ERROR") }
        let held = balances.withLock { $0[account] }
        guard let held else { return error(id, "HANDLER_ERROR", "UNKNOWN_ACCOUNT") }
        return result(id, .array(tokens.map { .string(held[$0] ?? "0") }))
    }

    /// A `call_function` answer: the return value's JSON bytes, with the block it was read at.
    func result(_ id: JSONValue, _ value: JSONValue) -> Response {
        let h = height.withLock { $0 }
        return reply([
            "jsonrpc": "2.0", "id": id,
            "result": ["result": .array(Array(value.serialized().utf8).map { .int(Int64($0)) }), "logs": [], "block_height": .int(Int64(h)), "block_hash": "7Xq3double"],
        ])
    }
}
