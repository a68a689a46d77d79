import Alerting
import Foundation
import Logging
import PostgresStore
import ServiceLifecycle
import Testing
import WatchCore
import WatchTesting

/// An alert fixture, a local HTTP receiver, and pushers started and stopped like the host's
/// supervisor does; the evaluator wakes the pushers through `wake`, as in the host.
struct PushHarness {
    let f: AlertFixture
    let receiver: HTTPReceiverDouble
    let wake = ChangeSignal()
    static let alerts = AlertsConfig(stalePriceMaxAgeSeconds: 60, staleInventoryMaxAgeSeconds: 0, forSeconds: 0)

    static func make() async throws -> PushHarness {
        PushHarness(f: try await AlertFixture.make(), receiver: try await HTTPReceiverDouble.start())
    }

    var store: AlertPushStore { AlertPushStore(pool: f.db.pool) }

    func config(
        alertmanager: Bool = false, webhook: Bool = false, token: String? = nil, resendS: Int = 0, timeoutS: Int = 5,
        unhealthyAfterS: Int = 300
    ) -> AlertPushConfig {
        AlertPushConfig(
            alertmanagerURL: alertmanager ? receiver.baseURL : nil, webhookURL: webhook ? receiver.hookURL : nil, webhookToken: token,
            timeoutSeconds: timeoutS, retryInitialMs: 20, retryMaxSeconds: 1, resendIntervalSeconds: resendS,
            generatorURL: "http://127.0.0.1:8080/plugins/alerts/state", pollIntervalMs: 100, batchSize: 64,
            unhealthyAfterSeconds: unhealthyAfterS)
    }

    func pusher(_ config: AlertPushConfig) -> AlertPusher {
        var logger = Logger(label: "alert-push-test")
        logger.logLevel = .critical
        return AlertPusher(store: store, config: config, clock: f.clock, wake: wake, logger: logger)
    }

    /// Runs `pusher` until the returned task is cancelled.
    func start(_ pusher: AlertPusher) -> Task<Void, Never> {
        Task { try? await pusher.run() }
    }

    /// Runs `pusher` and returns once every target has its cursor (a new target's cursor starts
    /// at the alerts firing when it is created, so tests raise alerts only after this).
    func startReady(_ pusher: AlertPusher) async throws -> Task<Void, Never> {
        let task = start(pusher)
        try await eventually("cursors created") {
            let targets = await pusher.state()["targets"]?.objectValue ?? [:]
            return !targets.isEmpty && targets.values.allSatisfy { $0["cursor"] != nil }
        }
        return task
    }

    /// Runs `pusher` the way the host does (under a `PluginSupervisor` in a `ServiceGroup`), so
    /// `stop()` takes SIGTERM's path: the group's graceful shutdown.
    func hosted(_ pusher: AlertPusher) -> HostedPusher {
        var logger = Logger(label: "alert-push-test")
        logger.logLevel = .critical
        let supervisor = PluginSupervisor(name: "alert_push", kind: "alert-push", logger: logger) { pusher }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: supervisor, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)],
                logger: logger))
        return HostedPusher(group: group, task: Task { try await group.run() })
    }

    /// A target's durable cursor: what the pusher itself committed.
    func cursor(_ target: String) async throws -> AlertPushStore.Cursor? { try await store.cursor(target) }

    /// One evaluation through the real evaluator, which wakes the pushers on a raise or clear.
    @discardableResult
    func evaluate() async throws -> [AlertChange] {
        var logger = Logger(label: "alert-push-test")
        logger.logLevel = .critical
        return try await AlertEvaluator(store: f.store, config: Self.alerts, clock: f.clock, transitions: wake, logger: logger).evaluateOnce()
    }

    /// A stale `pair` price alert fires now; returns the firing time.
    func raise(_ pair: String) async throws -> Date {
        try await f.price(pair, at: f.now.addingTimeInterval(-61))
        try await evaluate()
        return f.now
    }

    /// A fresh `pair` price clears it; returns the resolve time.
    func clear(_ pair: String) async throws -> Date {
        try await f.price(pair, at: f.now)
        try await evaluate()
        return f.now
    }

    /// `event_id`s of the alert_events rows, oldest first.
    func eventIDs() async throws -> [String] {
        try await f.db.pool.withConnection { conn in
            try conn.query("SELECT event_id::text AS e FROM alert_events ORDER BY id").compactMap { $0["e"] }
        }
    }

    func targetState(_ pusher: AlertPusher, _ target: String) async -> JSONValue {
        await pusher.state()["targets"]?[target] ?? .null
    }
}

/// A pusher run by a supervisor in a service group, as in the host.
struct HostedPusher {
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// A graceful shutdown of the group (what SIGTERM does); returns when the group has ended.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

