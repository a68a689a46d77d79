import Foundation
import Logging
import PostgresStore
import Synchronization
import WatchCore

/// Publishes `outbox` rows to Kafka in id order and marks them published only after the
/// broker acknowledged them. While the broker is down the batch in flight waits (librdkafka
/// retries it, in order, idempotently) and new rows accumulate in the outbox; on recovery
/// everything drains. A row that fails for good is retried later, and no later row with the
/// same key is marked published before it, so a key's events are never reordered.
public final class OutboxRelay: PluginService {
    public struct Settings: Sendable {
        public var batchSize: Int
        public var idleInterval: Duration
        public var retryBackoff: Duration
        /// `/healthz` turns unhealthy when the oldest unpublished row is older than this.
        public var unhealthyAfterSeconds: Double

        public init(batchSize: Int = 500, idleInterval: Duration = .milliseconds(100), retryBackoff: Duration = .seconds(1), unhealthyAfterSeconds: Double = 60) {
            self.batchSize = batchSize
            self.idleInterval = idleInterval
            self.retryBackoff = retryBackoff
            self.unhealthyAfterSeconds = unhealthyAfterSeconds
        }
    }

    private struct Stats {
        var inFlight = 0
        var published = 0
        var lastError: String?
        var lastPublishedAt: Date?
    }

    private let store: OutboxStore
    private let config: KafkaClientConfig
    private let settings: Settings
    private let logger: Logger
    private let stats = Mutex(Stats())

    public init(store: OutboxStore, config: KafkaClientConfig, settings: Settings = Settings(), logger: Logger) {
        self.store = store
        self.config = config
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        let producer = try KafkaProducer(config: config)
        do {
            try await relay(with: producer)
        } catch {
            await producer.close()
            throw error
        }
        await producer.close()
    }

    private func relay(with producer: KafkaProducer) async throws {
        while !Task.isCancelled {
            let rows = try await store.unpublished(limit: settings.batchSize)
            if rows.isEmpty {
                try await Task.sleep(for: settings.idleInterval)
                continue
            }
            stats.withLock { $0.inFlight = rows.count }
            let results = await producer.send(
                rows.map { KafkaOutgoingMessage(topic: $0.topic, key: $0.key, value: Array($0.payload.utf8)) })
            stats.withLock { $0.inFlight = 0 }
            try Task.checkCancellation()
            let (acked, failure) = Self.publishable(rows, results)
            try await store.markPublished(acked)
            stats.withLock {
                $0.published += acked.count
                if !acked.isEmpty { $0.lastPublishedAt = Date() }
                if let failure { $0.lastError = failure }
            }
            if let failure {
                logger.warning("outbox publication failed; retrying", metadata: ["error": "\(failure)", "published": "\(acked.count)"])
                try await Task.sleep(for: settings.retryBackoff)
            }
        }
    }

    /// The ids to mark published: every acknowledged row, except rows whose key has an earlier
    /// unacknowledged row in the batch (they go again after it, keeping the key's order).
    static func publishable(_ rows: [OutboxRow], _ results: [Result<KafkaDelivery, KafkaError>]) -> ([Int64], String?) {
        var blocked: Set<String> = []
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
            "in_flight": .int(Int64(s.inFlight)), "published_since_start": .int(Int64(s.published)),
            "last_error": .optional(s.lastError),
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
