import Foundation
import KafkaBus
import Logging
import PostgresStore
import Synchronization
import Testing
import WatchCore
import WatchTesting

func count(_ pool: PostgresPool, _ table: String) async throws -> Int {
    try await pool.withConnection { conn in try conn.query("SELECT count(*) AS n FROM \(table)").first?.int("n") ?? 0 }
}

@Suite("Input consumers", .serialized)
struct InputConsumerTests {
    static let topics = InputConsumer.Topics(prices: "in.prices", inventory: "in.inventory", executionResults: "in.exec")

    /// Runs a consumer of `group` until it has handled `count` records, then stops it; also
    /// says whether its run was still going (no failure) when stopped.
    static func runInputs(until count: Int, pool: PostgresPool, config: KafkaClientConfig, group: String) async throws -> (InputConsumer, ranOn: Bool) {
        let handled = Mutex(0)
        let consumer = InputConsumer(
            store: InputStore(pool: pool), config: config, groupID: group, topics: topics,
            logger: Logger(label: "test.inputs"), onInput: { handled.withLock { $0 += 1 } })
        let running = Task { try await consumer.run() }
        try await eventually("all \(count) handled", timeout: 40) { handled.withLock { $0 } == count }
        running.cancel()
        return (consumer, (try? await running.value) != nil)
    }

