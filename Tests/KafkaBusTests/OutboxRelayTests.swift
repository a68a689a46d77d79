import Foundation
import KafkaBus
import Logging
import PostgresStore
import Testing
import WatchCore
import WatchTesting

func enqueue(_ pool: PostgresPool, topic: String, key: String, n: Int) async throws -> String {
    let id = UUID().uuidString.lowercased()
    try await pool.transaction { conn in
        try Outbox.enqueue(conn: conn, topic: topic, key: key, eventID: id, payload: ["schema": "test.v1", "event_id": .string(id), "n": .int(Int64(n))])
    }
    return id
}

/// Each record's event id, grouped by message key, in the order consumed.
func eventIDsByKey(_ records: [KafkaRecord]) throws -> [String: [String]] {
    var out: [String: [String]] = [:]
    for r in records {
        let payload = try JSONValue.parse(r.value)
        out[String(decoding: r.key ?? [], as: UTF8.self), default: []].append(payload["event_id"]?.stringValue ?? "?")
    }
    return out
}

/// Runs `relay` and returns once it listens for commits (cancel the task to stop it).
func runListening(_ relay: OutboxRelay) async throws -> Task<Void, Error> {
    let running = Task { try await relay.run() }
    do {
        try await eventually("relay listening") { (await relay.state())["wake"]?.stringValue?.hasPrefix("notify") == true }
    } catch {
        running.cancel()
        throw error
    }
    return running
}

