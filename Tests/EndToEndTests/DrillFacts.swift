import Foundation
import KafkaBus
import WatchCore
import WatchTesting

/// What the drills read back: the outbox, and the topic it is published to.
enum DrillFacts {
    /// Outbox rows not yet published, over every topic.
    static func unpublished(_ db: TestDatabase) async throws -> Int {
        try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").first?.int("n") } ?? -1
    }

    /// Event ids of `topic`'s outbox rows: all of them, or only those published (true) or not (false).
    static func outboxEventIDs(_ db: TestDatabase, topic: String, published: Bool? = nil) async throws -> Set<String> {
        let state = published.map { $0 ? " AND published_at IS NOT NULL" : " AND published_at IS NULL" } ?? ""
        return try await db.pool.withConnection { conn in
            Set(try conn.query("SELECT event_id::text AS e FROM outbox WHERE topic = $1\(state)", [topic]).compactMap { $0["e"] })
        }
    }

    /// Every record of `topic` from its start, read by a group of its own: event id → each
    /// record with that id (a repeat is a second entry). Reads until `done` holds and no record
    /// came for `quiet` (to catch late repeats), or `timeout` passed.
    static func topicEvents(
        _ bootstrap: String, topic: String, properties: [String: String] = [:], quiet: Duration = .zero, timeout: Duration = .seconds(60),
        until done: ([String: [JSONValue]]) -> Bool
    ) async throws -> [String: [JSONValue]] {
        let consumer = try KafkaConsumer(
            config: KafkaClientConfig(brokers: [bootstrap], properties: properties), groupID: "drill-\(UUID())", topics: [topic])
        var events: [String: [JSONValue]] = [:]
        var lastRecord = ContinuousClock.now
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !done(events) || ContinuousClock.now - lastRecord < quiet {
            guard case .record(let record) = await consumer.poll(timeoutMs: 100) else { continue }
            lastRecord = ContinuousClock.now
            if let event = try? JSONValue.parse(record.value), let id = event["event_id"]?.stringValue { events[id, default: []].append(event) }
        }
        await consumer.close()
        return events
    }
}