    @Test("valid inputs are stored, malformed ones dead-lettered with the reason and skipped, and offsets committed")
    func poisonMessagesDeadLettered() async throws {
        let db = try await TestDatabase.create()
        let mock = try await MockKafka.start(topics: ["in.prices", "in.inventory", "in.exec"])
        defer { mock.stop() }
        let config = groupTestConfig(mock.bootstrap)
        let producer = try KafkaProducer(config: config)
        func msg(_ topic: String, _ text: String) -> KafkaOutgoingMessage { KafkaOutgoingMessage(topic: topic, key: "k", value: Array(text.utf8)) }
        let results = await producer.send([
            msg("in.prices", #"{"schema":"unrip.reference_price.v1","event_id":"7d2e4b90-1c63-4f5d-a081-3e4f5a6b7c8d","occurred_at":"2026-05-01T12:00:00Z","pair":"BTC/EUR","price":"61234.50","source":"kraken"}"#),
            msg("in.prices", "{not json"),
            msg("in.prices", #"{"schema":"unrip.reference_price.v2","event_id":"7d2e4b90-1c63-4f5d-a081-3e4f5a6b7c8e","occurred_at":"2026-05-01T12:00:00Z","pair":"BTC/EUR","price":"1","source":"x"}"#),
            msg("in.exec", #"{"schema":"unrip.execution_result.v1","event_id":"9f406db2-3e85-4b7f-8203-5a6b7c8d9e0f","occurred_at":"2026-05-01T12:00:01Z","quote_id":"q1","request_id":17,"outcome":"rpc_error","error":{"code":-32000,"message":"quote expired"}}"#),
            msg("in.exec", #"{"schema":"unrip.execution_result.v1","event_id":"9f406db2-3e85-4b7f-8203-5a6b7c8d9e10","occurred_at":"2026-05-01T12:00:01Z","request_id":18,"outcome":"ok"}"#),
            msg("in.inventory", #"{"schema":"unrip.inventory_snapshot.v1","event_id":"8e3f5ca1-2d74-4a6e-b192-4f5a6b7c8d9e","occurred_at":"2026-05-01T12:00:00Z","snapshot_id":"s1","account_id":"mm.near","balances":{"nep141:btc.omft.near":"150000"}}"#),
        ])
        await producer.close()
        #expect(results.allSatisfy { (try? $0.get()) != nil })

        let (consumer, _) = try await Self.runInputs(until: 6, pool: db.pool, config: config, group: "inputs-test")

        #expect(try await count(db.pool, "reference_prices") == 1)
        #expect(try await count(db.pool, "execution_results") == 1)
        #expect(try await count(db.pool, "credit_snapshots") == 1)
        let reasons = try await db.pool.withConnection { conn in
            try conn.query("SELECT reason FROM dead_letters ORDER BY reason").compactMap { $0["reason"] }
        }
        #expect(reasons.count == 3)
        #expect(reasons.contains("bad JSON: not a JSON document"))
        #expect(reasons.contains { $0.hasPrefix("unknown schema \"unrip.reference_price.v2\"") })
        #expect(reasons.contains("missing field: quote_id"))
        let state = await consumer.state()
        #expect(state["dead_lettered_since_start"] == .int(3))
        #expect(state["dead_letters_total"] == .int(3))

        // Everything was committed: the same group resumes after it, at a message produced now.
        let marker = try KafkaProducer(config: config)
        _ = await marker.send([msg("in.prices", "marker")])
        await marker.close()
        let again = try await consume(mock.bootstrap, topics: ["in.prices", "in.inventory", "in.exec"], group: "inputs-test", count: 1, timeout: 40)
        #expect(again.map { String(decoding: $0.value, as: UTF8.self) } == ["marker"])
    }

    @Test("a record PostgreSQL would refuse (a year-0 time, a numeric overflow) is dead-lettered and committed; later ones are stored")
    func recordsTheDatabaseRefusesAreDeadLettered() async throws {
        let db = try await TestDatabase.create()
        let mock = try await MockKafka.start(topics: ["in.prices", "in.inventory", "in.exec"])
        defer { mock.stop() }
        let config = groupTestConfig(mock.bootstrap)
        func price(_ id: String, at time: String, price: String) -> KafkaOutgoingMessage {
            let text = #"{"schema":"unrip.reference_price.v1","event_id":"7d2e4b90-1c63-4f5d-a081-3e4f5a6b7c"#
                + id + #"","occurred_at":""# + time + #"","pair":"BTC/EUR","price":""# + price + #"","source":"kraken"}"#
            return KafkaOutgoingMessage(topic: "in.prices", key: "BTC/EUR", value: Array(text.utf8))
        }
        let producer = try KafkaProducer(config: config)
        let results = await producer.send([
            price("01", at: "0000-01-01T00:00:00Z", price: "1"),
            price("02", at: "1000-01-01T00:00:00Z", price: "1"),
            price("03", at: "2026-05-01T12:00:00Z", price: "1" + String(repeating: "0", count: 140_000)),
            // Fits PostgreSQL's numeric: without the contract's bound it would be stored.
            price("04", at: "2026-05-01T12:00:00Z", price: "1" + String(repeating: "0", count: 100_000)),
            // A tombstone (no value) is dead-lettered too, not skipped in silence.
            KafkaOutgoingMessage(topic: "in.prices", key: "BTC/EUR", value: []),
            price("05", at: "2026-05-01T12:00:01Z", price: "61234.50"),
        ])
        await producer.close()
        #expect(results.allSatisfy { (try? $0.get()) != nil })

        let (_, ranOn) = try await Self.runInputs(until: 6, pool: db.pool, config: config, group: "inputs-refused")
        #expect(ranOn, "the consumer ran on: no failure, no restart")

        let stored = try await db.pool.withConnection { conn in
            try conn.query("SELECT price::text AS p FROM reference_prices").compactMap { $0["p"] }
        }
        #expect(stored == ["61234.50"])
        let reasons = try await db.pool.withConnection { conn in
            try conn.query("SELECT reason FROM dead_letters ORDER BY kafka_offset").compactMap { $0["reason"] }
        }
        #expect(reasons.count == 5, "\(reasons)")
        #expect(reasons.prefix(2).allSatisfy { $0.contains("bad field occurred_at") && $0.contains("1970-01-01") }, "\(reasons)")
        #expect(reasons.dropFirst(2).prefix(2).allSatisfy { $0.contains("bad field price") && $0.contains("40 digits") }, "\(reasons)")
        #expect(reasons.last?.contains("tombstone") == true, "\(reasons)")
        // In the order they came: the junk before the good price was dead-lettered before the
        // price was stored (a reader who sees the price sees the dead letters before it).
        let inOrder = try await db.pool.withConnection { conn in
            try conn.query(
                "SELECT (SELECT max(received_at) FROM dead_letters) <= (SELECT min(received_at) FROM reference_prices) AS ok"
            ).first?.bool("ok")
        }
        #expect(inOrder == true)
        #expect(reasons.allSatisfy { $0.utf8.count < 1_000 }, "a dead letter's reason is short")
    }

    @Test("contracts: exactly the documented fields, formats and schema versions")
    func contracts() {
        let ok = #"{"schema":"unrip.reference_price.v1","event_id":"7d2e4b90-1c63-4f5d-a081-3e4f5a6b7c8d","occurred_at":"2026-05-01T12:00:00Z","pair":"BTC/EUR","price":"61234.50","source":"kraken"}"#
        #expect((try? InputContracts.parse(Array(ok.utf8), expected: .referencePrice).get()) != nil)
        let cases: [(String, String)] = [
            (ok.replacingOccurrences(of: #""price":"61234.50""#, with: #""price":61234.5"#), "bad field price"),
            (ok.replacingOccurrences(of: #""source":"kraken""#, with: #""source":"kraken","extra":1"#), "unknown field(s): extra"),
            (ok.replacingOccurrences(of: "2026-05-01T12:00:00Z", with: "yesterday"), "bad field occurred_at"),
            (ok.replacingOccurrences(of: "7d2e4b90-1c63", with: "nope"), "bad field event_id"),
        ]
        for (text, reason) in cases {
            guard case .failure(let r) = InputContracts.parse(Array(text.utf8), expected: .referencePrice) else {
                Issue.record("accepted: \(text)")
                continue
            }
            #expect(r.reason.hasPrefix(reason), "\(r.reason)")
        }
        guard case .failure(let wrongTopic) = InputContracts.parse(Array(ok.utf8), expected: .executionResult) else {
            Issue.record("a price accepted on the execution results topic")
            return
        }
        #expect(wrongTopic.reason.contains("unknown schema"))
    }
}
