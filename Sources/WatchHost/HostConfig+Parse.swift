import Alerting
import KafkaBus
import Reconciler
import WatchCore

extension HostConfig {
    /// Validates a config table (each key's default is the property's own, in HostConfig.swift), with `UNRIP_<SECTION>_<KEY>` overrides from `environment`.
    /// Throws every problem at once.
    public static func parse(_ table: [String: ConfigValue], environment: [String: String], registry: [AdapterRegistration]) throws(ConfigErrors) -> HostConfig {
        let reader = HostSectionReader(table: table, environment: environment)
        var config = HostConfig()
        reader.read("database") { config.readDatabase($0) }
        reader.read("http") { config.readHTTP($0) }
        reader.read("ha", finish: false) { config.ha = HAConfig.read($0) }
        reader.read("control") { config.readControl($0) }
        reader.read("kafka") { config.readKafka($0) }
        reader.read("alerts") { config.alerts = AlertsConfig(section: $0) }
        reader.read("log") { config.readLog($0) }
        config.reconciler = reader.readBridge()
        config.adapters = reader.readAdapters(registry: registry, reconciler: config.reconciler)
        if var bridge = config.reconciler {
            joinBridge(&bridge, adapters: config.adapters, problems: reader.problems)
            config.reconciler = bridge
            reader.effective["bridge"] = bridge.effective(merging: reader.effective["bridge"])
        }
        reader.checkUnknownSections(known: hostSections, registry: registry)
        if !reader.problems.all.isEmpty { throw ConfigErrors(problems: reader.problems.all) }
        config.effective = .object(reader.effective)
        return config
    }

    private mutating func readDatabase(_ database: ConfigSection) {
        databaseURL = database.string("url", required: true, secret: true) ?? ""
        database.recordEffective("url", .string(Redaction.url(databaseURL)))
        databasePoolSize = database.int("pool_size", default: databasePoolSize, range: 1...64)
        migrationsDir = database.string("migrations_dir")
        databaseStartupTimeoutSeconds = database.int("startup_timeout_s", default: databaseStartupTimeoutSeconds, range: 0...86_400)
    }

    private mutating func readHTTP(_ http: ConfigSection) {
        let listen = http.string("listen", default: "127.0.0.1:8080") ?? "127.0.0.1:8080"
        if let (host, port) = Self.parseListen(listen) {
            (httpHost, httpPort) = (host, port)
        } else {
            http.problem("listen", "\"\(listen)\"", "expected host:port, e.g. 127.0.0.1:8080 (port 0–65535)")
        }
        httpMaxConnections = http.int("max_connections", default: httpMaxConnections, range: 1...100_000)
        httpIdleTimeoutSeconds = http.int("idle_timeout_s", default: httpIdleTimeoutSeconds, range: 1...3_600)
        httpReadHeaderTimeoutSeconds = http.int("read_header_timeout_s", default: httpReadHeaderTimeoutSeconds, range: 1...3_600)
    }

    private mutating func readControl(_ control: ConfigSection) {
        controlToken = control.secret("token", orFile: "token_file", what: "the control token")
        control.recordEffective("token", controlToken == nil ? .null : "<redacted>")
    }

    private mutating func readKafka(_ kafka: ConfigSection) {
        kafkaBrokers = kafka.stringArray("brokers")
        func topic(_ key: String, _ fallback: String) -> String {
            let value = kafka.string(key, default: fallback) ?? ""
            if value.isEmpty { kafka.problem(key, "\"\"", "expected a topic name") }
            return value
        }
        topicObservations = topic("topic_observations", topicObservations)
        topicAlerts = topic("topic_alerts", topicAlerts)
        kafkaClientID = kafka.string("client_id", default: kafkaClientID) ?? kafkaClientID
        kafkaGroupID = kafka.string("group_id", default: kafkaGroupID) ?? kafkaGroupID
        topicPrices = topic("topic_prices", topicPrices)
        topicInventory = topic("topic_inventory", topicInventory)
        topicExecutionResults = topic("topic_execution_results", topicExecutionResults)
        kafkaShutdownTimeoutSeconds = kafka.int("shutdown_timeout_s", default: kafkaShutdownTimeoutSeconds, range: 0...600)
        kafkaInputIdleFetchPauseMs = kafka.int("input_idle_fetch_pause_ms", default: kafkaInputIdleFetchPauseMs, range: 0...10_000)
        kafkaInputStallAfterSeconds = kafka.int("input_stall_after_s", default: kafkaInputStallAfterSeconds, range: 5...3600)
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
    }

    private mutating func readLog(_ log: ConfigSection) {
        logLevel = log.string("level", default: logLevel) ?? logLevel
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) {
            log.problem("level", "\"\(logLevel)\"", "expected one of trace, debug, info, notice, warning, error, critical")
        }
    }
}
