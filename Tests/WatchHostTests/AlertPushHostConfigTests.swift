import Foundation
import Testing
import WatchCore
import UnripAdapters
import WatchHost
import WatchTesting

@Suite struct AlertPushHostConfigTests {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func checkConfigListsAlertPushAndHidesTheWebhookToken() throws {
        let tokenFile = try write("hook-token-from-file\n")
        let path = try write("""
            [database]
            url = "postgresql://a@b/c"
            [alerts.push]
            alertmanager_url = "http://user:am-pass@am.internal:9093"
            webhook_url = "https://hooks.internal/unrip"
            webhook_token_file = "\(tokenFile)"
            """)
        let config = try HostConfig.load(path: path, environment: [:], registry: registeredAdapters)
        #expect(config.alerts.push.webhookToken == "hook-token-from-file")
        #expect(config.enabledPlugins.contains("alert_push"))
        let report = HostCommands.checkConfig(path: path, environment: [:], registry: registeredAdapters)
        #expect(report.ok, "\(report.output)")
        #expect(report.output.contains("alert_push"))
        #expect(!report.output.contains("hook-token-from-file") && !report.output.contains("am-pass"), "\(report.output)")
    }

    @Test func badPushValuesFailCheckConfigNamingTheKey() throws {
        let path = try write("""
            [database]
            url = "postgresql://a@b/c"
            [alerts.push]
            webhook_url = "hooks.internal/unrip"
            retry_max_s = 0
            """)
        let report = HostCommands.checkConfig(path: path, environment: [:], registry: registeredAdapters)
        #expect(!report.ok)
        #expect(report.output.contains("config error: alerts.push.webhook_url = \"hooks.internal/unrip\": expected an http:// or https:// URL"))
        #expect(report.output.contains("config error: alerts.push.retry_max_s = 0: expected an integer in 1...3600"))
    }
}
