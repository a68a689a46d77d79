import Foundation
import Logging
import Metrics
import PostgresStore
import Prometheus
import WatchCore

/// The work behind the CLI commands, kept here so tests run it without a subprocess.
public enum HostCommands {
    public struct Report: Sendable {
        public let ok: Bool
        public let output: String
    }

    /// `check-config FILE`: the enabled plugins and the effective config, or one line per problem.
    public static func checkConfig(path: String, environment: [String: String], registry: [AdapterRegistration]) -> Report {
        do {
            let config = try HostConfig.load(path: path, environment: environment, registry: registry)
            let plugins = config.enabledPlugins.isEmpty ? "(none)" : config.enabledPlugins.joined(separator: ", ")
            return Report(ok: true, output: "config OK: \(path)\nenabled plugins: \(plugins)\neffective config: \(config.effective.serialized())")
        } catch {
            return Report(ok: false, output: error.description + "\n\(error.problems.count) problem(s) in \(path)")
        }
    }

    /// `migrate`: applies what is missing; returns the versions applied now.
    public static func migrate(config: HostConfig, logger: Logger) async throws -> [Int] {
        let pool = PostgresPool(url: config.databaseURL, size: 1, logger: logger)
        let runner = try MigrationRunner(directory: MigrationRunner.locate(explicit: config.migrationsDir))
        return try await runner.apply(to: pool, logger: logger)
    }
}

extension UnripHost {
    /// Routes swift-metrics into the registry served at `/metrics` (once per process).
    public func bootstrapMetrics() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
    }
}
