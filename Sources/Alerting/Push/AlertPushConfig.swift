import Foundation
import JSONRPCClient
import WatchCore

/// `[alerts.push]`: where firing and resolved alerts are pushed. Both targets are optional;
/// with neither, push is off.
public struct AlertPushConfig: Sendable, Equatable {
    /// Alertmanager base URL; alerts go to `<base>/api/v2/alerts`.
    public var alertmanagerURL: String?
    /// Generic webhook: each `unrip.alert.v1` event is POSTed here as it is.
    public var webhookURL: String?
    /// Sent as `Authorization: Bearer <token>` to the webhook; never logged or shown.
    public var webhookToken: String?
    /// Per-request timeout.
    public var timeoutSeconds: Int
    /// Backoff after a transient failure: doubles from this, with jitter…
    public var retryInitialMs: Int
    /// …up to this. Transient failures are retried without limit: nothing is dropped.
    public var retryMaxSeconds: Int
    /// Every active firing alert is re-sent to the Alertmanager this often (0 = never), so it
    /// does not resolve them itself after its `resolve_timeout`.
    public var resendIntervalSeconds: Int
    /// `generatorURL` of the alerts sent to the Alertmanager (e.g. this host's `/plugins/alerts/state`).
    public var generatorURL: String?
    /// Look for new events at least this often (the evaluator also wakes the pusher at once).
    public var pollIntervalMs: Int
    /// At most this many alerts per Alertmanager POST.
    public var batchSize: Int
    /// `/plugins/alert_push/healthz` is unhealthy once a target has been failing this long.
    public var unhealthyAfterSeconds: Int

    public init(
        alertmanagerURL: String? = nil, webhookURL: String? = nil, webhookToken: String? = nil, timeoutSeconds: Int = 10,
        retryInitialMs: Int = 500, retryMaxSeconds: Int = 60, resendIntervalSeconds: Int = 60, generatorURL: String? = nil,
        pollIntervalMs: Int = 5000, batchSize: Int = 64, unhealthyAfterSeconds: Int = 300
    ) {
        self.alertmanagerURL = alertmanagerURL
        self.webhookURL = webhookURL
        self.webhookToken = webhookToken
        self.timeoutSeconds = timeoutSeconds
        self.retryInitialMs = retryInitialMs
        self.retryMaxSeconds = retryMaxSeconds
        self.resendIntervalSeconds = resendIntervalSeconds
        self.generatorURL = generatorURL
        self.pollIntervalMs = pollIntervalMs
        self.batchSize = batchSize
        self.unhealthyAfterSeconds = unhealthyAfterSeconds
    }

    public var isEnabled: Bool { alertmanagerURL != nil || webhookURL != nil }

    /// Where alerts are POSTed: `<alertmanager_url>/api/v2/alerts`.
    public var alertmanagerEndpoint: String? { alertmanagerURL.map { $0 + "/api/v2/alerts" } }

    /// Reads `[alerts.push]` (keys overridable as `UNRIP_ALERTS_PUSH_<KEY>`); problems are
    /// recorded in the section, named by key.
    public init(section s: ConfigSection) {
        let d = AlertPushConfig()
        alertmanagerURL = Self.url(s, "alertmanager_url", example: "http://alertmanager.internal:9093").flatMap {
            Self.alertmanagerBase($0, s)
        }
        webhookURL = Self.url(s, "webhook_url", example: "https://hooks.internal/unrip-alerts")
        let token = s.secret("webhook_token", orFile: "webhook_token_file", what: "the webhook's bearer token")
        if token != nil, !s.has("webhook_url") {
            s.problem("webhook_token", "<redacted>", "a token without webhook_url; set webhook_url or remove the token")
        }
        webhookToken = token
        s.recordEffective("webhook_token", token == nil ? .null : "<redacted>")
        timeoutSeconds = s.int("timeout_s", default: d.timeoutSeconds, range: 1...300)
        retryInitialMs = s.int("retry_initial_ms", default: d.retryInitialMs, range: 10...600_000)
        retryMaxSeconds = s.int("retry_max_s", default: d.retryMaxSeconds, range: 1...3600)
        if retryMaxSeconds * 1000 < retryInitialMs {
            s.problem("retry_max_s", String(retryMaxSeconds), "must be at least retry_initial_ms (\(retryInitialMs) ms)")
        }
        resendIntervalSeconds = s.int("resend_interval_s", default: d.resendIntervalSeconds, range: 0...86_400)
        generatorURL = Self.url(s, "generator_url", example: "http://unrip-watch.internal:8080/plugins/alerts/state")
        pollIntervalMs = s.int("poll_interval_ms", default: d.pollIntervalMs, range: 50...3_600_000)
        batchSize = s.int("batch_size", default: d.batchSize, range: 1...1000)
        unhealthyAfterSeconds = s.int("unhealthy_after_s", default: d.unhealthyAfterSeconds, range: 1...604_800)
    }

    /// An optional http(s) URL; "" means not set. The effective config shows it redacted.
    static func url(_ s: ConfigSection, _ key: String, example: String) -> String? {
        guard let text = s.string(key, secret: true)?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            s.recordEffective(key, .null)
            return nil
        }
        let shown = URLRedaction.redact(text)
        s.recordEffective(key, .string(shown))
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else {
            s.problem(key, "\"\(shown)\"", "expected an http:// or https:// URL with a host, e.g. \(example)")
            return nil
        }
        return text
    }

    /// The base URL without trailing slashes; `…/api/v2/alerts` is accepted and trimmed.
    static func alertmanagerBase(_ text: String, _ s: ConfigSection) -> String? {
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/api/v1/alerts") {
            s.problem(
                "alertmanager_url", "\"\(URLRedaction.redact(text))\"",
                "Alertmanager API v1 is gone (removed in 0.27); give the base URL, e.g. http://alertmanager.internal:9093 (alerts go to <base>/api/v2/alerts)")
            return nil
        }
        if base.hasSuffix("/api/v2/alerts") { base.removeLast("/api/v2/alerts".count) }
        return base
    }
}
