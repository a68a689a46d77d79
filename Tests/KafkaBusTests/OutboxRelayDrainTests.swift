import Foundation
import KafkaBus
import Logging
import PostgresStore
import ServiceLifecycleTestKit
import Synchronization
import Testing
import WatchCore
import WatchTesting

/// SIGTERM reaches the relay as a graceful shutdown: it stops reading rows, waits for the
/// acknowledgements of what is in flight, marks those, and returns.
@Suite("Outbox relay drain", .serialized)
struct OutboxRelayDrainTests {
    static func relay(_ db: TestDatabase, _ mock: MockKafka, timeout: Duration, clock: any WatchClock) -> OutboxRelay {
        OutboxRelay(
            store: OutboxStore(pool: db.pool), config: KafkaClientConfig(brokers: [mock.bootstrap], properties: ["retry.backoff.ms": "50"]),
            settings: .init(batchSize: 4, idleInterval: .milliseconds(20), maxInFlight: 4, shutdownTimeout: timeout),
            logger: Logger(label: "test.relay.drain"), clock: clock)
    }

    @Test("graceful shutdown with batches in flight: they are acknowledged and marked, rows committed after it stay for the next start")
    func drainWaitsForTheAcknowledgements() async throws {
        let db = try await TestDatabase.create()
        let mock = try await MockKafka.start(topics: ["drain.out"])
        defer { mock.stop() }
        let store = OutboxStore(pool: db.pool)
        let relay = Self.relay(db, mock, timeout: .seconds(60), clock: SystemClock())
        try await mock.command("down")
        var sent: Set<String> = []
        for n in 0..<12 { sent.insert(try await enqueue(db.pool, topic: "drain.out", key: "k\(n % 3)", n: n)) }
        try await testGracefulShutdown { trigger in
            let running = Running { try await relay.run() }
            defer { running.task.cancel() }
            // Three batches of four, sent and unacknowledged while the broker is down.
            try await eventually("rows in flight", timeout: 20) { (await relay.state())["in_flight"] == .int(12) }
            trigger.triggerGracefulShutdown()
            var late: Set<String> = []
            for n in 0..<5 { late.insert(try await enqueue(db.pool, topic: "drain.out", key: "late", n: n)) }
            try await mock.command("up")
            try await eventually("the relay returned after the drain", timeout: 40) { running.isFinished }
            #expect(running.error == nil, "the drain ended in an error: \(running.error.map { "\($0)" } ?? "")")
            let unpublished = try await db.pool.withConnection { conn in
                Set(try conn.query("SELECT event_id::text AS e FROM outbox WHERE published_at IS NULL").compactMap { $0["e"] })
            }
            #expect(unpublished == late, "only the rows committed after the shutdown began stay unpublished")
            #expect(try await store.backlog().count == 5)
        }
        let records = try await consume(mock.bootstrap, topics: ["drain.out"], count: 12)
        #expect(Set(try eventIDsByKey(records).values.flatMap { $0 }) == sent)
    }

    @Test("the broker stays down past shutdown_timeout: the relay returns without marking anything")
    func drainGivesUpAfterTheTimeout() async throws {
        let db = try await TestDatabase.create()
        let mock = try await MockKafka.start(topics: ["drain.stuck"])
        defer { mock.stop() }
        let clock = TestClock()
        let relay = Self.relay(db, mock, timeout: .seconds(10), clock: clock)
        try await mock.command("down")
        for n in 0..<8 { _ = try await enqueue(db.pool, topic: "drain.stuck", key: "k", n: n) }
        try await testGracefulShutdown { trigger in
            let running = Running { try await relay.run() }
            defer { running.task.cancel() }
            try await eventually("rows in flight", timeout: 20) { (await relay.state())["in_flight"] == .int(8) }
            // Counted before the shutdown: the shutdown wakes the loop, which then sleeps again.
            let asleep = clock.sleeps
            trigger.triggerGracefulShutdown()
            // Asleep in the drain, its deadline on the test clock: it cannot have given up yet.
            try await eventually("the drain waits on the clock", timeout: 20) { clock.sleeps > asleep && clock.sleepers > 0 }
            #expect(!running.isFinished, "returned before the timeout with rows unacknowledged")
            clock.advance(by: 11)
            try await eventually("the relay gave up after the timeout", timeout: 20) { running.isFinished }
        }
        #expect(try await OutboxStore(pool: db.pool).backlog().count == 8, "a row was marked published without an acknowledgement")
    }
}

/// A task and whether (and how) it ended.
final class Running: Sendable {
    private final class Outcome: Sendable { let ended = Mutex<(done: Bool, error: String?)>((false, nil)) }
    private let outcome = Outcome()
    let task: Task<Void, Never>

    init(_ work: @escaping @Sendable () async throws -> Void) {
        let outcome = outcome
        task = Task {
            do { try await work(); outcome.ended.withLock { $0 = (true, nil) } } catch { outcome.ended.withLock { $0 = (true, "\(error)") } }
        }
    }

    var isFinished: Bool { outcome.ended.withLock { $0.done } }
    var error: String? { outcome.ended.withLock { $0.error } }
}
