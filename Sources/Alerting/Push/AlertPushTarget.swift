import Foundation
import JSONRPCClient
import WatchCore

/// One place alerts are pushed to: its endpoint, how a request body is built, and what a
/// reply means.
public struct AlertPushTarget: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// `POST <base>/api/v2/alerts`, several alerts per request (Alertmanager shape).
        case alertmanager
        /// `POST <url>`, one `unrip.alert.v1` event per request, exactly as produced to Kafka.
        case webhook
    }

    public let kind: Kind
    /// The endpoint POSTed to.
    public let url: String
    /// The endpoint as logs and `/state` show it.
    public let redactedURL: String
    /// Events per request.
    public let perRequest: Int
    let generatorURL: String?
    let client: HTTPPostClient

    /// Also the cursor's name in `alert_push_cursors`.
    public var name: String { kind.rawValue }

    public init(kind: Kind, url: String, perRequest: Int, generatorURL: String? = nil, bearerToken: String? = nil, timeout: Duration) {
        self.kind = kind
        self.url = url
        redactedURL = URLRedaction.redact(url)
        self.perRequest = kind == .webhook ? 1 : max(1, perRequest)
        self.generatorURL = generatorURL
        client = HTTPPostClient(timeout: timeout, headers: bearerToken.map { ["Authorization: Bearer \($0)"] } ?? [])
    }

    /// The targets `config` names (none when push is off).
    public static func targets(_ config: AlertPushConfig) -> [AlertPushTarget] {
        let timeout = Duration.seconds(config.timeoutSeconds)
        var out: [AlertPushTarget] = []
        if let endpoint = config.alertmanagerEndpoint {
            out.append(
                AlertPushTarget(kind: .alertmanager, url: endpoint, perRequest: config.batchSize, generatorURL: config.generatorURL, timeout: timeout))
        }
        if let url = config.webhookURL {
            out.append(AlertPushTarget(kind: .webhook, url: url, perRequest: 1, bearerToken: config.webhookToken, timeout: timeout))
        }
        return out
    }

    /// The request body for these transitions.
    public func body(_ events: [AlertPushStore.Pending]) -> [UInt8] {
        switch kind {
        case .alertmanager:
            AlertmanagerPayload.body(
                events.map { AlertmanagerPayload.Alert(event: $0.event, firedLabels: $0.firedLabels) }, generatorURL: generatorURL)
        case .webhook:
            Array((events.count == 1 ? events[0].event.payload : .array(events.map(\.event.payload))).serialized().utf8)
        }
    }

    /// What one request came to.
    public enum Outcome: Sendable, Equatable {
        /// 2xx: the target has it.
        case delivered
        /// 4xx other than 401/403/404/405/407/408/425/429: this payload will never be accepted.
        case rejected(status: Int, response: String)
        /// Worth retrying: no reply, timeout, 408/425/429, 5xx; and 3xx/401/403/404/405/407,
        /// which say the target is misconfigured (URL or token), not that the alert is bad.
        case failed(String)
    }

    public func post(_ body: [UInt8]) async throws -> Outcome {
        do throws(JSONRPCError) {
            return Self.outcome(try await client.post(url: url, json: body))
        } catch {
            if case .cancelled = error { throw CancellationError() }
            return .failed("\(error)")
        }
    }

    static func outcome(_ response: HTTPResponse) -> Outcome {
        let status = response.status
        let text = String(decoding: response.body.prefix(200), as: UTF8.self)
        let shown = text.isEmpty ? "" : ": \(text)\(response.body.count > 200 ? "…" : "")"
        switch status {
        case 200..<300:
            return .delivered
        case 401, 403, 407:
            return .failed("HTTP \(status) (check the target's token or credentials)\(shown)")
        case 404, 405:
            return .failed("HTTP \(status) (check the target's URL)\(shown)")
        case 300..<400:
            return .failed("HTTP \(status) redirect (redirects are not followed: point the URL at the final address)")
        case 408, 425, 429, 500..<600:
            return .failed("HTTP \(status)\(shown)")
        case 400..<500:
            return .rejected(status: status, response: text)
        default:
            return .failed("unexpected HTTP status \(status)\(shown)")
        }
    }
}
