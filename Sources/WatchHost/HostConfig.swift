import Alerting
import Foundation
import KafkaBus
import Reconciler
import WatchCore

/// The whole validated config: host sections plus the enabled plugins.
public struct HostConfig: Sendable {
    public var databaseURL: String
    public var databasePoolSize: Int
    /// How long `run` waits for PostgreSQL at start (retrying with backoff) before giving up.
    public var databaseStartupTimeoutSeconds = 60
    /// HTTP connections served at once; past it new ones wait in the listen backlog.
    public var httpMaxConnections = 256
    /// An HTTP connection with no traffic for this long is closed.
    public var httpIdleTimeoutSeconds = 30
    /// `[http] read_header_timeout_s`: a request head must arrive within this long of the connection
    /// opening or of the previous response.
    public var httpReadHeaderTimeoutSeconds = 30
    /// `[kafka] shutdown_timeout_s`: on SIGTERM the relay waits this long for the
    /// acknowledgements of batches in flight; what is still unacknowledged stays unpublished.
    public var kafkaShutdownTimeoutSeconds = 10
    /// `[kafka] input_idle_fetch_pause_ms`: the input consumer's idle pause (0: fetch continuously).
    public var kafkaInputIdleFetchPauseMs = 0
    /// `[kafka] input_stall_after_s`: how long the input consumer may hold no partition, or
    /// leave messages waiting untaken, before it reports the stall and recovers.
    public var kafkaInputStallAfterSeconds = 60
    /// `[ha]`: leases and fencing across hosts.
    public var ha = HAConfig()
    public var migrationsDir: String?
    public var httpHost: String
    public var httpPort: Int
    public var controlToken: String?
    public var kafkaBrokers: [String]
    public var topicObservations: String
    public var topicAlerts: String
    public var kafkaClientID: String
    public var kafkaGroupID: String
    public var topicPrices: String
    public var topicInventory: String
    public var topicExecutionResults: String
    /// librdkafka properties passed through (SASL, TLS, …); secrets redacted in `effective`.
    public var kafkaProperties: [String: String]
    public var alerts: AlertsConfig
    public var logLevel: String
    /// Enabled adapters, in registry order.
    public var adapters: [LoadedAdapter]
    /// The `[bridge]` section when enabled: the reconciler and its credit sources.
    public var reconciler: ReconcilerConfiguration?
    /// The effective config, secrets redacted: printed by `check-config`, served in `/state`.
    public var effective: JSONValue

    /// Error text as it may be shown (a log line, stderr): URLs redacted, and the pieces of the
    /// database URL's password hidden wherever a library echoed them.
    public func scrubbed(_ text: String) -> String {
        Redact.scrub(text, fragments: Redact.secretFragments(ofURL: databaseURL) + [controlToken].compactMap { $0 }.filter { $0.count >= 4 })
    }

    public var enabledPlugins: [String] {
        adapters.map(\.kind) + (reconciler == nil ? [] : ["reconciler"]) + (alerts.push.isEnabled ? ["alert_push"] : [])
    }

    static let hostSections = ["database", "http", "control", "kafka", "alerts", "log", "bridge", "ha"]

