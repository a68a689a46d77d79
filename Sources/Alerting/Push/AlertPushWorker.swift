import Foundation
import JSONRPCClient
import Logging
import Metrics
import PostgresStore
import Synchronization
import WatchCore

/// Pushes one target's backlog in `alert_events` id order, advancing its durable cursor only
/// past what the target took (2xx) or refused for good (4xx). Transient failures are retried
/// with exponential backoff and jitter, without limit: nothing is skipped. For an
/// Alertmanager, every firing alert is also re-sent each `resend_interval_s`.
final class AlertPushWorker: Sendable {
    struct Stats: Sendable {
        var retries = 0
        var consecutiveFailures = 0
        var failingSince: Date?
        var lastFailure: String?
        var deliveredSinceStart = 0
        var rejectedSinceStart = 0
        var lastResendAt: Date?
        var resentSinceStart = 0
    }

    let target: AlertPushTarget
    private let store: AlertPushStore
    private let config: AlertPushConfig
    private let clock: any WatchClock
    private let wake: ChangeSignal
    private let logger: Logger
    private let backoff: RetryPolicy
    let stats = Mutex(Stats())

    init(target: AlertPushTarget, store: AlertPushStore, config: AlertPushConfig, clock: any WatchClock, wake: ChangeSignal, logger: Logger) {
        self.target = target
        self.store = store
        self.config = config
        self.clock = clock
        self.wake = wake
        var named = logger
        named[metadataKey: "target"] = "\(target.name)"
        self.logger = named
        backoff = RetryPolicy(
            attempts: .max, baseDelay: .milliseconds(config.retryInitialMs), maxDelay: .seconds(config.retryMaxSeconds))
    }

    func run() async throws {
        try await store.ensureCursor(target.name)
        // Served from the start, so the rules and the dashboard see every target.
        Gauge(label: "unrip_alert_push_consecutive_failures", dimensions: [("target", target.name)]).record(0)
        Counter(label: "unrip_alert_push_failures_total", dimensions: [("target", target.name)]).increment(by: 0)
        Counter(label: "unrip_alert_push_delivered_total", dimensions: [("target", target.name)]).increment(by: 0)
        logger.info("alert push on", metadata: ["url": "\(target.redactedURL)"])
        while !Task.isCancelled {
            let generation = wake.generation
            guard try await drain() else { continue }
            guard try await resendIfDue() else { continue }
            // Until the poll interval passes or the evaluator records a change.
            await wake.wait(after: generation, atMost: .milliseconds(config.pollIntervalMs), clock: clock)
        }
    }

    /// Pushes everything after the cursor. False after a transient failure (the backoff slept).
    ///
    /// A stop (the supervisor cancels on SIGTERM or pause) never splits a post from the cursor
    /// commit that records its answer: the stop waits for both (at most `timeout_s` and one
    /// commit), so what the target acknowledged is never delivered again after a stop. Only a
    /// crash between the two repeats the events that were in flight.
    private func drain() async throws -> Bool {
        while !Task.isCancelled {
            let pending = try await store.pending(target.name, limit: target.perRequest)
            if pending.isEmpty { return true }
            let delivery = Task { try await self.send(pending) }
            if let failure = try await delivery.value {
                try await backOff(after: failure)
                return false
            }
        }
        return true
    }

    /// Posts `batch` and records the answer. Nil when every event of it is past the cursor
    /// (delivered or rejected); else the transient failure it recorded.
    private func send(_ batch: [AlertPushStore.Pending]) async throws -> Failure? {
        let events = batch.map(\.event)
        switch try await target.post(target.body(batch)) {
        case .delivered:
            try await store.delivered(target.name, through: events.last!.id, count: events.count, at: clock.now())
            recovered { $0.deliveredSinceStart += events.count }
            Counter(label: "unrip_alert_push_delivered_total", dimensions: [("target", target.name)]).increment(by: events.count)
            return nil
        case .rejected(let status, _) where batch.count > 1:
            // One bad alert must not cost the others: the batch goes again one by one.
            logger.warning("alert batch refused; sending its alerts one by one", metadata: ["status": "\(status)", "alerts": "\(batch.count)"])
            for item in batch {
                if let failure = try await send([item]) { return failure }
            }
            return nil
        case .rejected(let status, let response):
            let event = events[0]
            let error = "HTTP \(status): refused event \(event.id) (\(event.status.rawValue) \(event.key)) for good: \(response)"
            try await store.rejected(target.name, events: events, status: status, response: response, error: error, at: clock.now())
            recovered { $0.rejectedSinceStart += 1 }
            logger.error(
                "alert refused by the target; skipped (see alert_push_rejections)",
                metadata: ["status": "\(status)", "event": "\(event.id)", "alert": "\(event.key)", "url": "\(target.redactedURL)"])
            return nil
        case .failed(let why):
            return try await failed(why, what: "\(events.count) alert event(s) from id \(events[0].id)")
        }
    }