@Suite("Outbox relay", .serialized)
struct OutboxRelayTests {
    @Test("broker down: rows accumulate and /state shows the backlog; broker up: all drain, none lost, none reordered per key")
    func brokerOutage() async throws {
        let db = try await TestDatabase.create()
        let mock = try await MockKafka.start(topics: ["relay.out"])
        defer { mock.stop() }
        let store = OutboxStore(pool: db.pool)
        let relay = OutboxRelay(
            store: store, config: KafkaClientConfig(brokers: [mock.bootstrap], properties: ["retry.backoff.ms": "50"]),
            settings: .init(batchSize: 7, idleInterval: .milliseconds(20), retryBackoff: .milliseconds(100)),
            logger: Logger(label: "test.relay"))
        let running = Task { try await relay.run() }
        defer { running.cancel() }

        var expected: [String: [String]] = [:]
        for n in 0..<10 {
            let key = "handle-\(n % 3)"
            expected[key, default: []].append(try await enqueue(db.pool, topic: "relay.out", key: key, n: n))
        }
        try await eventually("first rows published") { try await store.backlog().count == 0 }

        try await mock.command("down")
        for n in 10..<25 {
            let key = "handle-\(n % 3)"
            expected[key, default: []].append(try await enqueue(db.pool, topic: "relay.out", key: key, n: n))
        }
        // The relay reports the backlog and its age as the outage lasts (waited for, not slept).
        var during = await relay.state()
        try await eventually("the backlog of the outage reported, a second old") {
            during = await relay.state()
            if case .double(let age) = during["oldest_age_s"], age >= 1 { return during["backlog"] == .int(15) }
            return false
        }
        #expect(during["backlog"] == .int(15), "state during outage: \(during.serialized())")
        #expect(during["compression"] == .string("lz4"), "the producer's codec in /plugins/relay/state")
        if case .double(let age) = during["oldest_age_s"] { #expect(age >= 1) } else { Issue.record("no oldest_age_s: \(during.serialized())") }
        #expect(try await store.backlog().count == 15)

        try await mock.command("up")
        try await eventually("backlog drained after recovery", timeout: 40) { try await store.backlog().count == 0 }
        #expect((await relay.state())["backlog"] == .int(0))

        let records = try await consume(mock.bootstrap, topics: ["relay.out"], count: 25)
        let got = try eventIDsByKey(records)
        // No loss; per key, first occurrences in outbox order (a duplicate would be dropped by event_id).
        for (key, ids) in expected {
            var firstSeen: [String] = []
            for id in got[key] ?? [] where !firstSeen.contains(id) { firstSeen.append(id) }
            #expect(firstSeen == ids, "key \(key)")
        }
    }

    @Test("a committed row is published without waiting for the poll: the relay wakes on NOTIFY, many batches in flight keep each key's order")
    func wakesOnCommitAndOverlapsBatches() async throws {
        let db = try await TestDatabase.create()
        let mock = try await MockKafka.start(topics: ["relay.wake"])
        defer { mock.stop() }
        let store = OutboxStore(pool: db.pool)
        // An hour between polls: only the commit notification can wake it.
        let relay = OutboxRelay(
            store: store, config: KafkaClientConfig(brokers: [mock.bootstrap]),
            settings: .init(batchSize: 3, idleInterval: .seconds(3600), maxInFlight: 4), logger: Logger(label: "test.relay"))
        let running = try await runListening(relay)
        defer { running.cancel() }

        var expected: [String: [String]] = [:]
        for round in 0..<3 {
            for n in 0..<20 {
                let key = "handle-\(n % 4)"
                expected[key, default: []].append(try await enqueue(db.pool, topic: "relay.wake", key: key, n: round * 100 + n))
            }
            try await eventually("round \(round) published", timeout: 20) { try await store.backlog().count == 0 }
        }
        // 24 rows committed at once: read 3 at a time, several batches go out before the first ack.
        let burst = (0..<24).map { n in (id: UUID().uuidString.lowercased(), key: "handle-\(n % 4)", n: 300 + n) }
        for row in burst { expected[row.key, default: []].append(row.id) }
        try await db.pool.transaction { conn in
            for row in burst {
                try Outbox.enqueue(conn: conn, topic: "relay.wake", key: row.key, eventID: row.id, payload: ["schema": "test.v1", "event_id": .string(row.id), "n": .int(Int64(row.n))])
            }
        }
        try await eventually("the burst published", timeout: 20) { try await store.backlog().count == 0 }
        let records = try await consume(mock.bootstrap, topics: ["relay.wake"], count: 84)
        let got = try eventIDsByKey(records)
        #expect(got == expected)
        let peak = await relay.state()["peak_batches_in_flight"]?.int64Value ?? 0
        #expect(peak >= 2, "never more than one batch in flight (peak \(peak))")
        #expect(peak <= 4, "more batches in flight than maxInFlight (peak \(peak))")
    }

    @Test("a row whose transaction commits after later rows were published is still published, before the full rescan")
    func lateCommitIsPublished() async throws {
        let db = try await TestDatabase.create()
        let mock = try await MockKafka.start(topics: ["relay.late"])
        defer { mock.stop() }
        let store = OutboxStore(pool: db.pool)
        let relay = OutboxRelay(
            store: store, config: KafkaClientConfig(brokers: [mock.bootstrap]),
            settings: .init(batchSize: 50, idleInterval: .seconds(3600)), logger: Logger(label: "test.relay"))
        let running = try await runListening(relay)
        defer { running.cancel() }
        // Published at least once, so the relay reads only what is new from here on.
        _ = try await enqueue(db.pool, topic: "relay.late", key: "k", n: 0)
        try await eventually("first row published") { try await store.backlog().count == 0 }

        // A writer takes an outbox id and holds its transaction open (one connection: the
        // pool hands the same one back to commit it).
        let slow = PostgresPool(url: db.url, size: 1)
        let lateID = UUID().uuidString.lowercased()
        try await slow.withConnection { conn in
            try conn.exec("BEGIN")
            try Outbox.enqueue(conn: conn, topic: "relay.late", key: "k", eventID: lateID, payload: ["event_id": .string(lateID)])
        }
        for n in 1...5 { _ = try await enqueue(db.pool, topic: "relay.late", key: "other", n: n) }
        try await eventually("later rows published") { try await store.backlog().count == 0 }
        try await slow.withConnection { conn in try conn.exec("COMMIT") }
        // The full rescan comes every 10 s; the gap read finds it well before.
        try await eventually("the late row published", timeout: 8) { try await store.backlog().count == 0 }
        let records = try await consume(mock.bootstrap, topics: ["relay.late"], count: 7)
        #expect(records.contains { (try? JSONValue.parse($0.value))?["event_id"]?.stringValue == lateID })
    }
}
