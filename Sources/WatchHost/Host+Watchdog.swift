import Alerting
import ControlAPI
import Foundation
import PostgresStore
import WatchCore

extension UnripHost {
    /// The chain and node watchdog (`watchdog`), probing every chain adapter's node.
    /// A latched finding (a finality violation) is recorded by the probe that saw it, when the
    /// alerts are on; the evaluator raises the alert from the record.
    func watchdogSupervisor(chains: [ChainWatchdog.Chain], board: WatchdogBoard, changed: ChangeSignal, pool: PostgresPool) -> PluginSupervisor {
        var named = logger
        named[metadataKey: "plugin"] = "watchdog"
        let clock = self.clock, watchdogLogger = named
        var latch: (@Sendable ([WatchdogFinding], Date) async throws -> Void)?
        if config.alerts.enabled {
            let store = AlertStore(pool: pool, topic: config.topicAlerts)
            latch = { findings, now in try await store.latch(findings, now: now) }
        }
        let writeLatch = latch
        return PluginSupervisor(name: "watchdog", kind: "chain-watchdog", logger: watchdogLogger) {
            ChainWatchdog(chains: chains, board: board, clock: clock, changed: changed, logger: watchdogLogger, latch: writeLatch)
        }
    }

    /// `POST /alerts/<key>/resolve`: resolves a latched alert, then wakes the pusher.
    func alertResolver(pool: PostgresPool, wake: ChangeSignal) -> @Sendable (String, String, String) async throws -> AlertResolveAnswer {
        let store = AlertStore(pool: pool, topic: config.topicAlerts), clock = self.clock, logger = self.logger
        return { key, who, why in
            switch try await store.resolveLatched(key: key, by: who, reason: why, now: clock.now()) {
            case .resolved(let body):
                logger.notice("alert resolved by hand", metadata: ["alert": "\(key)", "by": "\(who)", "reason": "\(why)"])
                wake.signal()
                return AlertResolveAnswer(status: .ok, body: body)
            case .notFound:
                return AlertResolveAnswer(status: .notFound, body: ["error": ["status": 404, "message": .string("no alert with key \(key)")]])
            case .notLatched(let rule):
                return AlertResolveAnswer(
                    status: .conflict,
                    body: ["error": ["status": 409, "message": .string("\(rule) is not a latched alert: it resolves by itself when its condition clears")]])
            case .alreadyResolved(let by, let at):
                return AlertResolveAnswer(
                    status: .conflict,
                    body: ["error": ["status": 409, "message": .string("\(key) was already resolved by \(by ?? "someone") at \(at ?? "?")")]])
            }
        }
    }
}
