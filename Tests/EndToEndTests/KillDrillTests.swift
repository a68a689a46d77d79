import BitcoinTesting
import Foundation
import JSONRPCClient
import KafkaBus
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// Drills through real processes: the host binary, PostgreSQL, and the bitcoind double.
@Suite(.serialized) struct KillDrillTests {
    static let handle = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    // P2WPKH script of the handle above (BIP173 test program).
    static let script: [UInt8] = [0x00, 0x14] + [0x75, 0x1e, 0x76, 0xe8, 0x19, 0x91, 0x96, 0xd4, 0x54, 0x94, 0x1c, 0x45, 0xd1, 0xb3, 0xa3, 0x23, 0xf1, 0x43, 0x3b, 0xd6]

    /// Without `handles`, the bitcoin section lists none (they come from the bridge or over HTTP).
    static func config(db: TestDatabase, double: BitcoindDouble, kafka: (brokers: String, observations: String, alerts: String)? = nil, handles: Bool = true) -> String {
        let kafkaSection = kafka.map { k in
            // Short consumer-group timeouts: killed members of the inputs group are evicted quickly.
            "[kafka]\nbrokers = [\"\(k.brokers)\"]\ntopic_observations = \"\(k.observations)\"\ntopic_alerts = \"\(k.alerts)\"\n"
                + "[kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n"
        } ?? ""
        return """
        \(kafkaSection)
        [database]
        url = "\(db.url)"
        migrations_dir = "\(TestDatabase.migrationsDirectory)"
        [control]
        token = "drill-token"
        \(double.bitcoinSection(extra: ["watchdog_interval_ms = 200"] + (handles ? ["handles = [{ address = \"\(handle)\", label = \"drill\" }]"] : [])))
        """
    }

    /// Observations whose timeline entered SEEN_CONFIRMED other than exactly once.
    static func confirmedMoreThanOnce(_ db: TestDatabase) async throws -> [String] {
        try await db.pool.withConnection { conn in
            try conn.query(
                """
                SELECT observation_id FROM funding_observation_events
                WHERE state = 'SEEN_CONFIRMED' AND previous_state IS DISTINCT FROM 'SEEN_CONFIRMED'
                GROUP BY observation_id HAVING count(*) <> 1
                """
            ).compactMap { $0["observation_id"] }
        }
    }

    @Test func killNineWhileDepositsFlowLosesAndDuplicatesNothing() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let topic = "drill.observations.\(UUID().uuidString.prefix(8))"
        let kafka = try await TestBroker.start(topics: [topic, "drill.alerts"])
        defer { kafka.stop() }
        var host = try HostProcess(config: Self.config(db: db, double: double, kafka: (kafka.bootstrap, topic, "drill.alerts")), port: try freePort())
        try host.start()
        var paid: [String] = []
        // A new seed each run, printed, so a failure can be replayed (UNRIP_DRILL_SEED=N).
        let seed = ProcessInfo.processInfo.environment["UNRIP_DRILL_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        print("kill drill seed: \(seed) (replay with UNRIP_DRILL_SEED=\(seed))")
        var rng = SeededGenerator(seed: seed)
        for round in 0..<6 {
            // Deposits and blocks keep coming while the host is killed at a random moment.
            for _ in 0..<Int.random(in: 2...5, using: &rng) {
                paid.append(double.pay(script: Self.script, sats: Int64.random(in: 1_000...900_000, using: &rng), change: 500).txid)
                if Bool.random(using: &rng) { double.mine(1) }
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...120, using: &rng)))
            }
            await host.kill9()
            if round % 2 == 0 { double.mine(1) }  // the chain moves while the host is dead
            host = try host.restarted()
        }
        double.mine(3)
        let repository = FundingRepository(pool: db.pool)
        let settled = await waitUntil(.seconds(60)) {
            let rows = (try? await repository.listObservations(ObservationFilter(limit: 1000))) ?? []
            return rows.count == paid.count && rows.allSatisfy { $0.state == "SEEN_CONFIRMED" }
        }
        let rows = try await repository.listObservations(ObservationFilter(limit: 1000))
        #expect(settled, "seed \(seed): settled \(rows.count)/\(paid.count)\n\(host.log.suffix(3000))")
        #expect(Set(rows.map(\.txHash)) == Set(paid))
        #expect(rows.count == paid.count)
        // No timeline step twice: each observation entered SEEN_CONFIRMED exactly once.
        let doubled = try await Self.confirmedMoreThanOnce(db)
        #expect(doubled.isEmpty, "observations confirmed more than once: \(doubled)")
        // Every event carried to the outbox exactly once (event ids are unique by construction).
        let mismatch = try await db.pool.withConnection { conn in
            try conn.query("SELECT count(*) AS n FROM funding_observation_events e WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = e.event_id)").first?.int("n")
        }
        #expect(mismatch == 0)
        // Kafka, after dedup by event_id, holds exactly the outbox: every transfer, each
        // confirmation once — the same ground truth as the double's payments.
        #expect(await waitUntil(.seconds(60)) { (try? await DrillFacts.unpublished(db)) == 0 }, "outbox drained to Kafka")
        let expected = try await DrillFacts.outboxEventIDs(db, topic: topic)
        let read = try await DrillFacts.topicEvents(
            kafka.bootstrap, topic: topic, properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"], timeout: .seconds(90)
        ) { $0.count >= expected.count }
        let events = read.compactMapValues(\.last)
        let received = read.values.reduce(0) { $0 + $1.count }
        #expect(Set(events.keys) == expected, "Kafka has \(events.count) distinct events of \(expected.count) (received \(received))")
        let confirmedOnce = Dictionary(grouping: events.values.filter { $0["state"] == "SEEN_CONFIRMED" && $0["previous_state"] != "SEEN_CONFIRMED" }) { $0["tx_hash"]?.stringValue ?? "" }
        #expect(Set(confirmedOnce.keys) == Set(paid))
        #expect(confirmedOnce.values.allSatisfy { $0.count == 1 })

        // The running host exposes what it did as Prometheus metrics.
        let metrics = String(decoding: try await JSONRPCClient(.init(url: "http://127.0.0.1:\(host.port)")).get("/metrics"), as: UTF8.self)
        #expect(metrics.contains("unrip_observations_total{") && metrics.contains("unrip_cursor_height{adapter=\"bitcoin\"}"), "\(metrics.prefix(2000))")
        // The watchdog's figures per chain (with ZMQ configured: the age of its last message).
        for name in ["unrip_chain_tip_height", "unrip_chain_cursor_height", "unrip_chain_tip_age_seconds", "unrip_zmq_last_message_age_seconds"] {
            #expect(metrics.contains("\(name){chain=\"bitcoin\"}"), "\(name) missing from /metrics")
        }
        #expect(await host.terminate() == 0, "graceful shutdown on SIGTERM")
        // SIGTERM drains the relay (nothing in flight left unmarked) instead of cancelling it.
        #expect(host.log.contains("outbox relay drained"), "\(host.log.suffix(2000))")
    }
}
