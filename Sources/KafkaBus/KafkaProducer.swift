import CKafka
import Dispatch
import Foundation
import Synchronization

/// One message to produce.
public struct KafkaOutgoingMessage: Sendable {
    public var topic: String
    public var key: String
    public var value: [UInt8]

    public init(topic: String, key: String, value: [UInt8]) {
        self.topic = topic
        self.key = key
        self.value = value
    }
}

/// Where the broker stored an acknowledged message.
public struct KafkaDelivery: Sendable, Equatable {
    public let partition: Int32
    public let offset: Int64
}

/// An idempotent producer (`enable.idempotence=true`, `acks=all`). `send` returns once the
/// broker acknowledged (or permanently refused) every message: a delivery report per message,
/// served by a dedicated poll thread. Blocking librdkafka calls run on the producer's own
/// thread and queue, never on Swift's cooperative pool.
public final class KafkaProducer: Sendable {
    private let handle: KafkaHandle
    private let topics = Mutex<[String: KafkaHandle]>([:])
    private let produceQueue = DispatchQueue(label: "unrip.kafka.produce")
    private let poller: KafkaPollThread
    /// Serializes produce calls against purges, so a cancelled batch cannot leave a message behind.
    private let purgeLock = Mutex<Int>(0)
    private let closed = Atomic<Bool>(false)

    /// Defaults; `config.properties` override them. `message.timeout.ms=0` retries until the
    /// broker is back: the outbox relay wants "eventually, in order", not "fail after 5 min".
    /// Nagle's algorithm is off: with the peer's delayed ACK it holds a small request ~40 ms.
    /// Batches are lz4-compressed: the events are repetitive JSON, and a broker stores and serves
    /// a compressed batch as one blob instead of record by record (with noida-db at 7,000 events/s
    /// the broker's CPU fell by half; see README, Benchmarks). Every Kafka client reads lz4.
    public static let defaults: [(String, String)] = [
        ("enable.idempotence", "true"), ("acks", "all"), ("message.timeout.ms", "0"),
        ("linger.ms", "5"), ("reconnect.backoff.max.ms", "2000"), ("socket.nagle.disable", "true"),
        ("compression.type", "lz4"),
    ]

    public init(config: KafkaClientConfig) throws(KafkaError) {
        let conf = try config.makeConf(defaults: Self.defaults)
        rd_kafka_conf_set_dr_msg_cb(conf, deliveryReport)
        let h = KafkaHandle(raw: try KafkaClientConfig.makeHandle(RD_KAFKA_PRODUCER, conf: conf))
        handle = h
        poller = KafkaPollThread(name: "unrip.kafka.producer-poll") { _ = rd_kafka_poll(h.raw, 100) }
    }

    deinit {
        if !closed.load(ordering: .acquiring) {
            let handle = self.handle, topics = self.topics.withLock { $0 }, poller = self.poller
            DispatchQueue.global().async {
                poller.stop()
                Self.destroy(handle, topics: topics)
            }
        }
    }

