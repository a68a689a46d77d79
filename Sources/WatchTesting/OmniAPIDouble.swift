import Crypto
import Foundation
import Hummingbird
import HummingbirdCore
import Synchronization
import WatchCore

/// The Omni Bridge's HTTP API as reference/omni-bridge.md §2 describes it, for tests: deposit
/// addresses derived from the exact bytes of the deposit message, and per-output transfers in
/// the v4 shape (optional fields omitted, not null), `statuses` empty while not indexed, either
/// status spelling, `limit` capped at 50, text bodies on 404 and errors. Built to the reference,
/// not to the client: where they disagree, the reference wins.
public final class OmniAPIDouble: Sendable {
    public struct Transfer: Sendable {
        public var txHash: String
        public var vout: Int
        public var amount: String
        public var recipient: String
        /// Each status the transfer went through, oldest first (empty: not indexed).
        public var statuses: [String]
        public var nearTxHash: String?
    }

    struct State {
        var transfers: [Transfer] = []
        var addresses: [String: String] = [:]
        var down = false
        var requests: [String: Int] = [:]
    }

    private let state = Mutex(State())
    private let addressFor: @Sendable (String) -> String
    private let server = Mutex<DoubleHTTPServer?>(nil)
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }

    /// `addressFor` turns a message's derivation path (hex SHA-256 of its bytes) into the
    /// address the double hands out (the real one is derived by NEAR's MPC from the same path).
    public static func start(addressFor: @escaping @Sendable (String) -> String = { "omni-" + $0.prefix(24) }) async throws -> OmniAPIDouble {
        let double = OmniAPIDouble(port: try freePort(), addressFor: addressFor)
        try await double.serve()
        return double
    }

    private init(port: Int, addressFor: @escaping @Sendable (String) -> String) {
        self.port = port
        self.addressFor = addressFor
    }

    // MARK: - Driving the double

    /// The indexer saw output `vout` of `txHash`: a transfer with `statuses` so far (none: not indexed).
    public func addTransfer(txHash: String, vout: Int, amount: String, recipient: String = "intents.near", statuses: [String] = []) {
        state.withLock { $0.transfers.append(Transfer(txHash: txHash, vout: vout, amount: amount, recipient: recipient, statuses: statuses)) }
    }

    /// Appends `status` (any spelling, known or not) to the transfer of `txHash:vout`.
    public func advance(txHash: String, vout: Int, to status: String, nearTxHash: String? = nil) {
        state.withLock { s in
            for i in s.transfers.indices where s.transfers[i].txHash == txHash && s.transfers[i].vout == vout {
                s.transfers[i].statuses.append(status)
                if let nearTxHash { s.transfers[i].nearTxHash = nearTxHash }
            }
        }
    }

    /// While down, every call answers 503 with a text body.
    public func setDown(_ down: Bool) { state.withLock { $0.down = down } }

    public func requests(_ path: String) -> Int { state.withLock { $0.requests[path, default: 0] } }

    public func stop() { server.withLock { $0 }?.stop() }

    // MARK: - Serving

    private func serve() async throws {
        let router = Router()
        router.post("/api/v3/utxo/get_user_deposit_address") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 10)
            return self.depositAddress(Array(buffer: body))
        }
        router.get("/api/v4/transfers/transfer/status") { request, _ -> Response in
            self.transferQuery(request.uri.queryParameters, path: "status") { (t: [Transfer]) -> [String: JSONValue] in
                ["statuses": JSONValue.array(t.compactMap { $0.statuses.last.map(JSONValue.string) })]
            }
        }
        router.get("/api/v4/transfers/transfer") { request, _ -> Response in
            self.transferQuery(request.uri.queryParameters, path: "transfer") { (t: [Transfer]) -> [String: JSONValue] in
                ["transfers": JSONValue.array(t.filter { !$0.statuses.isEmpty }.map(OmniAPIDouble.v4))]
            }
        }
        router.get("/api/v4/transfers") { request, _ -> Response in
            let q = request.uri.queryParameters
            let limit = min(50, max(1, q["limit"].flatMap { Int(String($0)) } ?? 10))
            let offset = max(0, q["offset"].flatMap { Int(String($0)) } ?? 0)
            let all = self.state.withLock { $0.transfers.filter { !$0.statuses.isEmpty } }
            return Self.json(["transfers": .array(all.dropFirst(offset).prefix(limit).map(Self.v4))])
        }
        server.withLock { $0 = nil }
        let started = try await DoubleHTTPServer.start(router: router, port: port, label: "omni-double")
        server.withLock { $0 = started }
    }

    private func counted(_ path: String) -> Response? {
        let down = state.withLock { s -> Bool in
            s.requests[path, default: 0] += 1
            return s.down
        }
        return down ? Self.text(.serviceUnavailable, "service temporarily unavailable") : nil
    }

    /// The address of the message the body describes: its serde bytes, their SHA-256, the address.
    private func depositAddress(_ body: [UInt8]) -> Response {
        if let down = counted("deposit_address") { return down }
        guard let fields = (try? JSONValue.parse(body))?.objectValue, fields["chain"] == "btc", let recipient = fields["recipient"]?.stringValue else {
            return Self.text(.badRequest, "Failed to deserialize the JSON body: expected chain = btc and recipient")
        }
        var msg = #"{"recipient_id":"# + JSONValue.string(recipient).serialized()
        if let safe = fields["safe_deposit"]?["msg"]?.stringValue { msg += #","safe_deposit":{"msg":"# + JSONValue.string(safe).serialized() + "}" }
        if let refund = fields["refund_address"]?.stringValue { msg += #","refund_address":"# + JSONValue.string(refund).serialized() }
        msg += "}"
        let path = Hex.encode(SHA256.hash(data: Array(msg.utf8)))
        let address = state.withLock { s in
            if let known = s.addresses[path] { return known }
            let made = addressFor(path)
            s.addresses[path] = made
            return made
        }
        return Self.json(["address": .string(address)])
    }

    /// Exactly one of the lookups; the UTXO one by `utxo_chain=Btc`, `utxo_tx_hash`, `utxo_vout`.
    private func transferQuery(_ q: FlatDictionary<Substring, Substring>, path: String, _ body: ([Transfer]) -> [String: JSONValue]) -> Response {
        if let down = counted(path) { return down }
        guard q["utxo_chain"] == "Btc", let tx = q["utxo_tx_hash"].map(String.init), let vout = q["utxo_vout"].flatMap({ Int(String($0)) }) else {
            return Self.text(.badRequest, "exactly one of transaction_hash, origin_chain + origin_nonce, or utxo_chain + utxo_tx_hash + utxo_vout is required")
        }
        let found = state.withLock { $0.transfers.filter { $0.txHash == tx && $0.vout == vout } }
        return Self.json(body(found))
    }

    /// A v4 transfer: absent optional fields are left out, not null.
    static func v4(_ t: Transfer) -> JSONValue {
        var fields: [String: JSONValue] = [
            "transfer_id": ["type": "utxo", "chain": "Btc", "tx_hash": .string(t.txHash), "vout": .int(Int64(t.vout))],
            "origin_chain": "Btc", "destination_chain": "Near", "recipient": .string(t.recipient), "token_id": "nbtc.bridge.near",
            "amount": .string(t.amount), "fee": "0", "status": .string(t.statuses.last ?? ""),
            "initialised": ["transaction_hash": .string(t.txHash), "chain": "Btc", "timestamp_seconds": 0, "details": ["type": "utxo", "block_height": 0]],
            "tx_ids": .array([.string(t.txHash)] + (t.nearTxHash.map { [.string($0)] } ?? [])),
            "utxo_meta": ["chain": "Btc", "relayer_fee": "0", "protocol_fee": "0"],
        ]
        if let near = t.nearTxHash {
            fields["finalised"] = ["transaction_hash": .string(near), "chain": "Near", "timestamp_seconds": 0, "details": ["type": "near", "block_height": 0]]
        }
        return .object(fields)
    }

    static func json(_ fields: [String: JSONValue]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: JSONValue.object(fields).serialized())))
    }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: message)))
    }
}
