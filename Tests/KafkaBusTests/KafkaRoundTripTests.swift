import Foundation
import KafkaBus
import Testing

/// Reads records from `topics` with a fresh consumer until `count` arrived (or the timeout).
func consume(_ bootstrap: String, topics: [String], group: String = "reader-\(UUID().uuidString)", count: Int, timeout: Double = 30, commit: Bool = false) async throws -> [KafkaRecord] {
    let consumer = try KafkaConsumer(config: groupTestConfig(bootstrap), groupID: group, topics: topics)
    var records: [KafkaRecord] = []
    let deadline = Date().addingTimeInterval(timeout)
    while records.count < count, Date() < deadline {
        if case .record(let r) = await consumer.poll(timeoutMs: 200) {
            records.append(r)
            if commit { try await consumer.commit(r) }
        }
    }
    await consumer.close()
    return records
}

/// Short group session timeouts: the mock cluster rebalances a group only when the old member's session ends.
func groupTestConfig(_ bootstrap: String) -> KafkaClientConfig {
    KafkaClientConfig(brokers: [bootstrap], properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500"])
}

@Suite("Kafka producer and consumer over TCP (unrip-kafka-mock)", .serialized)
struct KafkaRoundTripTests {
    @Test("produce → consume round trip: every message acknowledged, consumed with its key and value")
    func roundTrip() async throws {
        let mock = try await MockKafka.start(topics: ["rt"])
        defer { mock.stop() }
        let producer = try KafkaProducer(config: KafkaClientConfig(brokers: [mock.bootstrap]))
        let messages = (0..<5).map { KafkaOutgoingMessage(topic: "rt", key: "k\($0 % 2)", value: Array("{\"n\":\($0)}".utf8)) }
        let results = await producer.send(messages)
        await producer.close()
        #expect(results.count == 5)
        for r in results { #expect((try? r.get()) != nil, "delivery failed: \(r)") }

        let records = try await consume(mock.bootstrap, topics: ["rt"], count: 5)
        #expect(records.count == 5)
        let got = Set(records.map { (String(decoding: $0.key ?? [], as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) }.map { "\($0.0)=\($0.1)" })
        #expect(got == Set((0..<5).map { "k\($0 % 2)={\"n\":\($0)}" }))
        // Per key, in production order.
        for key in ["k0", "k1"] {
            let ns = records.filter { $0.key == Array(key.utf8) }.map { String(decoding: $0.value, as: UTF8.self) }
            #expect(ns == ns.sorted())
        }
    }

    @Test("a consumer restarted in the same group resumes at its committed offset")
    func resumesAtCommittedOffset() async throws {
        let mock = try await MockKafka.start(topics: [])
        defer { mock.stop() }
        try await mock.command("topic resume 1")
        let producer = try KafkaProducer(config: KafkaClientConfig(brokers: [mock.bootstrap]))
        _ = await producer.send((0..<4).map { KafkaOutgoingMessage(topic: "resume", key: "k", value: Array("m\($0)".utf8)) })
        await producer.close()

        let first = KafkaConsumerHandle(try KafkaConsumer(config: groupTestConfig(mock.bootstrap), groupID: "g1", topics: ["resume"]))
        var seen: [String] = []
        let deadline = Date().addingTimeInterval(30)
        while seen.count < 2, Date() < deadline {
            if case .record(let r) = await first.consumer.poll() {
                seen.append(String(decoding: r.value, as: UTF8.self))
                if seen.count == 2 { try await first.consumer.commit(r) }
            }
        }
        await first.consumer.close()
        #expect(seen == ["m0", "m1"])

        let rest = try await consume(mock.bootstrap, topics: ["resume"], group: "g1", count: 2, timeout: 40)
        #expect(rest.map { String(decoding: $0.value, as: UTF8.self) } == ["m2", "m3"])
        #expect(rest.first?.offset == 2)
    }

    @Test("the producer compresses with lz4 unless [kafka.properties] sets compression.type")
    func lz4ByDefault() throws {
        let plain = KafkaClientConfig(brokers: ["127.0.0.1:1"])
        #expect(try plain.effective("compression.type", defaults: KafkaProducer.defaults) == "lz4")
        let off = KafkaClientConfig(brokers: ["127.0.0.1:1"], properties: ["compression.type": "none"])
        #expect(try off.effective("compression.type", defaults: KafkaProducer.defaults) == "none")
        let zstd = KafkaClientConfig(brokers: ["127.0.0.1:1"], properties: ["compression.type": "zstd"])
        #expect(try zstd.effective("compression.type", defaults: KafkaProducer.defaults) == "zstd")
    }

    @Test("librdkafka refuses an unknown pass-through property, naming the key")
    func badPropertyNamed() throws {
        #expect(throws: KafkaError.self) {
            _ = try KafkaProducer(config: KafkaClientConfig(brokers: ["127.0.0.1:1"], properties: ["no.such.property": "x"]))
        }
    }
}

struct KafkaConsumerHandle: Sendable {
    let consumer: KafkaConsumer
    init(_ consumer: KafkaConsumer) { self.consumer = consumer }
}
