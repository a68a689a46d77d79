import Foundation
import Logging
import Metrics
import PostgresStore
import ServiceLifecycle
import Synchronization
import WatchCore

/// Publishes `outbox` rows to Kafka in id order and marks them published only after the
/// broker acknowledged them. It wakes when rows commit (PostgreSQL NOTIFY on `unrip_outbox`,
/// polling every `idleInterval` as a fallback) and keeps up to `maxInFlight` batches in flight
/// on one idempotent producer, so a batch does not wait for the acknowledgement of the one
/// before it (librdkafka keeps their order per partition). While the broker is down the
/// batches in flight wait (librdkafka retries them, in order, idempotently) and new rows
/// accumulate in the outbox; on recovery everything drains. A row that fails for good (a
/// non-retriable broker error: librdkafka retries everything else) is retried later, and no
/// later row with the same key is marked published before it: the key's later events, which
/// may already have reached the broker from the batches in flight, go again after it, so the
/// last word per key is always in order (consumers drop the repeats by `event_id`).
public final class OutboxRelay: PluginService {
    public struct Settings: Sendable {
        public var batchSize: Int
        public var idleInterval: Duration
        public var retryBackoff: Duration
        /// `/healthz` turns unhealthy when the oldest unpublished row is older than this.
        public var unhealthyAfterSeconds: Double
        /// Batches sent and not yet acknowledged, at most.
        public var maxInFlight: Int
        /// Wake on PostgreSQL NOTIFY when outbox rows commit (else poll only).
        public var listen: Bool
        /// On graceful shutdown, how long to wait for the acknowledgements of batches in flight.
        public var shutdownTimeout: Duration

        public init(
            batchSize: Int = 500, idleInterval: Duration = .milliseconds(100), retryBackoff: Duration = .seconds(1),
            unhealthyAfterSeconds: Double = 60, maxInFlight: Int = 4, listen: Bool = true, shutdownTimeout: Duration = .seconds(10)
        ) {
            self.shutdownTimeout = shutdownTimeout
            self.batchSize = batchSize
            self.idleInterval = idleInterval
            self.retryBackoff = retryBackoff
            self.unhealthyAfterSeconds = unhealthyAfterSeconds
            self.maxInFlight = max(1, maxInFlight)
            self.listen = listen
        }
    }

    private struct Stats {
        var inFlight = 0
        /// The most batches that were sent and not yet acknowledged at once.
        var peakBatchesInFlight = 0
        var published = 0
        var lastError: String?
        var lastPublishedAt: Date?
        var listening = false
    }

    /// One batch sent to the broker; its delivery results once every report arrived.
    private final class Flight: Sendable {
        let rows: [OutboxRow]
        let results = Mutex<[Result<KafkaDelivery, KafkaError>]?>(nil)
        init(rows: [OutboxRow]) { self.rows = rows }
    }

    private let store: OutboxStore
    private let config: KafkaClientConfig
    /// The producer's codec (`compression.type` after the defaults and the properties), for `state`.
    private let compression: String?
    private let settings: Settings
    private let logger: Logger
    private let stats = Mutex(Stats())

    /// Retry pauses and `last_published_at` are taken from it.
    private let clock: any WatchClock

    public init(store: OutboxStore, config: KafkaClientConfig, settings: Settings = Settings(), logger: Logger, clock: any WatchClock = SystemClock()) {
        self.clock = clock
        self.store = store
        self.config = config
        compression = try? config.effective("compression.type", defaults: KafkaProducer.defaults)
        self.settings = settings
        self.logger = logger
    }

    /// On graceful shutdown it reads no new rows, waits (up to `shutdownTimeout`) for the
    /// acknowledgements of the batches in flight, marks them, and returns.
    public var drainsOnShutdown: Bool { true }

    public func run() async throws {
        let producer = try KafkaProducer(config: config)
        let listener = settings.listen ? store.listen(logger: logger) : nil
        let wake = listener?.signal ?? ChangeSignal()
        defer {
            if let listener { DispatchQueue.global().async { listener.stop() } }
        }
        do {
            // The shutdown wakes the loop at once, to start the drain.
            try await withGracefulShutdownHandler {
                try await relay(with: producer, wake: wake, listener: listener)
            } onGracefulShutdown: {
                wake.signal()
            }
        } catch {
            await producer.close()
            throw error
        }
        await producer.close()
    }

