import Alerting
import ControlAPI
import Foundation
import Hummingbird
import HummingbirdCore
import KafkaBus
import Logging
import PostgresStore
import Prometheus
import ServiceLifecycle
import Synchronization
import WatchCore

/// The host process: migrates, starts every enabled plugin under a `PluginSupervisor`, serves
/// the control surface, and shuts down gracefully on SIGTERM/SIGINT.
public struct UnripHost: Sendable {
    public static let version = "0.1.0"
    /// The control surface's listen queue (the kernel caps it at `net.core.somaxconn`).
    static let listenBacklog = 4096

    public let config: HostConfig
    public let logger: Logger
    public let clock: any WatchClock
    public let metrics: PrometheusCollectorRegistry
    /// Without `[ha]`: the per-plugin session locks that keep a second host off the database.
    let soloLocks: SoloPluginLocks?

    public init(config: HostConfig, logger: Logger, clock: any WatchClock = SystemClock(), metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.config = config
        self.logger = logger
        self.clock = clock
        self.metrics = metrics
        soloLocks = config.ha.enabled ? nil : SoloPluginLocks(url: config.databaseURL, hostID: config.ha.hostID, logger: logger)
    }

    /// Everything built and migrated, not yet running.
    public struct Prepared: Sendable {
        public let surface: ControlSurface
        public let supervisors: [PluginSupervisor]
        public let repository: FundingRepository
        /// Re-checks the schema while the host runs (`SchemaWatch`).
        let schemaWatch: SchemaWatch
    }

    /// Connects, migrates, registers handles and restores every adapter's tracker.
    public func prepare() async throws -> Prepared {
        let pool = PostgresPool(
            url: config.databaseURL, size: config.databasePoolSize, logger: logger, sessionSettings: config.ha.sessionSettings, clock: clock)
        try await DatabaseStartup.wait(
            for: pool, url: config.databaseURL, timeout: .seconds(config.databaseStartupTimeoutSeconds), clock: clock, logger: logger)
        let runner = try MigrationRunner(directory: MigrationRunner.locate(explicit: config.migrationsDir))
        try await runner.apply(to: pool, logger: logger)
        let repository = FundingRepository(pool: pool, observationsTopic: config.topicObservations, logger: logger)

        let book = try await handleBook(repository: repository)
        let reloadHandles = handleReloader(book: book, repository: repository)
        let chains = try await chainPlugins(pool: pool, repository: repository, book: book, reloadHandles: reloadHandles)
        var supervisors = chains.supervisors
        let watched = chains.watched
        if let reconciler = reconcilerSupervisor(pool: pool, reloadHandles: reloadHandles) { supervisors.append(reconciler) }
        let trigger = ChangeSignal()
        let board = WatchdogBoard()
        if !watched.isEmpty { supervisors.append(watchdogSupervisor(chains: watched, board: board, changed: trigger, pool: pool)) }
        supervisors += kafkaSupervisors(pool: pool, trigger: trigger)
        let alertTransitions = ChangeSignal()
        if config.alerts.push.isEnabled {
            supervisors.append(alertPushSupervisor(pool: pool, wake: alertTransitions))
        }
        var surfacePlugins: [any ManagedPlugin] = supervisors
        if config.alerts.enabled {
            let alerts = alertsPlugin(pool: pool, trigger: trigger, transitions: alertTransitions, watched: supervisors, board: board)
            supervisors.append(alerts.supervisor)
            surfacePlugins.append(alerts)
        }

        let schemaBoard = SchemaBoard()
        let checks = HealthChecks(pool: pool, schemaProblem: { schemaBoard.problem })
        let surface = ControlSurface(plugins: surfacePlugins, controlToken: config.controlToken, routes: [
            HealthRoutes(plugins: surfacePlugins, checks: checks, hostState: hostState(pool: pool)),
            ReadinessRoutes(
                plugins: surfacePlugins, checks: checks, chainAdapters: Set(config.adapters.map(\.kind)),
                readinessPlugins: config.kafkaBrokers.isEmpty ? [] : ["inputs"], watchdog: board, watchdogChains: Set(watched.map(\.name))),
            PluginRoutes(plugins: surfacePlugins, checks: checks),
            FundingRoutes(repository: repository),
            StuckRoute(repository: repository, clock: clock, onFundingChange: { trigger.signal() }),
            HandleRoutes(
                repository: repository, chains: handleChains(tips: chains.tips), clock: clock, retiredHandleWatch: retiredHandleWatch,
                accounts: config.reconciler?.accounts, omniChain: config.reconciler?.omni?.chain, onHandlesChanged: reloadHandles),
            OutboxRoutes(store: OutboxStore(pool: pool)),
            AlertResolveRoute(resolve: config.alerts.enabled ? alertResolver(pool: pool, wake: alertTransitions) : nil, onResolved: { trigger.signal() }),
            MetricsRoute(metrics: metrics),
        ])
        let adapters = config.adapters
        let schemaWatch = SchemaWatch(runner: runner, pool: pool, board: schemaBoard, clock: clock, logger: logger) {
            for adapter in adapters { try await repository.syncHandles(chain: adapter.kind, adapter.handles) }
        }
        return Prepared(surface: surface, supervisors: supervisors, repository: repository, schemaWatch: schemaWatch)
    }

