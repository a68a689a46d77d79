import CKafka
import Dispatch
import Foundation
import Synchronization

/// One consumed message, with where it came from (for the commit and for dead letters).
public struct KafkaRecord: Sendable, Equatable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let key: [UInt8]?
    public let value: [UInt8]
}

/// What one poll returned.
public enum KafkaPollResult: Sendable {
    case record(KafkaRecord)
    /// A consumer-level error (broker down, unknown topic, …): informational, keep polling.
    case error(KafkaError)
}

/// A consumer-group member with manual offset commit (`enable.auto.commit=false`): the caller
/// commits a record once its input is durable. Every blocking librdkafka call runs on the
/// consumer's own serial queue, never on Swift's cooperative pool.
public final class KafkaConsumer: Sendable {
    let handle: KafkaHandle
    private let queue = DispatchQueue(label: "unrip.kafka.consumer")
    private let closed = Atomic<Bool>(false)
    /// See `init(config:groupID:topics:idleFetchPauseMs:)`; 0: fetch continuously.
    let idleFetchPauseMs: Int32
    /// Whether this consumer paused its assignment for an idle pause (only touched on `queue`).
    let pausedForIdle = Mutex<Bool>(false)
    let idlePauseCount = Atomic<Int>(0)
    /// Set by `stopIdlePauses()`: fetch continuously from then on.
    let idlePausesStopped = Atomic<Bool>(false)

    /// Times this consumer paused its assignment because a poll found nothing.
    public var idlePauses: Int { idlePauseCount.load(ordering: .relaxed) }

    public static let defaults: [(String, String)] = [
        ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"),
        ("auto.offset.reset", "earliest"), ("enable.partition.eof", "false"),
        ("reconnect.backoff.max.ms", "2000"), ("socket.nagle.disable", "true"),
    ]

    /// - Parameter idleFetchPauseMs: librdkafka keeps one fetch outstanding per broker, and a
    ///   Kafka broker holds it up to `fetch.wait.max.ms` while there is nothing to return; a
    ///   broker that answers an empty fetch at once (noida-db does) gets thousands of fetches a
    ///   second from an idle consumer, about 40 % of a core on each side. With a pause, a poll
    ///   that found nothing pauses the assignment for this long (messages wait at most that much
    ///   longer), and the next poll resumes it from the position consumed (librdkafka's own
    ///   pause semantics: nothing is skipped or delivered twice). 0 fetches continuously.
    public init(config: KafkaClientConfig, groupID: String, topics: [String], idleFetchPauseMs: Int32 = 0) throws(KafkaError) {
        self.idleFetchPauseMs = max(0, idleFetchPauseMs)
        let conf = try config.makeConf(defaults: [("group.id", groupID)] + Self.defaults)
        let h = KafkaHandle(raw: try KafkaClientConfig.makeHandle(RD_KAFKA_CONSUMER, conf: conf))
        handle = h
        _ = rd_kafka_poll_set_consumer(h.raw)
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { _ = rd_kafka_topic_partition_list_add(list, topic, -1) }
        let err = rd_kafka_subscribe(h.raw, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            rd_kafka_destroy(h.raw)
            throw KafkaError(err, context: "subscribe")
        }
    }

    deinit {
        if !closed.load(ordering: .acquiring) {
            let handle = self.handle
            DispatchQueue.global().async {
                _ = rd_kafka_consumer_close(handle.raw)
                rd_kafka_destroy(handle.raw)
            }
        }
    }

    /// Waits up to `timeoutMs` for a record; nil when none arrived.
    public func poll(timeoutMs: Int32 = 200) async -> KafkaPollResult? {
        await onQueue { [self] in pollFirst(timeoutMs: timeoutMs) }
    }

    /// Waits up to `timeoutMs` for a record, then takes what else is already there, up to
    /// `max` results in all (one hop to the consumer's queue for many records).
    public func poll(max: Int, timeoutMs: Int32 = 200) async -> [KafkaPollResult] {
        let handle = self.handle
        return await onQueue { [self] () -> [KafkaPollResult] in
            guard let first = pollFirst(timeoutMs: timeoutMs) else { return [] }
            var out = [first]
            while out.count < max, let result = Self.pollOne(handle, timeoutMs: 0) {
                out.append(result)
            }
            return out
        }
    }

    static func pollOne(_ handle: KafkaHandle, timeoutMs: Int32) -> KafkaPollResult? {
        guard let m = rd_kafka_consumer_poll(handle.raw, timeoutMs) else { return nil }
        defer { rd_kafka_message_destroy(m) }
        let msg = m.pointee
        if msg.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            return .error(KafkaError(msg.err, context: rd_kafka_message_errstr(m).map { String(cString: $0) }))
        }
        let topic = String(cString: rd_kafka_topic_name(msg.rkt))
        let value = msg.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.len)) } ?? []
        let key = msg.key.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.key_len)) }
        return .record(KafkaRecord(topic: topic, partition: msg.partition, offset: msg.offset, key: key, value: value))
    }

    /// Commits `record` as consumed (offset + 1), synchronously with the group coordinator.
    public func commit(_ record: KafkaRecord) async throws(KafkaError) {
        try await commit([record])
    }

    /// Commits every record of a batch as consumed: the highest offset + 1 of each partition, in
    /// one request to the group coordinator.
    public func commit(_ records: [KafkaRecord]) async throws(KafkaError) {
        var next: [String: [Int32: Int64]] = [:]
        for r in records { next[r.topic, default: [:]][r.partition] = max(next[r.topic]?[r.partition] ?? 0, r.offset + 1) }
        guard !next.isEmpty else { return }
        let handle = self.handle, positions = next
        let err = await onQueue { () -> rd_kafka_resp_err_t in
            let list = rd_kafka_topic_partition_list_new(Int32(records.count))
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for (topic, partitions) in positions {
                for (partition, offset) in partitions { rd_kafka_topic_partition_list_add(list, topic, partition).pointee.offset = offset }
            }
            return rd_kafka_commit(handle.raw, list, 0)
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "commit") }
    }

    /// Leaves the group and destroys the handle.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let handle = self.handle
        await onQueue {
            _ = rd_kafka_consumer_close(handle.raw)
            rd_kafka_destroy(handle.raw)
        }
    }

    func onQueue<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in queue.async { c.resume(returning: body()) } }
    }
}