    /// What the relay carries from one turn to the next.
    private struct Turns {
        /// Batches sent and not yet all acknowledged, oldest first (`close()` purges them on exit).
        var inFlight: [Flight] = []
        /// Keys with a row that failed: their later rows are not marked published until the
        /// relay has re-read the outbox from the oldest unpublished row.
        var blocked: Set<String> = []
        var failure: String?
        var floor: OutboxFloor
        var drain: Drain?
        /// When the backlog gauges were last recorded.
        var backlogRecordedAt: Date?

        var waiting: Int { inFlight.reduce(0) { $0 + $1.rows.count } }
    }

    private func relay(with producer: KafkaProducer, wake: ChangeSignal, listener: NotificationListener?) async throws {
        var turns = Turns(floor: OutboxFloor(now: clock.now()))
        Counter(label: "unrip_outbox_published_total").increment(by: 0)
        while !Task.isCancelled {
            let generation = wake.generation
            stats.withLock { $0.listening = listener?.isListening ?? false }
            try await settleAcknowledged(&turns)
            if Task.isShuttingDownGracefully {
                let current = turns.drain ?? Drain(started: clock.now(), rows: turns.waiting)
                turns.drain = current
                if current.finished(waiting: turns.waiting, timeout: settings.shutdownTimeout, now: clock.now(), logger: logger) { return }
                await wake.wait(after: generation, atMost: settings.idleInterval, clock: clock)
                continue
            }
            if let error = turns.failure {
                // Let what is in flight finish, then go again from the oldest unpublished row.
                if turns.inFlight.isEmpty {
                    logger.warning("outbox publication failed; retrying", metadata: ["error": "\(error)"])
                    try await clock.sleep(for: settings.retryBackoff)
                    (turns.blocked, turns.failure) = ([], nil)
                    turns.floor.reset()
                } else {
                    await wake.wait(after: generation)
                }
                continue
            }
            if turns.inFlight.count < settings.maxInFlight, try await sendNext(&turns, producer: producer, wake: wake) { continue }
            // Until a batch is acknowledged, a row commits, or the idle interval passes.
            await wake.wait(after: generation, atMost: settings.idleInterval, clock: clock)
        }
    }

    /// Marks the rows of acknowledged batches published, oldest batch first, and records the
    /// first failure.
    private func settleAcknowledged(_ turns: inout Turns) async throws {
        var acked: [Int64] = []
        while let first = turns.inFlight.first, let results = first.results.withLock({ $0 }) {
            turns.inFlight.removeFirst()
            let (ids, error) = Self.publishable(first.rows, results, blocked: &turns.blocked)
            acked += ids
            turns.failure = turns.failure ?? error
        }
        if !acked.isEmpty {
            try await store.markPublished(acked)
            Counter(label: "unrip_outbox_published_total").increment(by: acked.count)
        }
        await recordBacklog(every: 1, last: &turns.backlogRecordedAt)
        let (waiting, failure) = (turns.waiting, turns.failure)
        stats.withLock {
            $0.inFlight = waiting
            $0.published += acked.count
            if !acked.isEmpty { $0.lastPublishedAt = clock.now() }
            if let failure { $0.lastError = failure }
        }
    }

    /// Reads the next unpublished rows and hands them to the producer as one batch. True when
    /// the relay should go again at once (a batch went out, or the shutdown began meanwhile).
    private func sendNext(_ turns: inout Turns, producer: KafkaProducer, wake: ChangeSignal) async throws -> Bool {
        let rows = try await read(floor: &turns.floor, inFlight: turns.inFlight.flatMap { $0.rows.map(\.id) })
        // A read that returns after the shutdown began may hold rows committed after it: they
        // are not taken, and go out after the next start. (One that returned before read a
        // snapshot taken before, so it holds none.)
        if Task.isShuttingDownGracefully { return true }
        guard !rows.isEmpty else { return false }
        let flight = Flight(rows: rows)
        let messages = rows.map { KafkaOutgoingMessage(topic: $0.topic, key: $0.key, value: Array($0.payload.utf8)) }
        // Enqueued here, in order: batches reach the producer as they were read.
        producer.enqueue(messages) { results in
            flight.results.withLock { $0 = results }
            wake.signal()
        }
        turns.inFlight.append(flight)
        let batches = turns.inFlight.count
        stats.withLock {
            $0.inFlight += rows.count
            $0.peakBatchesInFlight = max($0.peakBatchesInFlight, batches)
        }
        return true
    }

