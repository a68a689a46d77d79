import ControlAPI
import Foundation
import Hummingbird
import Logging
import PostgresStore
import Prometheus
import Reconciler
import ServiceLifecycle
import WatchCore

/// The host process: migrates, starts every enabled plugin under a `PluginSupervisor`, serves
/// the control surface, and shuts down gracefully on SIGTERM/SIGINT.
public struct UnripHost: Sendable {
    public static let version = "0.1.0"

    public let config: HostConfig
    public let logger: Logger
    public let clock: any WatchClock
    public let metrics: PrometheusCollectorRegistry

    public init(config: HostConfig, logger: Logger, clock: any WatchClock = SystemClock(), metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.config = config
        self.logger = logger
        self.clock = clock
        self.metrics = metrics
    }

    /// Everything built and migrated, not yet running.
    public struct Prepared: Sendable {
        public let surface: ControlSurface
        public let supervisors: [PluginSupervisor]
        public let repository: FundingRepository
    }

    /// Connects, migrates, registers handles and restores every adapter's tracker.
    public func prepare() async throws -> Prepared {
        let pool = PostgresPool(url: config.databaseURL, size: config.databasePoolSize, logger: logger)
        let runner = try MigrationRunner(directory: MigrationRunner.locate(explicit: config.migrationsDir))
        try await runner.apply(to: pool, logger: logger)
        let repository = FundingRepository(pool: pool, observationsTopic: config.topicObservations, logger: logger)

        var supervisors: [PluginSupervisor] = []
        for adapter in config.adapters {
            try await repository.syncHandles(chain: adapter.kind, adapter.handles)
            let pipeline = try await ChainPipeline.restore(
                adapter: adapter.kind, chain: adapter.kind, network: adapter.network, policy: adapter.policy,
                store: repository, clock: clock)
            var pluginLogger = logger
            pluginLogger[metadataKey: "plugin"] = "\(adapter.kind)"
            let context = AdapterContext(
                name: adapter.kind, chain: adapter.kind, network: adapter.network, handles: adapter.handles,
                pipeline: pipeline, logger: pluginLogger, clock: clock)
            let make = adapter.make
            supervisors.append(PluginSupervisor(name: adapter.kind, kind: adapter.kind, logger: pluginLogger) { try make(context) })
        }

        if let reconcilerConfig = config.reconciler {
            var named = logger
            named[metadataKey: "plugin"] = "reconciler"
            let reconcilerLogger = named
            let credits = CreditRepository(pool: pool, observationsTopic: config.topicObservations)
            let clock = self.clock
            supervisors.append(PluginSupervisor(name: "reconciler", kind: "reconciler", logger: reconcilerLogger) {
                ReconcilerService(configuration: reconcilerConfig, credits: credits, logger: reconcilerLogger, clock: clock)
            })
        }

        let started = clock.now()
        let effective = config.effective
        let clock = self.clock
        let kafkaOn = !config.kafkaBrokers.isEmpty
        let surface = ControlSurface(
            plugins: supervisors, repository: repository, metrics: metrics, controlToken: config.controlToken
        ) {
            [
                "service": "unrip-watch", "version": .string(UnripHost.version),
                "started_at": .string(Timestamp.string(started)),
                "uptime_s": .int(Int64(clock.now().timeIntervalSince(started))),
                "kafka": kafkaOn ? "configured" : "off (no [kafka] brokers; events stay in the outbox)",
                "config": effective,
            ]
        }
        return Prepared(surface: surface, supervisors: supervisors, repository: repository)
    }

    /// Runs until SIGTERM/SIGINT.
    public func run() async throws {
        let prepared = try await prepare()
        let logger = self.logger
        let app = Application(
            router: prepared.surface.router(),
            configuration: .init(address: .hostname(config.httpHost, port: config.httpPort), serverName: "unrip-watch"),
            onServerRunning: { channel in
                logger.info("control surface listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = prepared.supervisors.map {
            .init(service: $0, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)
        }
        services.append(.init(service: app))
        var groupConfig = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfig.cancellationSignals = [.sigquit]
        logger.info("unrip-watch starting", metadata: ["plugins": "\(config.enabledPlugins.joined(separator: ","))", "version": "\(UnripHost.version)"])
        try await ServiceGroup(configuration: groupConfig).run()
        logger.info("unrip-watch stopped")
    }
}
