import Foundation
import Logging
import WatchCore

/// The `alert_push` service: one worker per configured target (Alertmanager, webhook), each
/// with its own durable cursor over `alert_events`, so one target failing never holds up the
/// other. Woken by `wake` when the evaluator records a raise or clear, and polls besides.
public final class AlertPusher: PluginService {
    private let workers: [AlertPushWorker]
    private let config: AlertPushConfig
    private let clock: any WatchClock

    public init(store: AlertPushStore, config: AlertPushConfig, clock: any WatchClock, wake: ChangeSignal, logger: Logger) {
        self.config = config
        self.clock = clock
        workers = AlertPushTarget.targets(config).map {
            AlertPushWorker(target: $0, store: store, config: config, clock: clock, wake: wake, logger: logger)
        }
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in workers { group.addTask { try await worker.run() } }
            try await group.waitForAll()
        }
    }

    public func state() async -> JSONValue {
        var targets: [String: JSONValue] = [:]
        for worker in workers { targets[worker.target.name] = await worker.state() }
        return [
            "push": .string(workers.isEmpty ? "off (no [alerts.push] alertmanager_url or webhook_url)" : "on"),
            "targets": .object(targets), "poll_interval_ms": .int(Int64(config.pollIntervalMs)),
            "unhealthy_after_s": .int(Int64(config.unhealthyAfterSeconds)),
        ]
    }

    public func health() async -> PluginHealth {
        let now = clock.now()
        let problems = workers.compactMap { $0.problem(now: now) }
        return problems.isEmpty ? .healthy : .unhealthy(problems.joined(separator: "; "))
    }
}
