import Foundation
import Hummingbird
import Synchronization
import WatchCore

/// A POA bridge double with the real JSON-RPC shapes: `POST /rpc`, params a one-element array
/// holding an object, errors as plain strings, `recent_deposits` paging (limit ≤ 100, offset)
/// with amounts as JSON numbers (exact, even above 2^53). Tests add deposits, move their
/// status, and make the bridge time out, fail or answer nonsense.
public final class POABridgeDouble: Sendable {
    public enum Fault: Sendable {
        case none
        case timeout(Duration)
        case error(String)
        case http(Int)
        case malformedItem
        /// Every reply a hostile one (`HostileReplies`), seeded.
        case hostile(UInt64)
    }

    struct State {
        var deposits: [[String: JSONValue]] = []
        var fault = Fault.none
        var calls = 0
        /// (account, chain) → the deposit address `deposit_address` hands out.
        var addresses: [String: String] = [:]
        var tokens: [[String: JSONValue]] = []
        var notifications: [[String: JSONValue]] = []
        var methodCalls: [String: Int] = [:]
        /// Methods answered with an error string (the others answer normally).
        var failingMethods: Set<String> = []
        var hostile: HostileReplies?
    }
    let state = Mutex(State())
    let server = Mutex<DoubleHTTPServer?>(nil)
    public let port: Int

    public static func start() async throws -> POABridgeDouble {
        let double = POABridgeDouble(port: try freePort())
        try await double.serve()
        return double
    }

    init(port: Int) { self.port = port }

    public var url: String { "http://127.0.0.1:\(port)/rpc" }
    public var calls: Int { state.withLock { $0.calls } }

    /// How many times `method` was called.
    public func calls(_ method: String) -> Int { state.withLock { $0.methodCalls[method] ?? 0 } }

    /// Sets the address `deposit_address(account, chain)` returns; a later call with another
    /// address is a rotation.
    public func setDepositAddress(account: String, chain: String, _ address: String) {
        state.withLock { $0.addresses[account + "|" + chain] = address }
    }

    /// Adds a `supported_tokens` item with the real shape (amounts as strings).
    public func addToken(chain: String, nearTokenID: String, decimals: Int = 8, minDepositAmount: String) {
        let item: [String: JSONValue] = [
            "defuse_asset_identifier": .string(chain + ":" + nearTokenID), "near_token_id": .string(nearTokenID),
            "intents_token_id": .string("nep141:" + nearTokenID), "decimals": .int(Int64(decimals)),
            "asset_name": .string(nearTokenID.split(separator: ".").first.map(String.init)?.uppercased() ?? "?"),
            "min_deposit_amount": .string(minDepositAmount), "min_withdrawal_amount": "1", "withdrawal_fee": "0",
            "standard": "nep141",
        ]
        state.withLock { $0.tokens.append(item) }
    }

    /// The `notify_deposit` params received, in order.
    public var notifications: [[String: JSONValue]] { state.withLock { $0.notifications } }

    /// Makes one method answer with an error string until cleared.
    public func failMethod(_ method: String, _ failing: Bool = true) {
        state.withLock { if failing { $0.failingMethods.insert(method) } else { $0.failingMethods.remove(method) } }
    }

    /// Adds a deposit as the bridge's indexer would (status PENDING unless given).
    public func addDeposit(account: String, chain: String, txHash: String?, address: String, amount: String, nearTokenID: String, status: String = "PENDING", mintTxHash: String? = nil) {
        let item: [String: JSONValue] = [
            "tx_hash": .optional(txHash), "mint_tx_hash": .optional(mintTxHash), "chain": .string(chain),
            "defuse_asset_identifier": .string(chain + ":" + nearTokenID), "near_token_id": .string(nearTokenID),
            "decimals": 8, "amount": .number(amount), "account_id": .string(account), "address": .string(address),
            "status": .string(status), "from": "sender",
        ]
        state.withLock { s in
            // Each record has its own creation time, as the bridge's indexer gives it.
            var item = item
            let second = s.deposits.count
            item["created_at"] = .string(String(format: "2026-11-25T%02d:%02d:%02dZ", (second / 3600) % 24, (second / 60) % 60, second % 60))
            s.deposits.append(item)
        }
    }

    /// Moves the deposit of `txHash` (or at `address`) to `status`, with the NEAR mint tx when credited.
    public func setStatus(txHash: String? = nil, address: String? = nil, _ status: String, mintTxHash: String? = nil) {
        state.withLock { s in
            for i in s.deposits.indices
            where (txHash != nil && s.deposits[i]["tx_hash"]?.stringValue == txHash)
                || (address != nil && s.deposits[i]["address"]?.stringValue == address)
            {
                s.deposits[i]["status"] = .string(status)
                if let mintTxHash { s.deposits[i]["mint_tx_hash"] = .string(mintTxHash) }
            }
        }
    }