    /// The outbox relay (`relay`) and the input consumers (`inputs`); none when Kafka is off.
    func kafkaSupervisors(pool: PostgresPool, trigger: ChangeSignal) -> [PluginSupervisor] {
        guard !config.kafkaBrokers.isEmpty else {
            logger.notice("Kafka is off ([kafka] brokers is empty): events stay in the outbox, inputs are not consumed")
            return []
        }
        let kafka = KafkaClientConfig(brokers: config.kafkaBrokers, clientID: config.kafkaClientID, properties: config.kafkaProperties)
        let topics = InputConsumer.Topics(
            prices: config.topicPrices, inventory: config.topicInventory, executionResults: config.topicExecutionResults)
        var relayLogger = logger, inputsLogger = logger
        relayLogger[metadataKey: "plugin"] = "relay"
        inputsLogger[metadataKey: "plugin"] = "inputs"
        let groupID = config.kafkaGroupID
        let inputIdlePause = Int32(config.kafkaInputIdleFetchPauseMs)
        let stallAfter = Duration.seconds(config.kafkaInputStallAfterSeconds)
        let stallMemory = InputStallMemory()  // across the consumer's rebuilds
        let relaySettings = OutboxRelay.Settings(shutdownTimeout: .seconds(config.kafkaShutdownTimeoutSeconds))
        let (relayPool, relayFence) = self.pool(for: "relay", pool)
        let (inputsPool, inputsFence) = self.pool(for: "inputs", pool)
        return [
            PluginSupervisor(name: "relay", kind: "outbox-relay", logger: relayLogger, lease: lease(relayFence, plugin: "relay", pool: pool)) { [relayLogger] in
                OutboxRelay(store: OutboxStore(pool: relayPool), config: kafka, settings: relaySettings, logger: relayLogger, clock: clock)
            },
            PluginSupervisor(name: "inputs", kind: "kafka-inputs", logger: inputsLogger, lease: lease(inputsFence, plugin: "inputs", pool: pool)) { [inputsLogger] in
                InputConsumer(
                    store: InputStore(pool: inputsPool), config: kafka, groupID: groupID, topics: topics, logger: inputsLogger,
                    idleFetchPauseMs: inputIdlePause, stallAfter: stallAfter, clock: clock, memory: stallMemory,
                    onInput: { trigger.signal() })
            },
        ]
    }

    /// Pushes alert transitions to the Alertmanager and/or webhook of `[alerts.push]`
    /// (`alert_push`); `wake` is signalled by the evaluator after each raise or clear.
    func alertPushSupervisor(pool: PostgresPool, wake: ChangeSignal) -> PluginSupervisor {
        var pushLogger = logger
        pushLogger[metadataKey: "plugin"] = "alert_push"
        let config = self.config.alerts.push, clock = self.clock, named = pushLogger
        let (pushPool, fence) = self.pool(for: "alert_push", pool)
        return PluginSupervisor(name: "alert_push", kind: "alert-push", logger: pushLogger, lease: lease(fence, plugin: "alert_push", pool: pool)) {
            AlertPusher(store: AlertPushStore(pool: pushPool), config: config, clock: clock, wake: wake, logger: named)
        }
    }

