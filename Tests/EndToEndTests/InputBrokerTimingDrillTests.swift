import BitcoinTesting
import Foundation
import JSONRPCClient
import KafkaBus
import Testing
import WatchCore
import WatchTesting

/// The input consumer of the real binary against a broker that holds an empty fetch for
/// `fetch.wait.max.ms` (librdkafka's mock cluster, as Apache Kafka does) and one that answers it
/// at once (noida-db): a price produced after the consumer sat idle is stored either way. With
/// the idle fetch pause on against a holding broker (which can starve it: each pause drops the
/// fetch in flight), the stall check stops the pauses and the price still arrives.
@Suite(.serialized) struct InputBrokerTimingDrillTests {
    static let topics = ["unrip.funding.observations", "unrip.alerts", "unrip.reference_prices", "unrip.inventory_snapshots", "unrip.execution_results"]

    static func price(_ id: String, key: String = "BTC/EUR") -> KafkaOutgoingMessage {
        KafkaOutgoingMessage(
            topic: "unrip.reference_prices", key: key,
            value: Array(#"{"schema":"unrip.reference_price.v1","event_id":"\#(id)","occurred_at":"2026-11-25T00:00:00Z","pair":"BTC/EUR","price":"90000.5","source":"drill"}"#.utf8))
    }

    /// A host on `brokers` with `kafka` lines added; a first price stored, the consumer seen idle
    /// (a stall check after it found nothing waiting), then a second price: stored or not.
    static func secondPriceStored(brokers: String, kafka: [String]) async throws -> (stored: Bool, state: JSONValue?, log: String) {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let config = KillDrillTests.config(db: db, double: double) + "\n[kafka]\nbrokers = [\"\(brokers)\"]\n" + kafka.joined(separator: "\n")
            + "\n[kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n"
        let host = try await HostileRoundThreeDrillTests.started(config)
        defer { Task { _ = await host.terminate() } }
        let producer = try KafkaProducer(config: KafkaClientConfig(brokers: [brokers]))
        defer { Task { await producer.close() } }
        func stored(_ id: String) async -> Bool {
            ((try? await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM reference_prices WHERE event_id = $1::uuid", [id]).first?.int("n") }) ?? nil) == 1
        }
        let first = UUID().uuidString.lowercased(), second = UUID().uuidString.lowercased()
        _ = await producer.send([Self.price(first)])
        #expect(await waitUntil(.seconds(60)) { await stored(first) }, "\(host.log.suffix(1500))")
        // Idle: the consumer's own check found its partitions assigned and nothing waiting.
        #expect(await waitUntil(.seconds(30)) {
            let state = await BridgeHandlesDrillTests.json(host.port, "/plugins/inputs/state")?["plugin"]
            return (state?["assigned_partitions"]?.int64Value ?? 0) > 0 && state?["messages_waiting"] == .int(0)
        })
        // Another key: on another partition than the first, which the consumer has not read yet.
        _ = await producer.send([Self.price(second, key: "ETH/EUR")])
        let arrived = await waitUntil(.seconds(60)) { await stored(second) }
        return (arrived, await BridgeHandlesDrillTests.json(host.port, "/plugins/inputs/state"), host.log)
    }

    @Test func aBrokerThatHoldsEmptyFetchesStallsNoInputByDefault() async throws {
        let mock = try await KafkaMockProcess.start(topics: Self.topics)
        defer { mock.stop() }
        let run = try await Self.secondPriceStored(brokers: mock.bootstrap, kafka: [])
        #expect(run.stored, "\(String(describing: run.state))\n\(run.log.suffix(1500))")
    }

    @Test func aPausingConsumerOnABrokerThatHoldsFetchesRecovers() async throws {
        let mock = try await KafkaMockProcess.start(topics: Self.topics)
        defer { mock.stop() }
        let run = try await Self.secondPriceStored(brokers: mock.bootstrap, kafka: ["input_idle_fetch_pause_ms = 100", "input_stall_after_s = 5"])
        #expect(run.stored, "\(String(describing: run.state))\n\(run.log.suffix(1500))")
    }

    @Test func aBrokerThatAnswersAtOnceGetsEveryInputWithThePause() async throws {
        let broker = try await TestBroker.start(topics: Self.topics)
        defer { broker.stop() }
        let run = try await Self.secondPriceStored(brokers: broker.bootstrap, kafka: ["input_idle_fetch_pause_ms = 100"])
        #expect(run.stored, "\(broker.kind): \(String(describing: run.state))\n\(run.log.suffix(1500))")
    }

    /// A flood of junk on an input topic: every message dead-lettered, and a good price behind
    /// it stored once they are. Prints what the flood cost (messages dead-lettered a second).
    @Test func aFloodOfJunkIsDeadLetteredAndThePriceBehindItArrives() async throws {
        let count = Int(ProcessInfo.processInfo.environment["UNRIP_JUNK_FLOOD"] ?? "") ?? 20_000
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let broker = try await TestBroker.start(topics: Self.topics)
        defer { broker.stop() }
        let config = KillDrillTests.config(db: db, double: double) + "\n[kafka]\nbrokers = [\"\(broker.bootstrap)\"]\n"
        let host = try await HostileRoundThreeDrillTests.started(config)
        defer { Task { _ = await host.terminate() } }
        let producer = try KafkaProducer(config: KafkaClientConfig(brokers: [broker.bootstrap]))
        let junk = (0..<count).map { KafkaOutgoingMessage(topic: "unrip.reference_prices", key: "junk", value: Array("{\"junk\": \($0)}".utf8)) }
        let sent = ContinuousClock.now
        var results = await producer.send(junk)
        let good = UUID().uuidString.lowercased()
        results += await producer.send([Self.price(good, key: "junk")])
        await producer.close()
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        let stored = await waitUntil(.seconds(300), every: .milliseconds(100)) {
            ((try? await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM reference_prices WHERE event_id = $1::uuid", [good]).first?.int("n") }) ?? nil) == 1
        }
        let took = ContinuousClock.now - sent
        let dead = try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM dead_letters").first?.int("n") }
        #expect(stored && dead == count, "stored \(stored), dead letters \(String(describing: dead)) of \(count)")
        let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        print("junk flood (\(broker.kind)): \(count) dead-lettered and the price behind them stored in \(took), \(Int(Double(count) / seconds))/s")
    }
}
