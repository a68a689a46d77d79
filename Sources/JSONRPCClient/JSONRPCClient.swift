import Foundation
import Synchronization
import WatchCore

/// A JSON-RPC client over HTTP(S) with libcurl, for any node: EVM providers (JSON-RPC 2.0)
/// and bitcoind (1.0/2.0, basic auth). Requests run on the client's own threads; errors are
/// `JSONRPCError`; the URL is only ever shown redacted (`redactedURL`).
public final class JSONRPCClient: Sendable {
    public enum Version: String, Sendable {
        case v1 = "1.0"
        case v2 = "2.0"
    }

    public struct Configuration: Sendable {
        public var url: String
        public var version: Version
        /// HTTP basic auth (bitcoind `rpcuser`/`rpcpassword` or cookie). Credentials in the URL work too.
        public var username: String?
        public var password: String?
        public var timeout: Duration
        public var connectTimeout: Duration
        /// Requests in flight at once (one worker thread each).
        public var concurrency: Int
        public var maxResponseBytes: Int

        public init(
            url: String, version: Version = .v2, username: String? = nil, password: String? = nil,
            timeout: Duration = .seconds(15), connectTimeout: Duration = .seconds(5), concurrency: Int = 4,
            maxResponseBytes: Int = 64 << 20
        ) {
            self.url = url
            self.version = version
            self.username = username
            self.password = password
            self.timeout = timeout
            self.connectTimeout = connectTimeout
            self.concurrency = concurrency
            self.maxResponseBytes = maxResponseBytes
        }
    }

