import CKafka

/// The idle fetch pause (`KafkaConsumer(idleFetchPauseMs:)`). librdkafka keeps one fetch
/// outstanding per broker; a broker that answers an empty fetch at once (noida-db ignores
/// `fetch.wait.max.ms`) gets thousands a second from an idle consumer. Pausing the assignment
/// after a poll that found nothing stops that; a pause or resume also drops the answer of the
/// fetch in flight (librdkafka bumps the partition's fetch version), so the consumer pauses
/// only when the broker's high watermark says nothing is waiting: a fetch slower than the
/// probe (a loaded machine) can never starve it.
extension KafkaConsumer {
    /// The first result of a poll (on `queue`): without an idle pause, a plain wait of up to
    /// `timeoutMs`; with one, the assignment resumed, a short wait for what a fetch brings, and,
    /// when nothing came and nothing waits on the broker, the assignment paused for the rest.
    func pollFirst(timeoutMs: Int32) -> KafkaPollResult? {
        guard idleFetchPauseMs > 0, !idlePausesStopped.load(ordering: .relaxed) else { return Self.pollOne(handle, timeoutMs: timeoutMs) }
        let probe = min(timeoutMs, Self.idleProbeMs(pauseMs: idleFetchPauseMs))
        return withAssignment { list in
            guard let list else { return Self.pollOne(handle, timeoutMs: timeoutMs) }
            return pollResumed(list, probe: probe, timeoutMs: timeoutMs)
        }
    }

    /// `pollFirst` with the assignment at hand: resumed, probed, and paused again when idle.
    private func pollResumed(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>, probe: Int32, timeoutMs: Int32) -> KafkaPollResult? {
        setPaused(false, list)
        if let result = Self.pollOne(handle, timeoutMs: probe) { return result }
        let rest = max(0, timeoutMs - probe)
        guard list.pointee.cnt > 0, !messagesWaiting(list) else { return Self.pollOne(handle, timeoutMs: rest) }
        setPaused(true, list)
        // Callbacks and errors are still served while paused.
        return Self.pollOne(handle, timeoutMs: min(idleFetchPauseMs, rest))
    }

    /// How long a resumed consumer waits for a fetch to bring something before it may pause
    /// again: a tenth of the pause, 1 to 10 ms.
    static func idleProbeMs(pauseMs: Int32) -> Int32 { min(10, max(1, pauseMs / 10)) }

    private func setPaused(_ paused: Bool, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        guard pausedForIdle.withLock({ $0 }) != paused else { return }
        _ = paused ? rd_kafka_pause_partitions(handle.raw, list) : rd_kafka_resume_partitions(handle.raw, list)
        pausedForIdle.withLock { $0 = paused }
        if paused { idlePauseCount.add(1, ordering: .relaxed) }
    }

    /// Whether any assigned partition has messages waiting on the broker (`waiting`). A broker
    /// that does not answer in time counts as "waiting": the consumer then fetches as it would
    /// without a pause (while a broker is unreachable, librdkafka does not spin on it anyway).
    private func messagesWaiting(_ assignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Bool {
        (waiting(assignment)?.total ?? 1) > 0
    }

    /// How many messages of the assigned partitions wait on the broker: each partition's high
    /// watermark (asked of the broker: a ListOffsets request, which no pause drops) less this
    /// consumer's position there: the position of the last message taken, else the group's
    /// committed offset, else the low watermark (`auto.offset.reset = earliest`). Nil when the
    /// broker did not answer in time. `most` is the most on one partition.
    func waiting(_ assignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> (total: Int64, most: Int64)? {
        guard let positions = rd_kafka_topic_partition_list_copy(assignment) else { return nil }
        defer { rd_kafka_topic_partition_list_destroy(positions) }
        guard rd_kafka_position(handle.raw, positions) == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        var committed: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        defer { if let committed { rd_kafka_topic_partition_list_destroy(committed) } }
        var total: Int64 = 0, most: Int64 = 0
        for i in 0..<Int(positions.pointee.cnt) {
            let entry = positions.pointee.elems[i]
            var low: Int64 = 0, high: Int64 = 0
            let asked = rd_kafka_query_watermark_offsets(handle.raw, entry.topic, entry.partition, &low, &high, Self.brokerQueryTimeoutMs)
            guard asked == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
            var position = entry.offset
            if position < 0 {
                if committed == nil {
                    guard let copy = rd_kafka_topic_partition_list_copy(assignment) else { return nil }
                    committed = copy
                    guard rd_kafka_committed(handle.raw, copy, Self.brokerQueryTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
                }
                let stored = committed.map { $0.pointee.elems[i].offset } ?? -1
                position = stored >= 0 ? stored : low
            }
            total += max(0, high - position)
            most = max(most, high - position)
        }
        return (total, most)
    }

    /// The partitions assigned now, how many messages wait on them, and the most on one
    /// (nil: the broker did not answer): what the input consumer's stall check reads.
    public func progress() async -> (assigned: Int, waiting: Int64?, most: Int64?) {
        await onQueue { [self] in
            withAssignment { list in
                guard let list else { return (0, nil, nil) }
                let assigned = Int(list.pointee.cnt)
                guard assigned > 0 else { return (0, 0, 0) }
                let counts = waiting(list)
                return (assigned, counts?.total, counts?.most)
            }
        }
    }

    /// Fetches continuously from now on (a broker that holds empty fetches can starve the idle
    /// pause: each pause drops the fetch in flight), resuming a paused assignment.
    public func stopIdlePauses() async {
        idlePausesStopped.store(true, ordering: .relaxed)
        await onQueue { [self] in
            withAssignment { list in if let list { setPaused(false, list) } }
        }
    }

    /// Runs `body` with this consumer's current assignment (nil when librdkafka cannot give it),
    /// destroying the list after (only on the consumer's queue).
    private func withAssignment<T>(_ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> T) -> T {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle.raw, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return body(nil) }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return body(list)
    }

    /// Whether `stopIdlePauses` was called.
    public var idlePausesWereStopped: Bool { idlePausesStopped.load(ordering: .relaxed) }

    /// How long the watermark and committed-offset questions may take.
    static let brokerQueryTimeoutMs: Int32 = 250
}
