import Foundation
import KafkaBus
import Testing
import WatchTesting

/// `unrip-watch kafka create-topics` against the drills' broker: topics with several partitions
/// through the admin API, a second run leaves them as they are.
@Suite(.serialized) struct KafkaAdminTests {
    @Test(.enabled(if: TestBroker.noidaBinary != nil, "needs noida-db (./scripts/test installs it)"))
    func createTopicsMakesPartitionedTopicsAndLeavesExistingOnes() async throws {
        let broker = try await TestBroker.start(topics: [])
        defer { broker.stop() }
        let topic = "admin.\(UUID().uuidString.prefix(8))"
        let first = try #require(try await ConfigFileDrillTests.run(["kafka", "create-topics", "--brokers", broker.bootstrap, "--partitions", "3", topic]))
        #expect(first.status == 0 && first.output.contains("\(topic): created (3 partitions)"), "\(first.output)")
        let again = try #require(try await ConfigFileDrillTests.run(["kafka", "create-topics", "--brokers", broker.bootstrap, "--partitions", "3", topic]))
        #expect(again.status == 0 && again.output.contains("\(topic): exists already"), "\(again.output)")
        // Keys spread over the three partitions.
        let producer = try KafkaProducer(config: KafkaClientConfig(brokers: [broker.bootstrap]))
        let results = await producer.send((0..<30).map { KafkaOutgoingMessage(topic: topic, key: "key-\($0)", value: Array("{}".utf8)) })
        await producer.close()
        let partitions = Set(results.compactMap { try? $0.get().partition })
        #expect(partitions.count == 3, "deliveries went to partitions \(partitions.sorted()) (\(broker.kind))")
        let refused = try #require(try await ConfigFileDrillTests.run(["kafka", "create-topics", "--brokers", broker.bootstrap, "--partitions", "0", topic]))
        #expect(refused.status != 0 && refused.output.contains("--partitions 0"), "\(refused.output)")
    }
}
