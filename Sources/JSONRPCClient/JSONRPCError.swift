import WatchCore

/// Every way a JSON-RPC or REST call can fail, typed so callers can decide what to retry.
public enum JSONRPCError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No HTTP reply: timeout, connection refused, DNS, TLS, …
    case transport(TransportFailure)
    /// An HTTP status that is not a JSON-RPC reply (429, 502, 503, a proxy's HTML page, …).
    /// `body` is the first bytes of the reply, for the log.
    case http(status: Int, body: String)
    /// The server answered with a JSON-RPC error object.
    case rpc(code: Int, message: String, data: JSONValue?)
    /// The reply is not what the protocol promises (bad JSON, missing fields, wrong types).
    case malformed(String)
    /// The calling task was cancelled.
    case cancelled

    public enum TransportFailure: Sendable, Equatable, CustomStringConvertible {
        case timeout
        case connect(String)
        case other(String)

        public var description: String {
            switch self {
            case .timeout: "timeout"
            case .connect(let why): "connect failed: \(why)"
            case .other(let why): why
            }
        }
    }

    /// Bounded whatever the peer sent (`Excerpt`): it goes into logs, errors and `/state`.
    public var description: String {
        switch self {
        case .transport(let t): "transport error: \(Excerpt.of(t.description))"
        case .http(let status, let body): "HTTP \(status)" + (body.isEmpty ? "" : ": \(Excerpt.of(body))")
        case .rpc(let code, let message, let data):
            "RPC error \(code): \(Excerpt.of(message))" + (data.map { " (data: \(Excerpt.of(json: $0)))" } ?? "")
        case .malformed(let why): "malformed reply: \(Excerpt.of(why))"
        case .cancelled: "cancelled"
        }
    }

    /// Worth retrying after a pause: timeouts, connection failures, 408/425/429/5xx, and RPC
    /// errors that say the server is rate limiting or momentarily behind.
    public var isTransient: Bool {
        switch self {
        case .transport: return true
        case .http(let status, _): return [408, 425, 429, 500, 502, 503, 504].contains(status)
        case .rpc(_, let message, _):
            let m = message.lowercased()
            return ["rate limit", "too many requests", "request limit", "capacity exceeded", "header not found", "try again"]
                .contains { m.contains($0) }
        case .malformed, .cancelled: return false
        }
    }
}