    /// Loads and validates `path`, with `UNRIP_<SECTION>_<KEY>` overrides from `environment`.
    /// Throws every problem at once.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment, registry: [AdapterRegistration]) throws(ConfigErrors) -> HostConfig {
        let table: [String: ConfigValue]
        do {
            table = try TOMLLoader.load(path: path)
        } catch {
            throw ConfigErrors(problems: [error])
        }
        return try parse(table, environment: environment, registry: registry)
    }

    /// The raw table of a config file (for tests and tools).
    public static func loadTable(path: String) throws(ConfigProblem) -> [String: ConfigValue] {
        try TOMLLoader.load(path: path)
    }

    public static func parse(_ table: [String: ConfigValue], environment: [String: String], registry: [AdapterRegistration]) throws(ConfigErrors) -> HostConfig {
        let problems = ConfigProblems()
        var effective: [String: JSONValue] = [:]
        func section(_ name: String) -> ConfigSection {
            var t: [String: ConfigValue] = [:]
            if let value = table[name] {
                if case .table(let inner) = value {
                    t = inner
                } else {
                    problems.add(ConfigProblem(key: name, value: "\(value.typeName)", expected: "expected a [\(name)] table"))
                }
            }
            return ConfigSection(path: name, table: t, environment: environment, problems: problems)
        }

        let database = section("database")
        let url = database.string("url", required: true, secret: true) ?? ""
        database.recordEffective("url", .string(Redaction.url(url)))
        let poolSize = database.int("pool_size", default: 4, range: 1...64)
        let migrations = database.string("migrations_dir")
        let startupTimeout = database.int("startup_timeout_s", default: 60, range: 0...86_400)
        database.finish()
        effective["database"] = .object(database.effective)

        let http = section("http")
        let listen = http.string("listen", default: "127.0.0.1:8080") ?? "127.0.0.1:8080"
        let (host, port) = parseListen(listen) ?? ("127.0.0.1", 8080)
        if parseListen(listen) == nil {
            http.problem("listen", "\"\(listen)\"", "expected host:port, e.g. 127.0.0.1:8080 (port 0–65535)")
        }
        let maxConnections = http.int("max_connections", default: 256, range: 1...100_000)
        let idleTimeout = http.int("idle_timeout_s", default: 30, range: 1...3_600)
        let readHeaderTimeout = http.int("read_header_timeout_s", default: 30, range: 1...3_600)
        http.finish()
        effective["http"] = .object(http.effective)

        let haSection = section("ha")
        let ha = HAConfig.read(haSection)
        effective["ha"] = .object(haSection.effective)

        let control = section("control")
        let token = control.secret("token", orFile: "token_file", what: "the control token")
        control.recordEffective("token", token == nil ? .null : "<redacted>")
        control.finish()
        effective["control"] = .object(control.effective)

        let kafka = section("kafka")
        let brokers = kafka.stringArray("brokers")
        let topicObservations = kafka.string("topic_observations", default: "unrip.funding.observations") ?? ""
        let topicAlerts = kafka.string("topic_alerts", default: "unrip.alerts") ?? ""
        let clientID = kafka.string("client_id", default: "unrip-watch") ?? "unrip-watch"
        let groupID = kafka.string("group_id", default: "unrip-watch") ?? "unrip-watch"
        let topicPrices = kafka.string("topic_prices", default: "unrip.reference_prices") ?? ""
        let topicInventory = kafka.string("topic_inventory", default: "unrip.inventory_snapshots") ?? ""
        let topicExecution = kafka.string("topic_execution_results", default: "unrip.execution_results") ?? ""
        let shutdownTimeout = kafka.int("shutdown_timeout_s", default: 10, range: 0...600)
        let inputIdlePause = kafka.int("input_idle_fetch_pause_ms", default: 0, range: 0...10_000)
        let inputStallAfter = kafka.int("input_stall_after_s", default: 60, range: 5...3600)
        var kafkaProperties: [String: String] = [:]
        if let props = kafka.table("properties") {
            for key in props.keys {
                guard let value = props.string(key, secret: Redact.isSecretKey(key)) else { continue }
                if let problem = KafkaClientConfig.problem(property: key, value: value) {
                    props.problem(key, nil, problem)  // named by key only: the value may be a secret
                    continue
                }
                kafkaProperties[key] = value
            }
            kafka.recordEffective("properties", .object(props.effective))
        }
        for (key, value) in [("topic_observations", topicObservations), ("topic_alerts", topicAlerts),
            ("topic_prices", topicPrices), ("topic_inventory", topicInventory), ("topic_execution_results", topicExecution)]
        where value.isEmpty {
            kafka.problem(key, "\"\"", "expected a topic name")
        }
        kafka.finish()
        effective["kafka"] = .object(kafka.effective)

        let alertsSection = section("alerts")
        let alerts = AlertsConfig(section: alertsSection)
        alertsSection.finish()
        effective["alerts"] = .object(alertsSection.effective)

        let log = section("log")
        let level = log.string("level", default: "info") ?? "info"
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(level) {
            log.problem("level", "\"\(level)\"", "expected one of trace, debug, info, notice, warning, error, critical")
        }
        log.finish()
        effective["log"] = .object(log.effective)

        var reconciler: ReconcilerConfiguration?
        if table["bridge"] != nil || environment["UNRIP_BRIDGE_ENABLED"] != nil {
            let bridge = section("bridge")
            if bridge.bool("enabled", default: false) {
                reconciler = ReconcilerConfiguration(section: bridge)
                bridge.finish()
                effective["bridge"] = .object(bridge.effective)
            } else {
                effective["bridge"] = ["enabled": false]
            }
        }

        var adapters: [LoadedAdapter] = []
        var familyEffective: [String: [String: JSONValue]] = [:]
        for p in pluginSections(table, environment: environment, registry: registry, problems: problems) {
            let s = p.section, name = s.pluginName
            func record(_ value: JSONValue) {
                if let family = s.family { familyEffective[family, default: [:]][name] = value } else { effective[name] = value }
            }
            s.handlesMayComeFromBridge = reconciler.map { $0.handlesFromBridge && ($0.chains[name] != nil || s.has("bridge_chain") || s.family != nil) } ?? false
            guard s.bool("enabled", default: p.enabledByDefault) else {
                record(["enabled": false])
                continue
            }
            let loaded = p.registration.load(s)
            s.finish()
            record(.object(s.effective))
            adapters.append(loaded)
        }
        for (family, instances) in familyEffective { effective[family] = .object(instances) }
        if var bridge = reconciler {
            joinBridge(&bridge, adapters: adapters, problems: problems)
            reconciler = bridge
            effective["bridge"] = bridge.effective(merging: effective["bridge"])
        }

        let known = Set(hostSections + registry.map(\.kind))
        for key in table.keys.sorted() where !known.contains(key) {
            let plugins = registry.map { $0.isFamily ? "\($0.kind).<name>" : $0.kind }.joined(separator: ", ")
            problems.add(ConfigProblem(
                key: key, value: nil,
                expected: "unknown section or plugin [\(key)]; host sections are \(hostSections.joined(separator: ", ")) and registered plugins are \(plugins.isEmpty ? "(none)" : plugins)"))
        }

        if !problems.all.isEmpty { throw ConfigErrors(problems: problems.all) }
        var config = HostConfig(
            databaseURL: url, databasePoolSize: poolSize, migrationsDir: migrations, httpHost: host, httpPort: port,
            controlToken: token, kafkaBrokers: brokers, topicObservations: topicObservations, topicAlerts: topicAlerts,
            kafkaClientID: clientID, kafkaGroupID: groupID, topicPrices: topicPrices, topicInventory: topicInventory,
            topicExecutionResults: topicExecution, kafkaProperties: kafkaProperties, alerts: alerts, logLevel: level, adapters: adapters, reconciler: reconciler, effective: .object(effective))
        config.databaseStartupTimeoutSeconds = startupTimeout
        config.httpMaxConnections = maxConnections
        config.httpIdleTimeoutSeconds = idleTimeout
        config.httpReadHeaderTimeoutSeconds = readHeaderTimeout
        config.kafkaShutdownTimeoutSeconds = shutdownTimeout
        config.kafkaInputIdleFetchPauseMs = inputIdlePause
        config.kafkaInputStallAfterSeconds = inputStallAfter
        config.ha = ha
        return config
    }

    /// `host:port`, `[v6]:port`.
    static func parseListen(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port), !host.isEmpty else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }
}

/// Every problem found in a config, one per line.
public struct ConfigErrors: Error, CustomStringConvertible {
    public let problems: [ConfigProblem]
    public var description: String { problems.map { "config error: \($0)" }.joined(separator: "\n") }
}
