import Foundation
import Logging
import PostgresStore
import Synchronization
import WatchCore

/// The alert service's run loop: evaluates at once, then every `eval_interval_ms` (on the
/// `WatchClock`) and whenever `trigger` fires (an input arrived, a transfer was marked stuck).
/// Everything it decides is durable before it is reported, so a restart neither loses an
/// active alert nor raises it twice. After a raise or clear it signals `transitions` (the
/// alert pusher waits on it).
public final class AlertEvaluator: PluginService {
    public typealias HealthSource = @Sendable () async -> [(name: String, health: PluginHealth)]

    private struct Stats {
        var evaluations = 0
        var lastEvaluatedAt: Date?
        var lastError: String?
        var raised = 0
        var resolved = 0
    }

    private let store: AlertStore
    private let config: AlertsConfig
    private let clock: any WatchClock
    private let trigger: ChangeSignal
    private let healthSource: HealthSource?
    private let transitions: ChangeSignal?
    private let watchdog: WatchdogBoard?
    private let logger: Logger
    private let stats = Mutex(Stats())

    public init(
        store: AlertStore, config: AlertsConfig, clock: any WatchClock, trigger: ChangeSignal = ChangeSignal(), health: HealthSource? = nil,
        transitions: ChangeSignal? = nil, watchdog: WatchdogBoard? = nil, logger: Logger
    ) {
        self.watchdog = watchdog
        self.store = store
        self.config = config
        self.clock = clock
        self.trigger = trigger
        self.healthSource = health
        self.transitions = transitions
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled {
            let generation = trigger.generation
            try await evaluateOnce()
            // Until the interval passes or a trigger, whichever is first.
            await trigger.wait(after: generation, atMost: .milliseconds(config.evalIntervalMs), clock: clock)
        }
    }

    /// One evaluation from durable inputs; returns what changed.
    @discardableResult
    public func evaluateOnce() async throws -> [AlertChange] {
        let health = await healthSource?()
        let now = clock.now()
        do {
            let latched = watchdog?.latched ?? []
            let changes = try await store.evaluate(now: now, config: config, health: health, watchdog: watchdog?.findings, latched: latched)
            watchdog?.settle(latched)
            record(changes, at: now)
            if changes.contains(where: \.isTransition) { transitions?.signal() }
            return changes
        } catch {
            stats.withLock { $0.lastError = "\(error)" }
            throw error
        }
    }

    private func record(_ changes: [AlertChange], at now: Date) {
        stats.withLock {
            $0.evaluations += 1
            $0.lastEvaluatedAt = now
            $0.lastError = nil
        }
        for change in changes {
            switch change {
            case .fire(let c, _):
                stats.withLock { $0.raised += 1 }
                logger.warning("alert firing", metadata: ["alert": "\(c.key)", "reason": "\(c.reason)"])
            case .resolve(let s, _):
                stats.withLock { $0.resolved += 1 }
                logger.notice("alert resolved", metadata: ["alert": "\(s.key)"])
            default:
                break
            }
        }
    }

    public func state() async -> JSONValue {
        let s = stats.withLock { $0 }
        return [
            "evaluations": .int(Int64(s.evaluations)),
            "last_evaluated_at": s.lastEvaluatedAt.map { .string(Timestamp.string($0)) } ?? .null,
            "last_error": .optional(s.lastError), "raised_since_start": .int(Int64(s.raised)),
            "resolved_since_start": .int(Int64(s.resolved)), "eval_interval_ms": .int(Int64(config.evalIntervalMs)),
            "for_s": .int(Int64(config.forSeconds)),
        ]
    }
}