    /// Produces every message and waits for each delivery report. Results are in input order.
    /// Cancelling the task purges what is not yet delivered (those report `isPurged`).
    public func send(_ messages: [KafkaOutgoingMessage]) async -> [Result<KafkaDelivery, KafkaError>] {
        guard !messages.isEmpty else { return [] }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Result<KafkaDelivery, KafkaError>], Never>) in
                enqueue(messages) { continuation.resume(returning: $0) }
            }
        } onCancel: {
            self.purge()
        }
    }

    /// Hands `messages` to the producer now — batches enqueued one after the other are
    /// produced in that order — and calls `completion` with every delivery report (in input
    /// order) once all arrived. `close()` purges what is not delivered by then.
    public func enqueue(
        _ messages: [KafkaOutgoingMessage], completion: @escaping @Sendable ([Result<KafkaDelivery, KafkaError>]) -> Void
    ) {
        guard !messages.isEmpty else { return completion([]) }
        let generation = purgeLock.withLock { $0 }
        let batch = DeliveryBatch(count: messages.count, completion: completion)
        produceQueue.async { self.produce(messages, into: batch, generation: generation) }
    }

    /// Drops every queued and in-flight message; their delivery reports say purged.
    public func purge() {
        purgeLock.withLock { generation in
            generation += 1
            _ = rd_kafka_purge(handle.raw, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING))
        }
    }

    /// Purges what is pending, stops polling and destroys the handle (blocking work off the pool).
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        purge()
        let handle = self.handle, poller = self.poller
        let topics = self.topics.withLock { t in
            defer { t = [:] }
            return t
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                // Serve the purged messages' delivery reports before stopping.
                _ = rd_kafka_poll(handle.raw, 0)
                poller.stop()
                _ = rd_kafka_poll(handle.raw, 0)
                Self.destroy(handle, topics: topics)
                c.resume()
            }
        }
    }

    private static func destroy(_ handle: KafkaHandle, topics: [String: KafkaHandle]) {
        for t in topics.values { rd_kafka_topic_destroy(t.raw) }
        rd_kafka_destroy(handle.raw)
    }

    private func topicHandle(_ name: String) -> KafkaHandle? {
        topics.withLock { t in
            if let h = t[name] { return h }
            guard let raw = rd_kafka_topic_new(handle.raw, name, nil) else { return nil }
            t[name] = KafkaHandle(raw: raw)
            return t[name]
        }
    }

    /// Runs on `produceQueue`: enqueues each message, retrying while librdkafka's queue is full.
    private func produce(_ messages: [KafkaOutgoingMessage], into batch: DeliveryBatch, generation: Int) {
        for (index, message) in messages.enumerated() {
            guard let topic = topicHandle(message.topic) else {
                batch.complete(index, .failure(KafkaError(rd_kafka_last_error(), context: "topic \(message.topic)")))
                continue
            }
            let box = Unmanaged.passRetained(DeliveryBox(batch: batch, index: index))
            while true {
                let outcome = purgeLock.withLock { current -> rd_kafka_resp_err_t? in
                    if current != generation || closed.load(ordering: .acquiring) { return RD_KAFKA_RESP_ERR__PURGE_QUEUE }
                    let rc = message.value.withUnsafeBytes { value in
                        Array(message.key.utf8).withUnsafeBytes { key in
                            rd_kafka_produce(
                                topic.raw, -1, 0x2 /* RD_KAFKA_MSG_F_COPY */, UnsafeMutableRawPointer(mutating: value.baseAddress),
                                value.count, key.baseAddress, key.count, box.toOpaque())
                        }
                    }
                    return rc == 0 ? nil : rd_kafka_last_error()
                }
                guard let err = outcome else { break }
                if err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                    // On librdkafka's own producer thread (not a task): a 2 ms back-off while its
                    // queue drains; it decides no timeout and a test clock has nothing to advance.
                    usleep(2000)
                    continue
                }
                box.release()
                batch.complete(index, .failure(KafkaError(err, context: "produce to \(message.topic)")))
                break
            }
        }
    }
}

/// The delivery report callback: runs on the poll thread, completes the message's box.
private let deliveryReport: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let box = Unmanaged<DeliveryBox>.fromOpaque(opaque).takeRetainedValue()
    let m = message.pointee
    if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        box.batch.complete(box.index, .success(KafkaDelivery(partition: m.partition, offset: m.offset)))
    } else {
        box.batch.complete(box.index, .failure(KafkaError(m.err, context: "delivery")))
    }
}

/// The per-message opaque handed to librdkafka.
final class DeliveryBox: Sendable {
    let batch: DeliveryBatch
    let index: Int
    init(batch: DeliveryBatch, index: Int) {
        self.batch = batch
        self.index = index
    }
}

/// Collects one batch's delivery reports; hands them over when all arrived.
final class DeliveryBatch: Sendable {
    private struct State {
        var results: [Result<KafkaDelivery, KafkaError>?]
        var remaining: Int
        var completion: (@Sendable ([Result<KafkaDelivery, KafkaError>]) -> Void)?
    }
    private let state: Mutex<State>

    init(count: Int, completion: @escaping @Sendable ([Result<KafkaDelivery, KafkaError>]) -> Void) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count, completion: completion))
    }

    func complete(_ index: Int, _ result: Result<KafkaDelivery, KafkaError>) {
        let done = state.withLock { s -> (@Sendable ([Result<KafkaDelivery, KafkaError>]) -> Void, [Result<KafkaDelivery, KafkaError>])? in
            guard s.results[index] == nil else { return nil }
            s.results[index] = result
            s.remaining -= 1
            guard s.remaining == 0, let c = s.completion else { return nil }
            s.completion = nil
            return (c, s.results.map { $0! })
        }
        if let (c, results) = done { c(results) }
    }
}