    public let configuration: Configuration
    /// The URL with its secrets hidden: what logs and `/state` show.
    public let redactedURL: String
    let http: CurlHTTP
    let nextID = Atomic<Int64>(1)
    let counters = Mutex<[String: Int]>([:])

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        redactedURL = URLRedaction.redact(configuration.url)
        var headers: [String] = ["Accept: application/json", "User-Agent: unrip-watch"]
        if let user = configuration.username {
            let token = Data("\(user):\(configuration.password ?? "")".utf8).base64EncodedString()
            headers.append("Authorization: Basic \(token)")
        }
        http = CurlHTTP(
            concurrency: configuration.concurrency,
            options: .init(
                timeout: configuration.timeout, connectTimeout: configuration.connectTimeout,
                maxResponseBytes: configuration.maxResponseBytes, headers: headers))
    }

    /// Requests sent so far, by method (`GET` for REST).
    public var requestCounts: [String: Int] { counters.withLock { $0 } }
    public var requestTotal: Int { counters.withLock { $0.values.reduce(0, +) } }

    /// Calls `method` and returns its `result` (which may be `.null`).
    public func call(_ method: String, _ params: [JSONValue] = []) async throws(JSONRPCError) -> JSONValue {
        try await send(method, params: .array(params))
    }

    /// Calls `method`, refusing a reply larger than `maxResponseBytes` (what the method can
    /// legitimately return), below the client's own cap.
    public func call(_ method: String, _ params: [JSONValue] = [], maxResponseBytes: Int) async throws(JSONRPCError) -> JSONValue {
        try await send(method, params: .array(params), maxResponseBytes: maxResponseBytes)
    }

    /// Calls `method` with named parameters (`params` an object, as NEAR RPC expects).
    public func call(_ method: String, named params: [String: JSONValue]) async throws(JSONRPCError) -> JSONValue {
        try await send(method, params: .object(params))
    }

    /// One call's outcome with the reply's `Retry-After` (a rate-limited or overloaded server's
    /// request to wait), for callers that pace or fail over by it.
    public struct Outcome: Sendable {
        public var result: Result<JSONValue, JSONRPCError>
        public var retryAfter: Duration?
    }

    /// Calls `method` like `call`, returning the failure and any `Retry-After` instead of throwing.
    public func outcome(_ method: String, _ params: [JSONValue] = [], maxResponseBytes: Int? = nil) async -> Outcome {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let response: HTTPResponse
        do {
            response = try await post(method, params: .array(params), id: id, maxResponseBytes: maxResponseBytes)
        } catch {
            return Outcome(result: .failure(error), retryAfter: nil)
        }
        let retryAfter = response.retryAfterSeconds.map { Duration.seconds($0) }
        do {
            return Outcome(result: .success(try Self.decodeReply(response, id: id)), retryAfter: retryAfter)
        } catch {
            return Outcome(result: .failure(error), retryAfter: retryAfter)
        }
    }

    private func send(_ method: String, params: JSONValue, maxResponseBytes: Int? = nil) async throws(JSONRPCError) -> JSONValue {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let response = try await post(method, params: params, id: id, maxResponseBytes: maxResponseBytes)
        return try Self.decodeReply(response, id: id)
    }

    private func post(_ method: String, params: JSONValue, id: Int64, maxResponseBytes: Int?) async throws(JSONRPCError) -> HTTPResponse {
        var request: [String: JSONValue] = ["id": .int(id), "method": .string(method), "params": params]
        request["jsonrpc"] = .string(configuration.version.rawValue)
        counters.withLock { $0[method, default: 0] += 1 }
        return try await http.post(url: configuration.url, body: Array(JSONValue.object(request).serialized().utf8), maxResponseBytes: maxResponseBytes)
    }

    /// A plain GET of `path` relative to the URL (bitcoind REST): the body on 2xx.
    public func get(_ path: String, maxResponseBytes: Int? = nil) async throws(JSONRPCError) -> [UInt8] {
        var base = configuration.url
        while base.hasSuffix("/") { base.removeLast() }
        counters.withLock { $0["GET", default: 0] += 1 }
        let response = try await http.get(url: base + (path.hasPrefix("/") ? path : "/" + path), maxResponseBytes: maxResponseBytes)
        guard (200..<300).contains(response.status) else {
            throw .http(status: response.status, body: Self.snippet(response.body))
        }
        return response.body
    }

    /// Interprets one HTTP reply to a call with `id` (JSON-RPC 1.0/1.1/2.0 shapes).
    static func decodeReply(_ response: HTTPResponse, id: Int64) throws(JSONRPCError) -> JSONValue {
        let status = response.status
        // Rate limits and gateway failures are HTTP-level whatever the body says.
        if [401, 403, 408, 425, 429, 502, 503, 504].contains(status) {
            throw .http(status: status, body: snippet(response.body))
        }
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(response.body)
        } catch {
            if (200..<300).contains(status) { throw .malformed("\(error)") }
            throw .http(status: status, body: snippet(response.body))
        }
        return try decodeReply(parsed, status: status, body: response.body, id: id)
    }

    /// Interprets one parsed reply object (alone, or one element of a batch's array).
    static func decodeReply(_ parsed: JSONValue, status: Int, body: [UInt8], id: Int64) throws(JSONRPCError) -> JSONValue {
        guard case .object(let reply) = parsed, reply["result"] != nil || reply["error"] != nil else {
            if (200..<300).contains(status) {
                throw .malformed("expected a JSON-RPC reply object with result or error, got \(parsed.typeName)")
            }
            throw .http(status: status, body: snippet(body))
        }
        if let error = reply["error"], error != .null {
            // The POA bridge reports errors as a plain string, not {code, message}.
            if case .string(let text) = error { throw .rpc(code: 0, message: text, data: nil) }
            guard case .object(let e) = error, let code = e["code"]?.int64Value, let message = e["message"]?.stringValue
            else { throw .malformed("error member is not {code, message}: \(snippet(Array(error.serialized().utf8)))") }
            throw .rpc(code: Int(code), message: message, data: e["data"])
        }
        guard (200..<300).contains(status) else { throw .http(status: status, body: snippet(body)) }
        if let replyID = reply["id"], replyID != .null, replyID != .int(id) {
            throw .malformed("reply id \(replyID.serialized()) does not match request id \(id)")
        }
        return reply["result"] ?? .null
    }

    static func snippet(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return body.count > 200 ? text + "…" : text
    }
}
