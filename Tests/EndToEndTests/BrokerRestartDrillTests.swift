import BitcoinTesting
import Foundation
import JSONRPCClient
import KafkaBus
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// The Kafka broker (noida-db, its own process) stopped for a while and restarted while deposits
/// flow: the outbox holds what the broker cannot take, then drains; the topic ends up with every
/// event, a repeat only ever as the same `event_id` again.
@Suite(.serialized) struct BrokerRestartDrillTests {
    static var outageSeconds: Int { Int(ProcessInfo.processInfo.environment["UNRIP_BROKER_OUTAGE_S"] ?? "") ?? 30 }

    @Test(.enabled(if: TestBroker.noidaBinary != nil, "needs noida-db (./scripts/test installs it)"))
    func brokerDownWhileDepositsFlowLosesNothing() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let broker = try await TestBroker.start(topics: [])
        defer { broker.stop() }
        let topic = "outage.observations.\(UUID().uuidString.prefix(8))"
        let host = try HostProcess(config: KillDrillTests.config(db: db, double: double, kafka: (broker.bootstrap, topic, "outage.alerts")), port: try freePort())
        try host.start()
        var paid: [String] = []
        func payAndMine() {
            paid.append(double.pay(script: KillDrillTests.script, sats: Int64(10_000 + paid.count), change: 500).txid)
            double.mine(1)
        }
        for _ in 0..<3 { payAndMine() }
        #expect(await waitUntil(.seconds(30)) { await Self.settled(db, paid.count) },
                "published before the outage\n\(host.log.suffix(2000))")

        await broker.pause()
        var backlog: [Int] = []
        for _ in 0..<Self.outageSeconds {
            payAndMine()
            try await Task.sleep(for: .seconds(1))
            backlog.append(try await DrillFacts.unpublished(db))
        }
        #expect(backlog.last ?? 0 > backlog.first ?? 0, "the outbox backlog did not grow while the broker was down: \(backlog)")
        try await broker.resume()
        for _ in 0..<3 { payAndMine() }
        double.mine(3)
        #expect(await waitUntil(.seconds(90)) { await Self.settled(db, paid.count) },
                "the backlog drained after the restart\n\(host.log.suffix(3000))")

        let expected = try await DrillFacts.outboxEventIDs(db, topic: topic)
        let seen = try await DrillFacts.topicEvents(broker.bootstrap, topic: topic) { Set($0.keys) == expected }.mapValues(\.count)
        #expect(Set(seen.keys) == expected, "the topic holds \(seen.count) distinct events of the outbox's \(expected.count)")
        let repeats = seen.values.reduce(0) { $0 + $1 - 1 }
        print("broker outage drill: \(Self.outageSeconds) s down, backlog peak \(backlog.max() ?? 0), \(expected.count) events, \(repeats) repeated")
        #expect(await host.terminate() == 0)
    }

    /// Every payment observed, and nothing left unpublished.
    static func settled(_ db: TestDatabase, _ payments: Int) async -> Bool {
        let unpublished = try? await DrillFacts.unpublished(db)
        let observed = try? await Self.observed(db)
        return unpublished == 0 && observed == payments
    }

    /// Observations recorded (one per paid transaction).
    static func observed(_ db: TestDatabase) async throws -> Int {
        try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM funding_observations").first?.int("n") } ?? -1
    }
}