    /// Re-sends every firing alert to an Alertmanager when the interval has passed. False after
    /// a transient failure (the backoff slept; it is tried again).
    private func resendIfDue() async throws -> Bool {
        guard target.kind == .alertmanager, config.resendIntervalSeconds > 0 else { return true }
        let now = clock.now()
        if let last = stats.withLock({ $0.lastResendAt }), now.timeIntervalSince(last) < Double(config.resendIntervalSeconds) {
            return true
        }
        let firing = try await store.firing()
        var start = 0
        while start < firing.count {
            let chunk = Array(firing[start..<min(firing.count, start + target.perRequest)])
            switch try await target.post(AlertmanagerPayload.body(chunk, generatorURL: target.generatorURL)) {
            case .delivered:
                recovered { $0.resentSinceStart += chunk.count }
            case .rejected(let status, let response):
                logger.error("re-send of firing alerts refused", metadata: ["status": "\(status)", "response": "\(response)"])
                try await store.failed(target.name, error: "HTTP \(status): re-send refused: \(response)", at: clock.now())
            case .failed(let why):
                try await backOff(after: try await failed(why, what: "re-send of \(firing.count) firing alert(s)"))
                return false
            }
            start += chunk.count
        }
        stats.withLock { $0.lastResendAt = now }
        return true
    }

    private func recovered(_ count: (inout Stats) -> Void) {
        let wasFailing = stats.withLock { s -> Bool in
            count(&s)
            defer {
                s.consecutiveFailures = 0
                s.failingSince = nil
            }
            return s.failingSince != nil
        }
        Gauge(label: "unrip_alert_push_consecutive_failures", dimensions: [("target", target.name)]).record(0)
        if wasFailing { logger.notice("alert push recovered", metadata: ["url": "\(target.redactedURL)"]) }
    }

    /// A recorded transient failure: which consecutive one, and why.
    struct Failure: Sendable {
        var attempt: Int
        var why: String
        var what: String
    }

    /// Records a transient failure (the backoff is slept by `backOff`, outside a delivery).
    private func failed(_ why: String, what: String) async throws -> Failure {
        let now = clock.now()
        let attempt = stats.withLock { s -> Int in
            s.retries += 1
            s.consecutiveFailures += 1
            s.failingSince = s.failingSince ?? now
            s.lastFailure = why
            return s.consecutiveFailures
        }
        Counter(label: "unrip_alert_push_failures_total", dimensions: [("target", target.name)]).increment()
        Gauge(label: "unrip_alert_push_consecutive_failures", dimensions: [("target", target.name)]).record(attempt)
        try await store.failed(target.name, error: why, at: now)
        return Failure(attempt: attempt, why: why, what: what)
    }

    /// Sleeps the backoff after `failure` (a stop ends it at once).
    private func backOff(after failure: Failure) async throws {
        let pause = backoff.delay(retry: failure.attempt - 1)
        logger.warning(
            "alert push failed; retrying",
            metadata: [
                "error": "\(failure.why)", "pending": "\(failure.what)", "attempt": "\(failure.attempt)", "retry_in": "\(pause)",
                "url": "\(target.redactedURL)",
            ])
        try await clock.sleep(for: pause)
    }

    /// Failing for longer than `unhealthy_after_s`, if so.
    func problem(now: Date) -> String? {
        let s = stats.withLock { $0 }
        guard let since = s.failingSince, now.timeIntervalSince(since) > Double(config.unhealthyAfterSeconds) else { return nil }
        return "\(target.name) (\(target.redactedURL)) failing for \(Int(now.timeIntervalSince(since))) s: \(s.lastFailure ?? "?")"
    }

    func state() async -> JSONValue {
        let s = stats.withLock { $0 }
        var fields: [String: JSONValue] = [
            "url": .string(target.redactedURL), "retries_since_start": .int(Int64(s.retries)),
            "consecutive_failures": .int(Int64(s.consecutiveFailures)),
            "failing_since": s.failingSince.map { .string(Timestamp.string($0)) } ?? .null,
            "delivered_since_start": .int(Int64(s.deliveredSinceStart)), "rejected_since_start": .int(Int64(s.rejectedSinceStart)),
            "events_per_request": .int(Int64(target.perRequest)),
        ]
        if target.kind == .alertmanager {
            fields["resend_interval_s"] = .int(Int64(config.resendIntervalSeconds))
            fields["last_resend_at"] = s.lastResendAt.map { .string(Timestamp.string($0)) } ?? .null
            fields["resent_since_start"] = .int(Int64(s.resentSinceStart))
        }
        do {
            if let c = try await store.cursor(target.name) {
                fields["cursor"] = .int(c.lastEventID)
                fields["delivered"] = .int(c.delivered)
                fields["rejected"] = .int(c.rejected)
                fields["last_success_at"] = .optional(c.lastSuccessAt)
                fields["last_error"] = .optional(c.lastError)
                fields["last_error_at"] = .optional(c.lastErrorAt)
                fields["backlog"] = .int(Int64(try await store.backlog(target.name)))
            }
        } catch {
            fields["store_error"] = .string("\(error)")
        }
        return .object(fields)
    }
}
