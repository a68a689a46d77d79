import Foundation
import PostgresStore
import Reconciler
import WatchCore

/// The plugins `prepare` builds from the config: one supervisor per chain adapter (its tracker
/// restored, its lease, its watch set live), and the reconciler.
extension UnripHost {
    struct ChainPlugins {
        var supervisors: [PluginSupervisor] = []
        /// The chains the watchdog probes.
        var watched: [ChainWatchdog.Chain] = []
        /// Each chain's committed tip while its adapter is not standing by (for `rescan_from`).
        var tips: [ChainName: @Sendable () async -> Int?] = [:]
    }

    func chainPlugins(
        pool: PostgresPool, repository: FundingRepository, book: HandleBook, reloadHandles: @escaping @Sendable () async -> Void
    ) async throws -> ChainPlugins {
        var out = ChainPlugins()
        for adapter in config.adapters {
            let (adapterPool, fence) = self.pool(for: adapter.kind, pool)
            let pipeline = try await ChainPipeline.restore(
                adapter: adapter.kind, chain: adapter.kind, network: adapter.network, policy: adapter.policy,
                store: fence == nil ? repository : FundingRepository(pool: adapterPool, observationsTopic: config.topicObservations, logger: logger),
                clock: clock)
            let signals = ChainSignals()
            let supervisor = adapterSupervisor(
                adapter, pipeline: pipeline, signals: signals, lease: lease(fence, plugin: adapter.kind, pool: pool) { try await pipeline.reload() },
                repository: repository, book: book, reloadHandles: reloadHandles)
            out.supervisors.append(supervisor)
            // A standby's tracker is frozen where the host started: no tip to judge by there.
            out.tips[adapter.kind] = { supervisor.status == .standby ? nil : await pipeline.tip?.height }
            if let policy = adapter.watchdog {
                out.watched.append(ChainWatchdog.Chain(
                    name: adapter.kind, probe: DeferredProbe(adapter.makeProbe), policy: policy, pipeline: pipeline, signals: signals,
                    isActive: { supervisor.status != .standby }))
            }
        }
        return out
    }

    /// One chain adapter's supervisor: each instance watches the handles of the moment (a
    /// changed set rebuilds it) and records a finished history scan.
    func adapterSupervisor(
        _ adapter: LoadedAdapter, pipeline: ChainPipeline, signals: ChainSignals, lease: (any PluginLease)?, repository: FundingRepository,
        book: HandleBook, reloadHandles: @escaping @Sendable () async -> Void
    ) -> PluginSupervisor {
        var named = logger
        named[metadataKey: "plugin"] = "\(adapter.kind)"
        let make = adapter.make, kind = adapter.kind, network = adapter.network, clock = self.clock, logger = named
        return PluginSupervisor(name: kind, kind: kind, logger: logger, reloadOn: book.changes(kind), clock: clock, lease: lease) {
            var context = AdapterContext(name: kind, chain: kind, network: network, handles: book.handles(kind), pipeline: pipeline, logger: logger, clock: clock)
            context.signals = signals
            context.onRescanFinished = { handles in
                for handle in handles {
                    do {
                        try await repository.markRescanDone(handle, at: clock.now())
                    } catch {
                        logger.warning("could not record a finished rescan; it will run again", metadata: ["handle": "\(handle.address)", "error": "\(error)"])
                    }
                }
                await reloadHandles()  // rebuilds this adapter without the scan
            }
            return try make(context)
        }
    }

    /// The reconciler and its credit sources (`[bridge]`), when enabled.
    func reconcilerSupervisor(pool: PostgresPool, reloadHandles: @escaping @Sendable () async -> Void) -> PluginSupervisor? {
        guard let reconcilerConfig = config.reconciler else { return nil }
        var named = logger
        named[metadataKey: "plugin"] = "reconciler"
        let reconcilerLogger = named
        let (reconcilerPool, fence) = self.pool(for: "reconciler", pool)
        let credits = CreditRepository(pool: reconcilerPool, observationsTopic: config.topicObservations)
        let clock = self.clock, chains = handleChains()
        return PluginSupervisor(name: "reconciler", kind: "reconciler", logger: reconcilerLogger, clock: clock, lease: lease(fence, plugin: "reconciler", pool: pool)) {
            ReconcilerService(
                configuration: reconcilerConfig, credits: credits, logger: reconcilerLogger, clock: clock,
                handleChains: chains, onHandlesChanged: reloadHandles)
        }
    }

    /// The host part of `/state`: version, uptime, Kafka and push on or off, the outbox
    /// backlog, the effective config (secrets redacted).
    func hostState(pool: PostgresPool) -> @Sendable () async -> JSONValue {
        let started = clock.now(), effective = config.effective, clock = self.clock
        let kafkaOn = !config.kafkaBrokers.isEmpty, pushOn = config.alerts.push.isEnabled
        let outbox = OutboxStore(pool: pool)
        return {
            [
                "service": "unrip-watch", "version": .string(UnripHost.version),
                "started_at": .string(Timestamp.string(started)),
                "uptime_s": .int(Int64(clock.now().timeIntervalSince(started))),
                "kafka": kafkaOn ? "on (outbox relay: /plugins/relay/state)" : "off (no [kafka] brokers; events stay in the outbox: GET /outbox)",
                "outbox": (try? await outbox.backlog().json) ?? .null,
                "alert_push": pushOn
                    ? "on (/plugins/alert_push/state)" : "off (no [alerts.push] alertmanager_url or webhook_url)",
                "config": effective,
            ]
        }
    }
}
