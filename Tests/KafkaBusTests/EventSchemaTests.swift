import Alerting
import Foundation
import KafkaBus
import Logging
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// Runs docs/schemas/validate.py (python3 `jsonschema`, draft 2020-12); returns (exit code, output).
func validateSchemas(_ arguments: [String]) async throws -> (Int32, String) {
    try await EventSchemaValidator.run(arguments)
}

/// One observation written through the store, as an adapter's pipeline would.
func seedObservation(_ repo: FundingRepository, chain: String = "bitcoin", tx: String, target: FundingTarget = .seenUnconfirmed, kind: ObservationKind = .seenInMempool, at: Date) async throws {
    let o = ChainObservation(
        key: TransferKey(chain: chain, txHash: tx, outputIndex: 0), network: "regtest", asset: "BTC", address: "bcrt1qhandle",
        amount: Amount(150_000), kind: kind, target: target, confirmations: 0, block: nil, observedAt: at)
    try await repo.commit(TrackerCommit(adapter: chain, chain: chain, observations: [o], tip: nil, recentBlocks: [], demotions: [:]))
}

@Suite("Event schemas", .serialized)
struct EventSchemaTests {
    @Test("every documented example validates against its JSON Schema")
    func documentedExamples() async throws {
        let (status, output) = try await validateSchemas(["--examples"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("checked 7 document(s), 0 problem(s)"), "\(output)")
    }

    @Test("alert and observation events, as consumed from Kafka, match their JSON Schemas")
    func producedEventsOnKafka() async throws {
        let db = try await TestDatabase.create()
        let mock = try await MockKafka.start(topics: ["obs", "alerts"])
        defer { mock.stop() }
        let repo = FundingRepository(pool: db.pool, observationsTopic: "obs")
        let now = Date()
        try await seedObservation(repo, tx: String(repeating: "ab", count: 32), at: now)
        let id = try #require(try await repo.listObservations(ObservationFilter()).first?.id)
        guard case .marked = try await repo.markStuck(id: id, text: "bridge ticket 7", at: now) else {
            Issue.record("not marked")
            return
        }
        // A fee bump: the replaced transfer's event carries superseded_by and the amounts.
        let bumped = String(repeating: "cd", count: 32)
        try await seedObservation(repo, tx: bumped, at: now)
        var replaced = ChainObservation(
            key: TransferKey(chain: "bitcoin", txHash: bumped, outputIndex: 0), network: "regtest", asset: "BTC", address: "bcrt1qhandle",
            amount: Amount(150_000), kind: .replaced, target: .failedOrStuck(.replaced(by: String(repeating: "ef", count: 32))),
            confirmations: 0, block: nil, observedAt: now)
        replaced.replacement = Replacement(by: String(repeating: "ef", count: 32), outcome: .superseded, originalAmount: Amount(150_000), replacementAmount: Amount(149_000))
        try await repo.commit(TrackerCommit(adapter: "bitcoin", chain: "bitcoin", observations: [replaced], tip: nil, recentBlocks: [], demotions: [:]))
        _ = try await db.pool.withConnection { conn in
            try conn.query(
                "INSERT INTO reference_prices (event_id, pair, price, source, occurred_at) VALUES (gen_random_uuid(), 'BTC/EUR', 61000.5, 'test', $1::timestamptz)",
                [Timestamp.string(now.addingTimeInterval(-3600))])
        }
        let alerts = AlertStore(pool: db.pool, topic: "alerts")
        var config = AlertsConfig(stalePriceMaxAgeSeconds: 60, forSeconds: 0)
        config.watchdog = true
        let stalled = WatchdogFinding(rule: "chain_stalled", subject: "bitcoin", chain: "bitcoin", reason: "stalled", details: ["tip_height": 7])
        let violated = WatchdogFinding(rule: "finality_violated", subject: "gnosis:9", chain: "gnosis", reason: "changed", details: ["height": 9], latched: true)
        let fired = try await alerts.evaluate(
            now: now, config: config, health: [("bitcoin", .unhealthy("node unreachable"))], watchdog: [stalled], latched: [violated])
        // stale price, stuck funding, unhealthy adapter, watchdog, chain_stalled, finality_violated (not the superseded one)
        #expect(fired.filter(\.isTransition).count == 6)
        let resolved = try await alerts.evaluate(now: now, config: config, health: [("bitcoin", .healthy)], watchdog: [stalled])
        #expect(resolved.filter(\.isTransition).count == 1)

        let relay = OutboxRelay(store: OutboxStore(pool: db.pool), config: KafkaClientConfig(brokers: [mock.bootstrap]), logger: Logger(label: "test"))
        let running = Task { try await relay.run() }
        try await eventually("outbox published") { try await OutboxStore(pool: db.pool).backlog().count == 0 }
        running.cancel()
        let total = try await count(db.pool, "outbox")
        #expect(total == 11)  // 2 seen, manual_stuck, replaced, 6 firing, 1 resolved

        let records = try await consume(mock.bootstrap, topics: ["obs", "alerts"], count: total)
        #expect(records.count == total)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString).jsonl")
        try Data(records.map { String(decoding: $0.value, as: UTF8.self) }.joined(separator: "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, output) = try await validateSchemas([file.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("checked \(total) document(s), 0 problem(s)"), "\(output)")
        let parsed = records.compactMap { try? JSONValue.parse($0.value) }
        let superseded = parsed.first { $0["kind"] == "replaced" }
        #expect(superseded?["superseded_by"] == .string(String(repeating: "ef", count: 32)) && superseded?["details"]?["replacement_amount"] == "149000")
        let rules = Set(parsed.compactMap { $0["rule"]?.stringValue })
        #expect(rules.isSuperset(of: ["watchdog", "chain_stalled", "finality_violated"]))
        let schemas = Set(records.compactMap { try? JSONValue.parse($0.value)["schema"]?.stringValue })
        #expect(schemas == ["unrip.funding_observation.v1", "unrip.alert.v1"])
    }
}
