import Alerting
import Foundation
import KafkaBus
import Reconciler
import WatchCore

/// The whole validated config: host sections plus the enabled plugins.
public struct HostConfig: Sendable {
    public var databaseURL = ""
    public var databasePoolSize = 4
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
    public var httpHost = "127.0.0.1"
    public var httpPort = 8080
    public var controlToken: String?
    public var kafkaBrokers: [String] = []
    public var topicObservations = "unrip.funding.observations"
    public var topicAlerts = "unrip.alerts"
    public var kafkaClientID = "unrip-watch"
    public var kafkaGroupID = "unrip-watch"
    public var topicPrices = "unrip.reference_prices"
    public var topicInventory = "unrip.inventory_snapshots"
    public var topicExecutionResults = "unrip.execution_results"
    /// librdkafka properties passed through (SASL, TLS, …); secrets redacted in `effective`.
    public var kafkaProperties: [String: String] = [:]
    public var alerts = AlertsConfig()
    public var logLevel = "info"
    /// Enabled adapters, in registry order.
    public var adapters: [LoadedAdapter] = []
    /// The `[bridge]` section when enabled: the reconciler and its credit sources.
    public var reconciler: ReconcilerConfiguration?
    /// The effective config, secrets redacted: printed by `check-config`, served in `/state`.
    public var effective: JSONValue = .object([:])

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
