import Foundation

/// Plain JSON POSTs over libcurl (webhooks, Alertmanager): the reply's status and body,
/// whatever the status; failures without a reply are `JSONRPCError.transport`. Fixed headers
/// (e.g. `Authorization`) are set once; they are never logged.
public final class HTTPPostClient: Sendable {
    private let http: CurlHTTP

    public init(timeout: Duration, connectTimeout: Duration = .seconds(5), headers: [String] = [], maxResponseBytes: Int = 1 << 20) {
        http = CurlHTTP(
            concurrency: 1,
            options: .init(
                timeout: timeout, connectTimeout: min(connectTimeout, timeout), maxResponseBytes: maxResponseBytes,
                headers: ["Accept: application/json", "User-Agent: unrip-watch"] + headers))
    }

    /// POSTs `body` as `application/json` to `url`.
    public func post(url: String, json body: [UInt8]) async throws(JSONRPCError) -> HTTPResponse {
        try await http.post(url: url, body: body)
    }
}
