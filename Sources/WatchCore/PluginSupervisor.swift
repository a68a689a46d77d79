import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// How a plugin is doing, as `/state` shows it.
public enum PluginStatus: String, Sendable {
    case starting, running, paused, failed, stopped
    /// Another host holds the plugin's lease; this one takes over when it expires.
    case standby
}

/// What the control surface may do with a plugin.
public protocol ManagedPlugin: Sendable {
    var name: String { get }
    var kind: String { get }
    var status: PluginStatus { get }
    var isPaused: Bool { get }
    func pause()
    func resume()
    func state() async -> JSONValue
    func health() async -> PluginHealth
    /// Holder, epoch and expiry of the plugin's lease (`[ha]`), else null.
    var lease: JSONValue { get }
}

extension ManagedPlugin {
    public var lease: JSONValue { .null }
}

/// Runs one plugin for the host, the same way for every plugin: builds an instance, runs it,
/// restarts it with backoff when it fails, and implements pause (cancel the instance, keep its
/// cursor) and resume (a fresh instance catches up from the cursor).
public final class PluginSupervisor: Service, ManagedPlugin {
    public let name: String
    public let kind: String
    private let make: @Sendable () async throws -> any PluginService
    private let logger: Logger
    private let signal = ChangeSignal()
    private let maxBackoff: Duration
    /// When signalled, the running instance is replaced by a fresh one (a chain's watch set
    /// changed): like a pause and resume, without the pause.
    private let reloadOn: ChangeSignal?

    private struct State {
        var paused = false
        var status = PluginStatus.starting
        var lastError: String?
        var restarts = 0
        var instance: (any PluginService)?
        var startedAt: Date?
        /// Failures in a row, each within `flappingWindow` of the one before.
        var failureStreak = 0
        var lastFailureAt: Date?
        /// A graceful shutdown began.
        var draining = false
        /// An instance's `run()` is executing (false once it returned, whatever the status says).
        var instanceRunning = false
    }

    /// Two failures this close together make a restart loop, unhealthy even while a fresh
    /// instance runs between them (a plugin that fails on the same input every time must not
    /// look healthy between restarts).
    public static let flappingWindow: TimeInterval = 120
    private let current = Mutex(State())

    /// Restart backoffs and the restart-loop window are measured on it.
    let clock: any WatchClock
    /// With several hosts: the plugin runs only while this host holds it.
    private let pluginLease: (any PluginLease)?

    public init(
        name: String, kind: String, startPaused: Bool = false, logger: Logger, maxBackoff: Duration = .seconds(30), reloadOn: ChangeSignal? = nil,
        clock: any WatchClock = SystemClock(), lease: (any PluginLease)? = nil, make: @escaping @Sendable () async throws -> any PluginService
    ) {
        self.clock = clock
        self.pluginLease = lease
        self.reloadOn = reloadOn
        self.name = name
        self.kind = kind
        self.make = make
        self.logger = logger
        self.maxBackoff = maxBackoff
        current.withLock { $0.paused = startPaused }
    }

    public var status: PluginStatus { current.withLock { $0.status } }
    public var lease: JSONValue { pluginLease?.state() ?? .null }
    public var isPaused: Bool { current.withLock { $0.paused } }
    /// Whether an instance is running now: false while paused, standing by or between restarts.
    public var isInstanceRunning: Bool { current.withLock { $0.instanceRunning } }

    public func pause() {
        let changed = current.withLock { s -> Bool in
            defer { s.paused = true }
            return !s.paused
        }
        if changed {
            logger.info("plugin paused", metadata: ["plugin": "\(name)"])
            signal.signal()
        }
    }

    public func resume() {
        let changed = current.withLock { s -> Bool in
            defer { s.paused = false }
            return s.paused
        }
        if changed {
            logger.info("plugin resumed", metadata: ["plugin": "\(name)"])
            signal.signal()
        }
    }

    public func state() async -> JSONValue {
        let (s, instance) = current.withLock { ($0, $0.instance) }
        let inner = await instance?.state() ?? .null
        return [
            "name": .string(name), "kind": .string(kind), "status": .string(s.status.rawValue),
            "paused": .bool(s.paused), "instance_running": .bool(s.instanceRunning), "restarts": .int(Int64(s.restarts)), "last_error": .optional(s.lastError),
            "failures_in_a_row": .int(Int64(s.failureStreak)),
            "role": .string(s.status == .standby ? "standby" : "active"),
            "lease": lease,
            "plugin": inner,
        ]
    }

    public func health() async -> PluginHealth {
        let (s, instance) = current.withLock { ($0, $0.instance) }
        switch s.status {
        case .failed: return .unhealthy(s.lastError ?? "failed")
        case .stopped: return .unhealthy("stopped")
        case .paused: return .healthy
        case .standby: return .healthy  // ready to take over
        case .starting, .running:
            if s.failureStreak >= 2, let last = s.lastFailureAt, clock.now().timeIntervalSince(last) < Self.flappingWindow {
                return .unhealthy("restarting in a loop: \(s.failureStreak) failures in a row, the last: \(s.lastError ?? "?")")
            }
            return await instance?.health() ?? .healthy
        }
    }

    private func set(_ status: PluginStatus, error: String? = nil, instance: (any PluginService)? = nil) {
        Gauge(label: "unrip_plugin_running", dimensions: [("plugin", name)]).record(status == .running ? 1 : 0)
        Gauge(label: "unrip_plugin_active", dimensions: [("plugin", name)]).record(status == .standby ? 0 : 1)
        current.withLock {
            $0.status = status
            if let error { $0.lastError = Excerpt.of(error) }
            $0.instance = instance
        }
    }

