import BitcoinTesting
import Foundation
import JSONRPCClient
import KafkaBus
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// Two hosts on one database (`[ha] enabled`): each plugin active on one, the other standing by;
/// `kill -9` of the active one and a frozen one (SIGSTOP past its lease) must lose, double and
/// misfile nothing.
@Suite(.serialized) struct TwoHostDrillTests {
    static let leaseSeconds = 3

    struct Drill {
        let db: TestDatabase
        let double: BitcoindDouble
        let broker: TestBroker
        let topic: String
        let a: HostProcess
        let b: HostProcess

        static func start() async throws -> Drill {
            let db = try await TestDatabase.create()
            let double = try await BitcoindDouble.start()
            double.mine(1)
            let broker = try await TestBroker.start(topics: [])
            let topic = "ha.observations.\(UUID().uuidString.prefix(8))"
            let config = KillDrillTests.config(db: db, double: double, kafka: (broker.bootstrap, topic, "ha.alerts"))
                + "\n[ha]\nenabled = true\nlease_s = \(leaseSeconds)\n"
            let a = try HostProcess(config: config, port: try freePort())
            try a.start(environment: ["UNRIP_HA_HOST_ID": "host-a"])
            let drill = Drill(db: db, double: double, broker: broker, topic: topic, a: a, b: try HostProcess(config: config, port: try freePort()))
            // A first, so it holds every lease; then B, which stands by.
            #expect(await waitUntil(.seconds(30)) {
                let holders = await drill.holders()
                return holders["bitcoin"] == "host-a" && holders["relay"] == "host-a" && holders.values.allSatisfy { $0 == "host-a" }
            }, "\(a.log.suffix(1500))")
            try drill.b.start(environment: ["UNRIP_HA_HOST_ID": "host-b"])
            #expect(await waitUntil(.seconds(30)) { await drill.role(drill.b, "bitcoin") == "standby" }, "\(drill.b.log.suffix(1500))")
            return drill
        }

        /// Plugin → holder, from `plugin_leases`.
        func holders() async -> [String: String] {
            let rows = (try? await PluginLeaseStore(pool: db.pool).all()) ?? []
            return Dictionary(uniqueKeysWithValues: rows.map { ($0.plugin, $0.holder) })
        }

        func role(_ host: HostProcess, _ plugin: String) async -> String? {
            guard let body = try? await JSONRPCClient(.init(url: "http://127.0.0.1:\(host.port)", timeout: .seconds(2))).get("/plugins/\(plugin)/state")
            else { return nil }
            return (try? JSONValue.parse(body))?["role"]?.stringValue
        }

        func pay(_ n: Int) -> String {
            double.pay(script: KillDrillTests.script, sats: Int64(20_000 + n), change: 500).txid
        }

        /// Every paid transaction observed exactly once and confirmed, each confirmation once,
        /// every outbox event published, and the topic holding exactly the outbox.
        func expectEverythingOnce(_ paid: [String], host: HostProcess) async throws {
            double.mine(3)
            let repository = FundingRepository(pool: db.pool)
            let settled = await waitUntil(.seconds(60)) {
                let rows = (try? await repository.listObservations(ObservationFilter(limit: 1000))) ?? []
                return rows.count == paid.count && rows.allSatisfy { $0.state == "SEEN_CONFIRMED" }
            }
            let rows = try await repository.listObservations(ObservationFilter(limit: 1000))
            #expect(settled, "settled \(rows.count)/\(paid.count)\n\(host.log.suffix(2000))")
            #expect(Set(rows.map(\.txHash)) == Set(paid))
            let doubled = try await KillDrillTests.confirmedMoreThanOnce(db)
            #expect(doubled.isEmpty, "observations confirmed more than once: \(doubled)")
            #expect(await waitUntil(.seconds(60)) { (try? await DrillFacts.unpublished(db)) == 0 }, "outbox drained by the active host")
            let expected = try await DrillFacts.outboxEventIDs(db, topic: topic)
            let seen = Set(try await DrillFacts.topicEvents(broker.bootstrap, topic: topic) { Set($0.keys) == expected }.keys)
            #expect(seen == expected, "the topic holds \(seen.count) distinct events of the outbox's \(expected.count)")
        }

        func stop() async {
            for host in [a, b] where host.process.isRunning { _ = await host.terminate() }
            broker.stop()
        }
    }

    @Test func killNineOfTheActiveHostHandsEveryPluginToTheStandby() async throws {
        let drill = try await Drill.start()
        let holders = await drill.holders()
        #expect(Set(holders.keys).isSuperset(of: ["bitcoin", "relay", "inputs", "alerts"]), "\(holders)")
        #expect(holders.values.allSatisfy { $0 == "host-a" }, "more than one host active: \(holders)")
        var paid = (0..<3).map { drill.pay($0) }
        drill.double.mine(1)

        await drill.a.kill9()
        let killed = ContinuousClock.now
        // Deposits keep coming during the switch.
        paid += (3..<6).map { drill.pay($0) }
        let tookOver = await waitUntil(.seconds(Double(Self.leaseSeconds) + 10)) { await drill.role(drill.b, "bitcoin") == "active" }
        let took = ContinuousClock.now - killed
        #expect(tookOver, "the standby never took over\n\(drill.b.log.suffix(2000))")
        #expect(took < .seconds(Self.leaseSeconds + 2), "the standby took \(took) to take over (lease_s = \(Self.leaseSeconds))")
        print("two-host drill: kill -9 → standby active after \(took)")
        paid += (6..<8).map { drill.pay($0) }
        try await drill.expectEverythingOnce(paid, host: drill.b)
        let finalHolders = await drill.holders()
        #expect(await waitUntil(.seconds(30)) { await drill.holders().values.allSatisfy { $0 == "host-b" } }, "\(finalHolders)")
        await drill.stop()
    }

    @Test func aFrozenHostThatWakesAfterItsLeaseMovedCommitsNothingAndStandsBy() async throws {
        let drill = try await Drill.start()
        var paid = (0..<2).map { drill.pay($0) }
        drill.double.mine(1)
        #expect(await waitUntil(.seconds(30)) {
            ((try? await FundingRepository(pool: drill.db.pool).listObservations(ObservationFilter(limit: 100))) ?? []).count == 2
        })
        // A freezes (a GC pause, a lost network, SIGSTOP) while deposits arrive and its node
        // queues them on its ZMQ sockets.
        drill.a.process.send(SIGSTOP)
        paid += (2..<5).map { drill.pay($0) }
        drill.double.mine(1)
        #expect(await waitUntil(.seconds(Double(Self.leaseSeconds) + 10)) { await drill.role(drill.b, "bitcoin") == "active" }, "\(drill.b.log.suffix(2000))")
        // Every plugin's lease expires and moves on (each standby asks every lease_s / 3).
        #expect(await waitUntil(.seconds(Double(Self.leaseSeconds) + 10)) {
            ((try? await PluginLeaseStore(pool: drill.db.pool).all()) ?? []).allSatisfy { $0.holder == "host-b" && $0.epoch >= 2 }
        }, "not every lease moved to host-b")
        // B commits while A is frozen.
        #expect(await waitUntil(.seconds(30)) {
            ((try? await FundingRepository(pool: drill.db.pool).listObservations(ObservationFilter(limit: 100))) ?? []).count == 5
        }, "\(drill.b.log.suffix(2000))")
        // A wakes believing it still runs everything: it finds the lease gone and stands by.
        drill.a.process.send(SIGCONT)
        #expect(await waitUntil(.seconds(30)) {
            let bitcoin = await drill.role(drill.a, "bitcoin"), relay = await drill.role(drill.a, "relay")
            return bitcoin == "standby" && relay == "standby"
        }, "\(drill.a.log.suffix(2000))")
        #expect(drill.a.log.contains("lost the lease") || drill.a.log.contains("lease of"), "\(drill.a.log.suffix(2000))")
        let holders = await drill.holders()
        #expect(holders.values.allSatisfy { $0 == "host-b" }, "\(holders)")
        let refused = drill.a.log.components(separatedBy: "nothing was committed").count - 1
        let lost = drill.a.log.components(separatedBy: "lost the lease").count - 1
        print("two-host drill: the woken host refused \(refused) commit(s) and stepped down for \(lost) plugin(s)")
        paid += (5..<7).map { drill.pay($0) }
        try await drill.expectEverythingOnce(paid, host: drill.b)
        await drill.stop()
    }
}
