import Foundation
import Testing
import WatchCore
import UnripAdapters
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
            let report = HostCommands.checkConfig(path: root.appendingPathComponent(file).path, environment: [:], registry: registeredAdapters)
            #expect(report.ok, "\(file): \(report.output)")
        }
    }

    /// Every leak the hostile probe found, through `check-config` (the same effective config
    /// `GET /state` serves): none of the secret markers may appear anywhere in the output.
    @Test func checkConfigShowsNoSecretWhereverItIsWritten() throws {
        let text = """
            [database]
            url = "host=db.internal password = LEAK1 user=unrip"
            [control]
            token = "LEAK2-token"
            [kafka]
            brokers = ["127.0.0.1:9092"]
            [kafka.properties]
            "ssl.key.pem" = "-----BEGIN PRIVATE KEY----- LEAK3"
            "sasl.oauthbearer.config" = "principal=x clientSecret=LEAK4"
            "sasl.jaas.config" = "org.apache.kafka.common.security.plain.PlainLoginModule password=LEAK5;"
            "client.rack" = "rack-1"
            [bridge]
            enabled = true
            accounts = ["mm.near"]
            rpc_url = "https://bridge.example/rpc?apikey=LEAK6"
            near_rpc_url = "https://user:LE?AK7#x@near.example/LEAK8abc123"
            [bridge.chains]
            testchain = "test:1"
            [bridge.tokens]
            TST = "nep141:tst.near"
            [testchain]
            enabled = true
            handles = [{ address = "abc" }]
            """
        let report = HostCommands.checkConfig(path: try write(text), environment: [:], registry: registry)
        #expect(report.ok, "\(report.output)")
        for n in 1...8 {
            #expect(!report.output.contains("LEAK\(n)") && !report.output.contains("AK\(n)"), "LEAK\(n) shown:\n\(report.output)")
        }
        #expect(report.output.contains("rack-1"), "a property that is no secret is still shown")
        #expect(report.output.contains("bridge.example/rpc"), "a redacted URL still says where it points")

        // A misspelled secret key is named, never shown with its value.
        let misspelled = HostCommands.checkConfig(path: try write(text + "\nrpc_pasword = \"LEAK9\"\n"), environment: [:], registry: registry)
        #expect(!misspelled.ok)
        #expect(misspelled.output.contains("testchain.rpc_pasword: unknown key"), "\(misspelled.output)")
        #expect(!misspelled.output.contains("LEAK9"), "\(misspelled.output)")
        // A bad URL is named with its credentials hidden.
        let badURL = HostCommands.checkConfig(
            path: try write(text.replacingOccurrences(of: "https://bridge.example/rpc?apikey=LEAK6", with: "ftp://u:LEAK6@bridge.example/")),
            environment: [:], registry: registry)
        #expect(badURL.output.contains("bridge.rpc_url = \"ftp://u:<redacted>@bridge.example/\""), "\(badURL.output)")
    }

    @Test func redactionHidesEveryFormOfCredential() {
        let cases: [(String, String)] = [
            ("https://u:pa?ss@host:8545/", "https://u:<redacted>@host:8545/"),
            ("https://u:pa#ss@host/", "https://u:<redacted>@host/"),
            ("https://rpc.example/rpc/abcd1234ef", "https://rpc.example/rpc/<redacted>"),
            ("https://rpc.example/v3/mainnet", "https://rpc.example/v3/mainnet"),
            ("host=db password='QUOTED PW' user=x", "host=db password=<redacted> user=x"),
            ("host=db password = spaced user=x", "host=db password = <redacted> user=x"),
            ("host=db password='it\\'s' user=x", "host=db password=<redacted> user=x"),
            // A raw '/' in the password, and a URL without a scheme: hidden all the same.
            ("postgresql://u:hunter2/x@host/db", "postgresql://u:<redacted>@host/db"),
            ("u:hunter2@h:5432/db", "u:<redacted>@h:5432/db"),
            ("password=a@b host=x", "password=<redacted> host=x"),
        ]
        for (raw, shown) in cases { #expect(Redaction.url(raw) == shown, "\(raw)") }
        for key in ["ssl.key.pem", "sasl.oauthbearer.config", "sasl.jaas.config", "rpc_password", "webhook_token", "ssl.key.password"] {
            #expect(Redact.isSecretKey(key), "\(key)")
        }
        for key in ["client.rack", "rpc_url", "ssl.key.location", "rpc_cookie_file", "sasl.mechanisms"] {
            #expect(!Redact.isSecretKey(key), "\(key)")
        }
        #expect(Redact.urls(inText: "failed at https://u:pw@h/x?k=v now") == "failed at https://u:<redacted>@h/x?k=<redacted> now")
        // libpq misreads `u:hunter2/x@h` (host u, port hunter2) and quotes a piece: scrubbed too.
        let fragments = Redact.secretFragments(ofURL: "postgresql://u:hunter2/x@h/db")
        #expect(Redact.scrub("invalid port number: \"hunter2\"", fragments: fragments) == "invalid port number: \"<redacted>\"")
    }

    @Test func deeplyNestedKeysAreRefusedNotACrash() throws {
        let deepHeader = "[" + Array(repeating: "a", count: 10_000).joined(separator: ".") + "]\nx = 1\n"
        let deepKey = Array(repeating: "b", count: 20_000).joined(separator: ".") + " = 1\n"
        for text in [deepHeader, deepKey] {
            let report = HostCommands.checkConfig(path: try write(text), environment: [:], registry: registry)
            #expect(!report.ok)
            #expect(report.output.contains("keys nested too deep: at most 32 dotted levels"), "\(report.output.prefix(300))")
        }
        // Floats and times are no dotted keys; 31 levels are fine.
        let fine = "x = [" + Array(repeating: "2.5", count: 40).joined(separator: ", ") + "]\nt = 07:32:00.999\n"
            + Array(repeating: "c", count: 32).joined(separator: ".") + " = 1\n"
        let table = try HostConfig.loadTable(path: try write(fine))
        #expect(table["x"] == .array(Array(repeating: .double(2.5), count: 40)))
    }

    @Test func aTOMLDateTimeIsNoString() throws {
        let report = HostCommands.checkConfig(
            path: try write("[database]\nurl = 1979-05-27T07:32:00Z\n[testchain]\nenabled = true\nhandles = [{ address = \"abc\" }]\n"),
            environment: [:], registry: registry)
        #expect(!report.ok)
        #expect(report.output.contains("database.url = <redacted>: expected a string, found date-time"), "\(report.output)")
    }

    @Test func redactionHidesCredentials() {
        #expect(Redaction.url("https://user:pw@rpc.example/v1/abc?apikey=XYZ") == "https://user:<redacted>@rpc.example/v1/abc?apikey=<redacted>")
        #expect(Redaction.url("host=db password=pw dbname=x") == "host=db password=<redacted> dbname=x")
    }
}

extension HostConfigTests {
    @Test func theInputConsumersIdlePauseIsReadCheckedAndDefaulted() throws {
        let base = """
            [database]
            url = "postgresql://db.internal/unrip"
            [kafka]
            brokers = ["127.0.0.1:9092"]
            """
        let defaulted = try HostConfig.load(path: try write(base), environment: [:], registry: registry)
        // Off unless asked for: a broker that holds empty fetches can starve a pausing consumer.
        #expect(defaulted.kafkaInputIdleFetchPauseMs == 0)
        #expect(defaulted.kafkaInputStallAfterSeconds == 60)
        let on = try HostConfig.load(path: try write(base + "\ninput_idle_fetch_pause_ms = 100\ninput_stall_after_s = 9"), environment: [:], registry: registry)
        #expect(on.kafkaInputIdleFetchPauseMs == 100)
        #expect(on.kafkaInputStallAfterSeconds == 9)
        let report = HostCommands.checkConfig(path: try write(base + "\ninput_idle_fetch_pause_ms = -5"), environment: [:], registry: registry)
        #expect(!report.ok)
        #expect(report.output.contains("kafka.input_idle_fetch_pause_ms = -5: expected an integer in 0...10000"), "\(report.output)")
    }
}