    /// One read of unpublished rows from where `floor` says, but for those in flight.
    private func read(floor: inout OutboxFloor, inFlight: [Int64]) async throws -> [OutboxRow] {
        let after = floor.next(now: clock.now())
        let rows = try await store.unpublished(limit: settings.batchSize, floor: after, excluding: inFlight)
        floor.record(after: after, first: rows.first?.id, last: rows.last?.id, now: clock.now())
        return rows
    }

    /// The ids to mark published: every acknowledged row, except rows whose key has an earlier
    /// unacknowledged row in the batch (they go again after it, keeping the key's order).
    /// `blocked` carries the keys with a failed row from batch to batch.
    static func publishable(
        _ rows: [OutboxRow], _ results: [Result<KafkaDelivery, KafkaError>], blocked: inout Set<String>
    ) -> ([Int64], String?) {
        var acked: [Int64] = []
        var failure: String?
        for (row, result) in zip(rows, results) {
            let key = row.topic + "\u{0}" + row.key
            switch result {
            case .success where !blocked.contains(key):
                acked.append(row.id)
            case .success:
                break
            case .failure(let error):
                blocked.insert(key)
                failure = failure ?? "\(error)"
            }
        }
        return (acked, failure)
    }

    public func state() async -> JSONValue {
        let s = stats.withLock { $0 }
        var fields: [String: JSONValue] = [
            "kafka": "on", "brokers": .array(config.brokers.map(JSONValue.string)),
            "in_flight": .int(Int64(s.inFlight)), "peak_batches_in_flight": .int(Int64(s.peakBatchesInFlight)), "published_since_start": .int(Int64(s.published)),
            "last_error": .optional(s.lastError), "max_in_flight_batches": .int(Int64(settings.maxInFlight)),
            "compression": .optional(compression),
            "wake": .string(s.listening ? "notify (LISTEN unrip_outbox) + poll" : "poll every \(settings.idleInterval)"),
            "last_published_at": s.lastPublishedAt.map { .string(Timestamp.string($0)) } ?? .null,
        ]
        do {
            guard case .object(let backlog) = try await store.backlog().json else { return .object(fields) }
            fields.merge(backlog) { _, new in new }
        } catch {
            fields["backlog_error"] = .string("\(error)")
        }
        return .object(fields)
    }

    public func health() async -> PluginHealth {
        guard let backlog = try? await store.backlog() else { return .unhealthy("cannot read the outbox") }
        if let age = backlog.oldestAgeSeconds, age > settings.unhealthyAfterSeconds {
            return .unhealthy("\(backlog.count) outbox rows unpublished; oldest \(Int(age)) s old (is Kafka reachable?)")
        }
        return .healthy
    }
}

extension OutboxRelay {
    /// A graceful shutdown in progress: no new rows are read; it ends once nothing is in flight
    /// or the timeout passed (then what is unacknowledged stays unpublished, for the next start).
    struct Drain {
        let started: Date
        let rows: Int

        func finished(waiting: Int, timeout: Duration, now: Date, logger: Logger) -> Bool {
            if waiting == 0 {
                logger.info("outbox relay drained", metadata: ["rows_acknowledged_during_drain": "\(rows)"])
                return true
            }
            guard now.timeIntervalSince(started) >= timeout.timeInterval else { return false }
            logger.warning(
                "outbox relay drain timed out; unacknowledged rows stay unpublished and go out after the next start",
                metadata: ["rows_unacknowledged": "\(waiting)", "timeout": "\(timeout)"])
            return true
        }
    }
}

extension OutboxRelay {
    /// `unrip_outbox_backlog_rows` and `unrip_outbox_oldest_unpublished_age_seconds`, read from
    /// the outbox at most once per `seconds` since `last` (what the "backlog growing" rule watches).
    func recordBacklog(every seconds: TimeInterval, last: inout Date?) async {
        let now = clock.now()
        if let last, now.timeIntervalSince(last) < seconds { return }
        last = now
        guard let backlog = try? await store.backlog() else { return }
        Gauge(label: "unrip_outbox_backlog_rows").record(backlog.count)
        Gauge(label: "unrip_outbox_oldest_unpublished_age_seconds").record(backlog.oldestAgeSeconds ?? 0)
    }
}