    public func setFault(_ fault: Fault) {
        state.withLock {
            $0.fault = fault
            if case .hostile(let seed) = fault { $0.hostile = HostileReplies(seed: seed) } else { $0.hostile = nil }
        }
    }

    func serve() async throws {
        let router = Router()
        router.post("/rpc") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            return try await self.handle(Data(buffer: body))
        }
        let server = try await DoubleHTTPServer.start(router: router, port: port, label: "bridge-double")
        self.server.withLock { $0 = server }
    }

    public func stop() {
        server.withLock { $0 }?.stop()
    }

    func reply(_ fields: [String: JSONValue], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: JSONValue.object(fields).serialized())))
    }

    func handle(_ body: Data) async throws -> Response {
        let request = JSONValue.requestObject(body) ?? [:]
        let (fault, failing) = state.withLock { s -> (Fault, Bool) in
            s.calls += 1
            let method = request["method"] as? String ?? "?"
            s.methodCalls[method, default: 0] += 1
            return (s.fault, s.failingMethods.contains(method))
        }
        let id = JSONValue.scalar(request["id"] ?? NSNull())
        if case .hostile = fault, let reply = state.withLock({ s -> Response? in
            guard var h = s.hostile else { return nil }
            defer { s.hostile = h }
            return h.next(id: id.serialized())
        }) {
            return reply
        }
        switch fault {
        case .timeout(let d): try await Task.sleep(for: d)
        case .error(let message): return reply(["jsonrpc": "2.0", "id": id, "error": .string(message)])
        case .http(let code): return Response(status: .init(code: code), body: .init(byteBuffer: ByteBuffer(string: "<html>bad gateway</html>")))
        case .none, .malformedItem, .hostile: break
        }
        guard let method = request["method"] as? String else { return reply(["jsonrpc": "2.0", "id": id, "error": "invalid request"]) }
        guard let params = (request["params"] as? [Any])?.first as? [String: Any] else {
            return reply(["jsonrpc": "2.0", "id": id, "error": "params must be an array with one object"])
        }
        if failing { return reply(["jsonrpc": "2.0", "id": id, "error": .string("\(method) failed (test fault)")]) }
        switch method {
        case "recent_deposits":
            guard let account = params["account_id"] as? String else { return reply(["jsonrpc": "2.0", "id": id, "error": "account_id is required"]) }
            let chain = params["chain"] as? String
            let limit = min(100, max(1, params["limit"] as? Int ?? 20))
            let offset = max(0, params["offset"] as? Int ?? 0)
            var matching = state.withLock { s in
                s.deposits.filter { $0["account_id"]?.stringValue == account && (chain == nil || $0["chain"]?.stringValue == chain) }
            }
            if case .malformedItem = fault { matching.insert(["chain": .string(chain ?? "x"), "amount": "lots"], at: 0) }
            let page = Array(matching.dropFirst(offset).prefix(limit))
            return reply([
                "jsonrpc": "2.0", "id": id,
                "result": ["deposits": .array(page.map(JSONValue.object)), "total": .int(Int64(matching.count)), "limit": .int(Int64(limit)), "offset": .int(Int64(offset))],
            ])
        case "deposit_address":
            guard let account = params["account_id"] as? String, let chain = params["chain"] as? String else {
                return reply(["jsonrpc": "2.0", "id": id, "error": "account_id and chain are required"])
            }
            guard let address = state.withLock({ $0.addresses[account + "|" + chain] }) else {
                return reply(["jsonrpc": "2.0", "id": id, "error": .string("no deposit address for \(account) on \(chain)")])
            }
            return reply(["jsonrpc": "2.0", "id": id, "result": ["address": .string(address), "chain": .string(chain)]])
        case "supported_tokens":
            let chains = params["chains"] as? [String]
            let tokens = state.withLock { s in
                s.tokens.filter { t in chains == nil || chains!.contains { (t["defuse_asset_identifier"]?.stringValue ?? "").hasPrefix($0 + ":") } }
            }
            return reply(["jsonrpc": "2.0", "id": id, "result": ["tokens": .array(tokens.map(JSONValue.object))]])
        case "notify_deposit":
            guard params["deposit_address"] is String, params["tx_hash"] is String else {
                return reply(["jsonrpc": "2.0", "id": id, "error": "deposit_address and tx_hash are required"])
            }
            let recorded = params.compactMapValues { ($0 as? String).map(JSONValue.string) }
            state.withLock { $0.notifications.append(recorded) }
            return reply(["jsonrpc": "2.0", "id": id, "result": [:]])
        default:
            return reply(["jsonrpc": "2.0", "id": id, "error": .string("Method not found: \(method)")])
        }
    }
}