    /// The alert service, watching the health of every other plugin.
    func alertsPlugin(pool: PostgresPool, trigger: ChangeSignal, transitions: ChangeSignal, watched: [PluginSupervisor], board: WatchdogBoard) -> AlertsPlugin {
        var alertsLogger = logger
        alertsLogger[metadataKey: "plugin"] = "alerts"
        let (alertsPool, fence) = self.pool(for: "alerts", pool)
        return AlertsPlugin(
            store: AlertStore(pool: alertsPool, topic: config.topicAlerts), config: config.alerts, clock: clock, trigger: trigger,
            health: {
                var out: [(name: String, health: PluginHealth)] = []
                for s in watched { out.append((s.name, await s.health())) }
                return out
            }, transitions: transitions, watchdog: board, logger: alertsLogger, lease: lease(fence, plugin: "alerts", pool: pool))
    }

    /// Runs until SIGTERM/SIGINT.
    public func run() async throws {
        let known = Mutex<[any ManagedPlugin]>([])
        let signals = OperatorSignals(logger: logger) { known.withLock { $0 } }
        defer { signals.cancel() }
        let prepared = try await preparedWhileServingStartup()
        known.withLock { $0 = prepared.surface.plugins }
        let logger = self.logger
        let connections = FileDescriptorBudget.httpConnections(configured: config.httpMaxConnections, logger: logger)
        let headTimeout = config.httpReadHeaderTimeoutSeconds
        let notifier = SystemdNotifier(logger: logger)
        let app = Application(
            router: prepared.surface.router(),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [RequestHeadDeadline(timeout: .seconds(Int64(headTimeout))), HTTP10ConnectionClose()],
                    idleTimeout: .seconds(Int64(config.httpIdleTimeoutSeconds)))),
            configuration: .init(
                address: .hostname(config.httpHost, port: config.httpPort), serverName: "unrip-watch",
                // A deep listen queue: clients past the connection cap wait in it rather than have
                // their SYN dropped, which a client retries only after 1, 3, 7, 15 s (a flood's
                // closed connections fill a queue of 256 for a moment, and the next client waited).
                backlog: Self.listenBacklog,
                availableConnectionsDelegate: MaximumAvailableConnections(connections)),
            onServerRunning: { channel in
                logger.info("control surface listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
                // Migrated, restored, plugins starting, port bound: ready for systemd.
                notifier.send("READY=1\nSTATUS=serving on \(channel.localAddress?.description ?? "?")")
            },
            logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = prepared.supervisors.map {
            .init(service: $0, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)
        }
        services.append(.init(service: app))
        // A schema newer than this binary ends the host (its error is the exit's message).
        services.append(.init(service: prepared.schemaWatch, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup))
        // Last in the list, so the first to hear the graceful shutdown: STOPPING=1 at the drain's start.
        if notifier.isActive { services.append(.init(service: SystemdNotifyService(notifier: notifier, clock: clock))) }
        // The relay drains for up to shutdown_timeout_s; past that (and a margin) the group
        // cancels what is left, and a little later the escalation exits outright.
        let drain = Duration.seconds(config.kafkaShutdownTimeoutSeconds + 2)
        services.append(.init(service: ShutdownEscalation(limit: drain + .seconds(5), clock: clock, logger: logger)))
        var groupConfig = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfig.cancellationSignals = [.sigquit]
        groupConfig.maximumGracefulShutdownDuration = drain
        logger.info("unrip-watch starting", metadata: ["plugins": "\(config.enabledPlugins.joined(separator: ","))", "version": "\(UnripHost.version)"])
        try await ServiceGroup(configuration: groupConfig).run()
        logger.info("unrip-watch stopped")
    }
}
