import CKafka
import Foundation

/// Topic creation through the Kafka admin API (`CreateTopics`), for the demo and for operators
/// preparing a cluster: a topic that already exists is left as it is and reported so.
public enum KafkaAdmin {
    public enum TopicOutcome: Sendable, Equatable {
        case created, alreadyExists
        case failed(String)
    }

    /// Creates `topics` with `partitions` partitions each (replication factor
    /// `replicationFactor`); one outcome per topic, in order. librdkafka's blocking calls run on
    /// a dispatch queue, never on Swift's cooperative pool (as the producer's do).
    public static func createTopics(
        _ topics: [String], partitions: Int, replicationFactor: Int = 1, config: KafkaClientConfig, timeout: Duration = .seconds(30)
    ) async throws(KafkaError) -> [(topic: String, outcome: TopicOutcome)] {
        let result = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(KafkaError) in
                    try createTopicsBlocking(topics, partitions: partitions, replicationFactor: replicationFactor, config: config, timeout: timeout)
                })
            }
        }
        return try result.get()
    }

    private static func createTopicsBlocking(
        _ topics: [String], partitions: Int, replicationFactor: Int, config: KafkaClientConfig, timeout: Duration
    ) throws(KafkaError) -> [(topic: String, outcome: TopicOutcome)] {
        let conf = try config.makeConf(defaults: [])
        let handle = try KafkaClientConfig.makeHandle(RD_KAFKA_PRODUCER, conf: conf)
        defer { rd_kafka_destroy(handle) }
        var errbuf = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { for t in newTopics { rd_kafka_NewTopic_destroy(t) } }
        for name in topics {
            guard let topic = rd_kafka_NewTopic_new(name, Int32(partitions), Int32(replicationFactor), &errbuf, errbuf.count) else {
                throw .config("topic \(name): \(cText(errbuf))")
            }
            newTopics.append(topic)
        }
        guard let queue = rd_kafka_queue_new(handle) else { throw .config("rd_kafka_queue_new failed") }
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        let milliseconds = Int32(min(Int64(Int32.max), timeout.components.seconds * 1000))
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, milliseconds, &errbuf, errbuf.count)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &errbuf, errbuf.count)
        newTopics.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_CreateTopics(handle, buffer.baseAddress, buffer.count, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, milliseconds + 5_000) else {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue, message: "CreateTopics: no answer within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        let error = rd_kafka_event_error(event)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code: error.rawValue, message: "CreateTopics: \(String(cString: rd_kafka_event_error_string(event)))")
        }
        return outcomes(of: event)
    }

    private static func outcomes(of event: OpaquePointer) -> [(topic: String, outcome: TopicOutcome)] {
        guard let result = rd_kafka_event_CreateTopics_result(event) else { return [] }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return [] }
        return (0..<count).map { i in
            let topic = results[i]
            let name = String(cString: rd_kafka_topic_result_name(topic))
            let error = rd_kafka_topic_result_error(topic)
            switch error {
            case RD_KAFKA_RESP_ERR_NO_ERROR: return (name, .created)
            case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: return (name, .alreadyExists)
            default:
                let text = rd_kafka_topic_result_error_string(topic).map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(error))
                return (name, .failed(text))
            }
        }
    }
}
