import Alerting
import Foundation
import Testing
import WatchCore

@Suite("AlertPush config: [alerts.push]")
struct AlertPushConfigTests {
    /// Reads `[alerts]` with `push` as its `[alerts.push]` table, as the host does.
    func load(_ push: [String: ConfigValue], environment: [String: String] = [:]) -> (AlertsConfig, ConfigSection, [String]) {
        let problems = ConfigProblems()
        let section = ConfigSection(path: "alerts", table: ["push": .table(push)], environment: environment, problems: problems)
        let config = AlertsConfig(section: section)
        section.finish()
        return (config, section, problems.all.map(\.description))
    }

    @Test("no target configured: push is off, every default in the effective config")
    func defaultsAreOff() {
        let (config, section, problems) = load([:])
        #expect(problems.isEmpty)
        #expect(!config.push.isEnabled)
        #expect(config.push == AlertPushConfig())
        let push = section.effective["push"]
        #expect(push?["alertmanager_url"] == .null && push?["webhook_url"] == .null)
        #expect(push?["resend_interval_s"] == .int(60) && push?["timeout_s"] == .int(10))
    }

    @Test("both targets: the Alertmanager base URL gets /api/v2/alerts; secrets are redacted in the effective config")
    func targetsAndRedaction() {
        let (config, section, problems) = load([
            "alertmanager_url": "http://am.internal:9093/", "webhook_url": "https://hooks.internal/unrip?key=abcdef",
            "webhook_token": "tok-123", "resend_interval_s": 30, "generator_url": "http://watch.internal:8080/plugins/alerts/state",
        ])
        #expect(problems.isEmpty, "\(problems)")
        #expect(config.push.alertmanagerEndpoint == "http://am.internal:9093/api/v2/alerts")
        #expect(config.push.webhookToken == "tok-123")
        #expect(AlertPushTarget.targets(config.push).map(\.name) == ["alertmanager", "webhook"])
        let shown = section.effective["push"]?.serialized() ?? ""
        #expect(!shown.contains("tok-123") && !shown.contains("abcdef"), "\(shown)")
        #expect(section.effective["push"]?["webhook_token"] == "<redacted>")
        #expect(section.effective["push"]?["webhook_url"] == "https://hooks.internal/unrip?key=<redacted>")
    }

    @Test("an Alertmanager URL already ending in /api/v2/alerts is taken as the endpoint")
    func fullEndpointAccepted() {
        let (config, _, problems) = load(["alertmanager_url": "https://am.internal/api/v2/alerts"])
        #expect(problems.isEmpty)
        #expect(config.push.alertmanagerEndpoint == "https://am.internal/api/v2/alerts")
    }

    @Test("environment overrides UNRIP_ALERTS_PUSH_<KEY> reach [alerts.push]")
    func environmentOverrides() {
        let (config, _, problems) = load(
            [:], environment: ["UNRIP_ALERTS_PUSH_WEBHOOK_URL": "http://127.0.0.1:9000/hook", "UNRIP_ALERTS_PUSH_WEBHOOK_TOKEN": "from-env"])
        #expect(problems.isEmpty)
        #expect(config.push.webhookURL == "http://127.0.0.1:9000/hook")
        #expect(config.push.webhookToken == "from-env")
    }

    @Test("each bad key gets one message naming the key, the value and the fix")
    func badValuesNameTheKey() {
        let (_, _, problems) = load([
            "alertmanager_url": "http://am.internal:9093/api/v1/alerts", "webhook_url": "ftp://hooks.internal/x",
            "generator_url": "not a url", "timeout_s": 0, "resend_interval_s": "often", "batch_size": 5000, "bogus": true,
        ])
        let expected = [
            "alerts.push.alertmanager_url = \"http://am.internal:9093/api/v1/alerts\": Alertmanager API v1 is gone",
            "alerts.push.webhook_url = \"ftp://hooks.internal/x\": expected an http:// or https:// URL",
            "alerts.push.generator_url = \"not a url\": expected an http:// or https:// URL",
            "alerts.push.timeout_s = 0: expected an integer in 1...300",
            "alerts.push.resend_interval_s = \"often\": expected an integer",
            "alerts.push.batch_size = 5000: expected an integer in 1...1000",
            "alerts.push.bogus: unknown key",
        ]
        for prefix in expected {
            #expect(problems.filter { $0.hasPrefix(prefix) }.count == 1, "\(prefix) not in \(problems)")
        }
        #expect(problems.count == expected.count, "\(problems)")
    }

    @Test("a webhook token without a webhook URL is refused, without showing the token")
    func tokenWithoutURL() {
        let (_, _, problems) = load(["webhook_token": "tok-999"])
        #expect(problems == ["alerts.push.webhook_token = <redacted>: a token without webhook_url; set webhook_url or remove the token"])
    }
}
