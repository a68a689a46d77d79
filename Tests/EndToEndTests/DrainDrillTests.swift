import BitcoinTesting
import Foundation
import KafkaBus
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// SIGTERM while deposits pour in: the host drains and exits 0 within `shutdown_timeout_s`;
/// nothing the broker acknowledged is left unmarked, so the restart republishes none of it.
@Suite(.serialized) struct DrainDrillTests {
    static var rate: Int { Int(ProcessInfo.processInfo.environment["UNRIP_DRAIN_DRILL_RATE"] ?? "") ?? 2_000 }

    /// Every record of `topic` from the start, until `expected` distinct events arrived and
    /// nothing more came for a second: event id → how many times it is there.
    static func eventCounts(_ broker: TestBroker, _ topic: String, atLeast expected: Int) async throws -> [String: Int] {
        try await DrillFacts.topicEvents(broker.bootstrap, topic: topic, quiet: .seconds(1)) { $0.count >= expected }.mapValues(\.count)
    }

    static func outbox(_ db: TestDatabase, _ topic: String, published: Bool) async throws -> Set<String> {
        try await DrillFacts.outboxEventIDs(db, topic: topic, published: published)
    }

    @Test(.enabled(if: TestBroker.noidaBinary != nil, "needs noida-db (./scripts/test installs it)"))
    func sigtermUnderLoadDrainsAndTheRestartRepublishesNothingAcknowledged() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let broker = try await TestBroker.start(topics: [])
        defer { broker.stop() }
        let topic = "drain.observations.\(UUID().uuidString.prefix(8))"
        let config = KillDrillTests.config(db: db, double: double, kafka: (broker.bootstrap, topic, "drain.alerts"))
            .replacingOccurrences(of: "[kafka.properties]", with: "shutdown_timeout_s = 10\n[kafka.properties]")
        let host = try HostProcess(config: config, port: try freePort())
        try host.start()
        _ = double.pay(script: KillDrillTests.script, sats: 1_000, change: 500)
        #expect(await waitUntil(.seconds(30)) { ((try? await Self.outbox(db, topic, published: true)) ?? []).count == 1 }, "\(host.log.suffix(2000))")

        // Deposits at `rate` per second for two seconds, SIGTERM in the middle of them.
        let started = ContinuousClock.now
        var paid = 0
        var terminated: ContinuousClock.Instant?
        while ContinuousClock.now - started < .seconds(2) {
            let due = Int(Double(Self.rate) * (ContinuousClock.now - started).timeInterval)
            while paid < due {
                _ = double.pay(script: KillDrillTests.script, sats: Int64(2_000 + paid), change: 500)
                paid += 1
            }
            if terminated == nil, ContinuousClock.now - started >= .seconds(1) {
                host.process.terminate()
                terminated = .now
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let exited = await host.process.exited(within: .seconds(30))
        let took = ContinuousClock.now - (terminated ?? .now)
        #expect(exited && host.process.terminationStatus == 0, "exit \(host.process.terminationStatus) after SIGTERM\n\(host.log.suffix(2000))")
        #expect(took < .seconds(10 + 7), "the drain took \(took) (shutdown_timeout_s = 10)")
        #expect(host.log.contains("outbox relay drained"), "\(host.log.suffix(2000))")

        // Acknowledged means in the topic: none of those may be left unmarked.
        let unmarked = try await Self.outbox(db, topic, published: false)
        let published = try await Self.outbox(db, topic, published: true)
        let inTopic = try await Self.eventCounts(broker, topic, atLeast: published.count)
        #expect(Set(inTopic.keys).isSuperset(of: published), "a row marked published is not in the topic")
        #expect(inTopic.keys.filter(unmarked.contains).isEmpty, "acknowledged by the broker but left unmarked: \(inTopic.keys.filter(unmarked.contains).count)")

        // The restart publishes what was left, and nothing twice.
        let restarted = try host.restarted()
        #expect(await waitUntil(.seconds(60)) { ((try? await Self.outbox(db, topic, published: false)) ?? [""]).isEmpty }, "\(restarted.log.suffix(2000))")
        let all = try await Self.outbox(db, topic, published: true)
        let after = try await Self.eventCounts(broker, topic, atLeast: all.count)
        #expect(Set(after.keys) == all)
        let repeated = after.values.filter { $0 > 1 }.count
        #expect(repeated == 0, "\(repeated) acknowledged events published again after the restart")
        print("drain drill: \(paid) deposits in 2 s (\(Self.rate)/s offered), SIGTERM after 1 s, exit 0 in \(took); \(unmarked.count) rows left for the restart, \(repeated) repeated")
        #expect(await restarted.terminate() == 0)
    }
}
