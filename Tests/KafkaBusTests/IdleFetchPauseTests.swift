import Foundation
import KafkaBus
import Testing

/// A consumer with an idle fetch pause (`KafkaConsumer(idleFetchPauseMs:)`, the input consumer's
/// `[kafka] input_idle_fetch_pause_ms`): it pauses its partitions after a poll that found
/// nothing, and what is produced meanwhile still arrives, once and in order.
@Suite("Kafka consumer idle fetch pause (unrip-kafka-mock)", .serialized)
struct IdleFetchPauseTests {
    @Test("messages produced while the consumer is paused idle all arrive, once each and in order")
    func pausesLoseNothing() async throws {
        let mock = try await MockKafka.start(topics: ["idle"])
        defer { mock.stop() }
        let consumer = try KafkaConsumer(
            config: groupTestConfig(mock.bootstrap), groupID: "idle-\(UUID().uuidString)", topics: ["idle"], idleFetchPauseMs: 50)
        let producer = try KafkaProducer(config: KafkaClientConfig(brokers: [mock.bootstrap]))
        let deadline = Date().addingTimeInterval(60)
        var seen: [String] = []
        var sent: [String] = []
        /// Polls until the consumer has paused once more than `pauses`: it sits idle and paused.
        func idleUntilPaused(after pauses: Int) async {
            while consumer.idlePauses <= pauses, Date() < deadline {
                if case .record(let r) = await consumer.poll(timeoutMs: 100) { seen.append(String(decoding: r.value, as: UTF8.self)) }
            }
        }
        await idleUntilPaused(after: 0)  // pauses once the group assigned the partition
        #expect(consumer.idlePauses > 0, "the consumer never paused while idle")
        for round in 0..<5 {
            let pauses = consumer.idlePauses
            let batch = (0..<4).map { "r\(round)m\($0)" }
            sent += batch
            let results = await producer.send(batch.map { KafkaOutgoingMessage(topic: "idle", key: "k", value: Array($0.utf8)) })
            #expect(results.allSatisfy { (try? $0.get()) != nil })
            while seen.count < sent.count, Date() < deadline {
                if case .record(let r) = await consumer.poll(timeoutMs: 100) { seen.append(String(decoding: r.value, as: UTF8.self)) }
            }
            await idleUntilPaused(after: pauses)
        }
        await producer.close()
        await consumer.close()
        #expect(seen == sent)
    }
}
