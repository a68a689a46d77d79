import Foundation
import Testing
import WatchCore
import WatchHost
import WatchTesting

@Suite struct HostConfigTests {
    let registry = registeredAdapters + [.adapter(TestChainAdapter.self)]

    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func goodFileListsEnabledPluginsAndRedactsSecrets() throws {
        let path = try write("""
            [database]
            url = "postgresql://unrip:hunter2@db.internal:5432/unrip"
            [http]
            listen = "127.0.0.1:9090"
            [control]
            token = "s3cret-token"
            [testchain]
            enabled = true
            handles = [{ address = "abc" }]
            """)
        let report = HostCommands.checkConfig(path: path, environment: [:], registry: registry)
        #expect(report.ok)
        #expect(report.output.contains("enabled plugins: testchain"))
        #expect(!report.output.contains("hunter2") && !report.output.contains("s3cret-token"))
        #expect(report.output.contains("postgresql://unrip:<redacted>@db.internal:5432/unrip"))
    }

    @Test func badFileGetsOneMessagePerProblemNamingKeyValueAndFix() throws {
        let path = try write("""
            [database]
            pool_size = "lots"
            [http]
            listen = "localhost"
            bogus = 1
            [testchain]
            enabled = true
            confirmations = 0
            handles = [{ address = "not valid!" }]
            [dogecoin]
            enabled = true
            """)
        let report = HostCommands.checkConfig(path: path, environment: [:], registry: registry)
        #expect(!report.ok)
        let lines = report.output.split(separator: "\n").filter { $0.hasPrefix("config error:") }
        let expected = [
            "database.url: missing",
            "database.pool_size = \"lots\": expected an integer",
            "http.listen = \"localhost\": expected host:port",
            "http.bogus: unknown key",
            "testchain.confirmations = 0: expected an integer in 1...1000",
            "testchain.handles[0].address = \"not valid!\"",
            "dogecoin: unknown section or plugin [dogecoin]",
        ]
        #expect(lines.count == expected.count, "\(lines)")
        for e in expected { #expect(lines.contains { $0.contains(e) }, "missing: \(e)\n\(report.output)") }
        #expect(report.output.contains("7 problem(s)"))
    }

    @Test func environmentOverridesEveryKey() throws {
        let path = try write("[database]\nurl = \"postgresql://a@b/c\"\n")
        let config = try HostConfig.load(
            path: path,
            environment: [
                "UNRIP_DATABASE_URL": "postgresql://env@host/db", "UNRIP_HTTP_LISTEN": "0.0.0.0:7000",
                "UNRIP_CONTROL_TOKEN": "tok", "UNRIP_KAFKA_BROKERS": "k1:9092, k2:9092", "UNRIP_DATABASE_POOL_SIZE": "9",
            ], registry: registry)
        #expect(config.databaseURL == "postgresql://env@host/db")
        #expect(config.httpHost == "0.0.0.0" && config.httpPort == 7000)
        #expect(config.controlToken == "tok")
        #expect(config.kafkaBrokers == ["k1:9092", "k2:9092"])
        #expect(config.databasePoolSize == 9)
        // A plugin enabled from the environment is validated like one enabled in the file.
        #expect {
            _ = try HostConfig.load(path: path, environment: ["UNRIP_TESTCHAIN_ENABLED": "true", "UNRIP_TESTCHAIN_CONFIRMATIONS": "4"], registry: registry)
        } throws: { "\($0)".contains("testchain.handles: at least one handle is required") }
        #expect {
            _ = try HostConfig.load(path: path, environment: ["UNRIP_TESTCHAIN_ENABLED": "yes-please"], registry: registry)
        } throws: { "\($0)".contains("testchain.enabled = \"yes-please\": expected true or false") }
    }

    @Test func tokenFromFileAndBrokenTOMLIsReportedWithItsLine() throws {
        let tokenFile = try write("file-token\n")
        let path = try write("[database]\nurl = \"postgresql://a@b/c\"\n[control]\ntoken_file = \"\(tokenFile)\"\n")
        #expect(try HostConfig.load(path: path, environment: [:], registry: registry).controlToken == "file-token")
        let broken = try write("[database]\nurl = \"unterminated\n")
        let report = HostCommands.checkConfig(path: broken, environment: [:], registry: registry)
        #expect(!report.ok && report.output.contains("line 2") && report.output.contains("not valid TOML"))
        let missing = HostCommands.checkConfig(path: "/no/such/file.toml", environment: [:], registry: registry)
        #expect(!missing.ok && missing.output.contains("not found"))
    }

    @Test func anUnreadableTokenFileNamesTheKeyTheValueAndTheFix() throws {
        let path = try write(
            """
            [database]
            url = "postgresql://a@b/c"
            [control]
            token_file = "/no/such/control-token"
            [alerts.push]
            webhook_url = "https://hooks.internal/unrip"
            webhook_token_file = "/no/such/webhook-token"
            """)
        let report = HostCommands.checkConfig(path: path, environment: [:], registry: registry)
        #expect(!report.ok)
        #expect(
            report.output.contains(
                "control.token_file = \"/no/such/control-token\": file not readable; point it at a file holding the control token"),
            "\(report.output)")
        #expect(
            report.output.contains(
                "alerts.push.webhook_token_file = \"/no/such/webhook-token\": file not readable; point it at a file holding the webhook's bearer token"),
            "\(report.output)")
    }

    @Test func shippedConfigsAreValid() throws {
        let root = URL(fileURLWithPath: TestDatabase.migrationsDirectory).deletingLastPathComponent()
        for file in ["config/example.toml", "config/devnet.toml"] {
            let report = HostCommands.checkConfig(path: root.appendingPathComponent(file).path, environment: [:])
            #expect(report.ok, "\(file): \(report.output)")
        }
    }

    @Test func redactionHidesCredentials() {
        #expect(Redaction.url("https://user:pw@rpc.example/v1/abc?apikey=XYZ") == "https://user:<redacted>@rpc.example/v1/abc?apikey=<redacted>")
        #expect(Redaction.url("host=db password=pw dbname=x") == "host=db password=<redacted> dbname=x")
    }
}
