import Foundation
import Logging
import WatchCore

/// The alert service as the control surface sees it (`/plugins/alerts/…`): pause, resume and
/// health come from its supervisor; `/state` reads the durable alerts, so it answers while
/// paused too: `{"paused", "active": […], "pending": […], "recent": […], …}`.
public final class AlertsPlugin: ManagedPlugin {
    public let supervisor: PluginSupervisor
    public let store: AlertStore

    public init(supervisor: PluginSupervisor, store: AlertStore) {
        self.supervisor = supervisor
        self.store = store
    }

    /// A supervised evaluator under the name `alerts`.
    public convenience init(
        store: AlertStore, config: AlertsConfig, clock: any WatchClock, trigger: ChangeSignal,
        health: AlertEvaluator.HealthSource?, transitions: ChangeSignal? = nil, watchdog: WatchdogBoard? = nil, logger: Logger,
        name: String = "alerts", lease: (any PluginLease)? = nil
    ) {
        let supervisor = PluginSupervisor(name: name, kind: "alerts", logger: logger, lease: lease) {
            AlertEvaluator(
                store: store, config: config, clock: clock, trigger: trigger, health: health, transitions: transitions,
                watchdog: watchdog, logger: logger)
        }
        self.init(supervisor: supervisor, store: store)
    }

    public var name: String { supervisor.name }
    public var kind: String { supervisor.kind }
    public var status: PluginStatus { supervisor.status }
    public var lease: JSONValue { supervisor.lease }
    public var isPaused: Bool { supervisor.isPaused }
    public func pause() { supervisor.pause() }
    public func resume() { supervisor.resume() }
    public func health() async -> PluginHealth { await supervisor.health() }

    public func state() async -> JSONValue {
        var fields = (await supervisor.state()).objectValue ?? [:]
        fields["evaluator"] = fields.removeValue(forKey: "plugin") ?? .null
        do {
            fields["active"] = .array(try await store.alerts(status: .firing))
            fields["pending"] = .array(try await store.alerts(status: .pending))
            fields["recent"] = .array(try await store.recent())
        } catch {
            fields["error"] = .string("cannot read alerts: \(error)")
            fields["active"] = fields["active"] ?? .array([])
            fields["recent"] = fields["recent"] ?? .array([])
        }
        return .object(fields)
    }
}