    /// Runs instances until shutdown. A graceful shutdown starts no new instance and ends a
    /// pause; the running instance is cancelled, unless it drains by itself
    /// (`drainsOnShutdown`): then it is left to finish (the host bounds how long).
    public func run() async throws {
        // Served from the start (at 0), so a rate over it exists before the first failure.
        Counter(label: "unrip_plugin_failures_total", dimensions: [("plugin", name)]).increment(by: 0)
        await withGracefulShutdownHandler {
            await self.superviseUntilShutdown()
        } onGracefulShutdown: {
            self.current.withLock { $0.draining = true }
            self.signal.signal()
        }
        // After the instance ended (drained or cancelled): a standby may take over at once.
        if let pluginLease, status != .standby { await pluginLease.release() }
        set(.stopped)
    }

    private var draining: Bool { current.withLock { $0.draining } }

    private func superviseUntilShutdown() async {
        var backoff = Duration.milliseconds(200)
        while !Task.isCancelled && !draining {
            let generation = signal.generation
            if isPaused {
                set(.paused)
                await signal.wait(after: generation)
                continue
            }
            if let lease = pluginLease, case let attempt = await lease.acquire(), attempt != .held {
                if status != .standby {
                    let holder: String = if case .heldElsewhere(let who) = attempt { who } else { "unknown (\(attempt))" }
                    logger.notice("standing by: another host holds the lease", metadata: ["plugin": "\(name)", "holder": "\(holder)"])
                }
                set(.standby)
                await signal.wait(after: generation, atMost: lease.renewEvery, clock: clock)
                continue
            }
            set(.starting)
            switch await runOnce(until: generation) {
            case .interrupted:
                backoff = .milliseconds(200)
            case .leaseLost:
                set(.standby)
            case .finished:
                return
            case .failed(let error):
                recordFailure(error, backoff: backoff)
                if draining { return }
                // Woken early by a pause, a resume or the shutdown.
                await signal.wait(after: signal.generation, atMost: backoff, clock: clock)
                backoff = min(backoff * 2, maxBackoff)
            }
        }
    }

    private func recordFailure(_ error: String, backoff: Duration) {
        current.withLock { s in
            let now = clock.now()
            s.restarts += 1
            let close = s.lastFailureAt.map { now.timeIntervalSince($0) < Self.flappingWindow } ?? false
            s.failureStreak = close ? s.failureStreak + 1 : 1
            s.lastFailureAt = now
        }
        Counter(label: "unrip_plugin_failures_total", dimensions: [("plugin", name)]).increment()
        set(.failed, error: error)
        logger.error("plugin failed; restarting", metadata: ["plugin": "\(name)", "error": "\(error)", "backoff": "\(backoff)"])
    }

    private enum Outcome: Sendable { case interrupted, finished, failed(String), leaseLost }

    /// Runs one instance until it ends or a pause/resume arrives.
    private func runOnce(until generation: Int) async -> Outcome {
        let reloadGeneration = reloadOn?.generation
        let instance: any PluginService
        do {
            instance = try await make()
        } catch {
            return .failed("\(error)")
        }
        set(.running, instance: instance)
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                self.current.withLock { $0.instanceRunning = true }
                defer { self.current.withLock { $0.instanceRunning = false } }
                do {
                    try await instance.run()
                    return Task.isCancelled ? nil : .finished
                } catch is CancellationError {
                    return nil
                } catch {
                    return Task.isCancelled ? nil : .failed("\(error)")
                }
            }
            group.addTask {
                await self.signal.wait(after: generation)
                return .interrupted
            }
            if let lease = self.pluginLease {
                group.addTask { await self.keep(lease) ? nil : .leaseLost }
            }
            if let reload = self.reloadOn, let reloadGeneration {
                group.addTask {
                    await reload.wait(after: reloadGeneration)
                    if !Task.isCancelled { self.logger.info("plugin reloading: its watch set changed", metadata: ["plugin": "\(self.name)"]) }
                    return .interrupted
                }
            }
            while let outcome = await group.next() {
                // The shutdown woke the signal: a draining instance is left to end by itself.
                if case .interrupted? = outcome, self.draining, instance.drainsOnShutdown { continue }
                group.cancelAll()
                return outcome ?? .interrupted
            }
            return .interrupted
        }
    }

    /// Renews `lease` every `renewEvery` while the instance runs. False once it is lost: another
    /// host took it, or it could not be renewed for `validFor` (its commits would fail by then);
    /// true when cancelled (the instance ended first).
    private func keep(_ lease: any PluginLease) async -> Bool {
        var renewed = clock.now()
        while true {
            do { try await clock.sleep(for: lease.renewEvery) } catch { return true }
            switch await lease.acquire() {
            case .held:
                renewed = clock.now()
            case .heldElsewhere(let holder):
                logger.warning("lost the lease: stopping, standing by", metadata: ["plugin": "\(name)", "holder": "\(holder)"])
                return false
            case .failed(let why):
                guard clock.now().timeIntervalSince(renewed) >= lease.validFor.timeInterval else { continue }
                logger.warning("could not renew the lease for its whole term: stopping, standing by", metadata: ["plugin": "\(name)", "error": "\(why)"])
                return false
            }
        }
    }
}
