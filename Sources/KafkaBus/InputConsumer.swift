import Foundation
import Logging
import Synchronization
import PostgresStore
import WatchCore

/// Consumes the input topics (reference prices, inventory snapshots, execution results):
/// each record is stored durably — or, when malformed, dead-lettered with the reason — and
/// only then its offset committed. Malformed input is counted and skipped, never fatal.
/// A storage failure ends the run uncommitted; the supervisor restarts it and the record is
/// consumed again from the committed offset.
public final class InputConsumer: PluginService {
    public struct Topics: Sendable {
        public var prices: String
        public var inventory: String
        public var executionResults: String

        public init(prices: String, inventory: String, executionResults: String) {
            self.prices = prices
            self.inventory = inventory
            self.executionResults = executionResults
        }

        var bySchema: [String: InputSchema] {
            [prices: .referencePrice, inventory: .inventorySnapshot, executionResults: .executionResult]
        }
    }

    private struct Stats {
        var stored: [String: Int] = [:]
        var deadLettered = 0
        var consumerErrors = 0
        var lastError: String?
        var lastRecordAt: Date?
        /// What the stall check saw last (`InputStallCheck`).
        var assigned: Int?
        var waiting: Int64?
    }

    private let store: InputStore
    private let config: KafkaClientConfig
    private let groupID: String
    private let topics: Topics
    private let logger: Logger
    private let onInput: @Sendable () -> Void
    private let idleFetchPauseMs: Int32
    private let stallAfter: Duration
    private let clock: any WatchClock
    private let memory: InputStallMemory
    private let stats = Mutex(Stats())

    /// - Parameters:
    ///   - idleFetchPauseMs: how long the consumer pauses fetching after a poll found nothing
    ///     (`KafkaConsumer`; `[kafka] input_idle_fetch_pause_ms`), 0 for continuous fetching.
    ///   - onInput: called after each durable input (wakes the alert evaluator).
    ///   - stallAfter: how long the consumer may hold no partition, or leave messages waiting on
    ///     the broker without taking one, before it says so (state, health: `/readyz` and the
    ///     `adapter_unhealthy` alert) and recovers (`InputStallCheck`); `[kafka] input_stall_after_s`.
    public init(
        store: InputStore, config: KafkaClientConfig, groupID: String, topics: Topics, logger: Logger, idleFetchPauseMs: Int32 = 0,
        stallAfter: Duration = .seconds(60), clock: any WatchClock = SystemClock(), memory: InputStallMemory = InputStallMemory(),
        onInput: @escaping @Sendable () -> Void = {}
    ) {
        self.memory = memory
        self.idleFetchPauseMs = idleFetchPauseMs
        self.stallAfter = stallAfter
        self.clock = clock
        self.store = store
        self.config = config
        self.groupID = groupID
        self.topics = topics
        self.logger = logger
        self.onInput = onInput
    }

    public func run() async throws {
        let schemas = topics.bySchema
        let consumer = try KafkaConsumer(
            config: config, groupID: groupID, topics: Array(schemas.keys).sorted(), idleFetchPauseMs: idleFetchPauseMs)
        var check = InputStallCheck(limit: stallAfter.timeInterval, startedAt: clock.now())
        if memory.idlePausesStopped { await consumer.stopIdlePauses() }
        do {
            while !Task.isCancelled {
                if check.due(clock.now()) { try await checkProgress(consumer, &check) }
                let polled = await consumer.poll(max: Self.batch, timeoutMs: 200)
                var records: [KafkaRecord] = []
                for result in polled {
                    switch result {
                    case .error(let error):
                        stats.withLock {
                            $0.consumerErrors += 1
                            $0.lastError = "\(error)"
                        }
                        logger.debug("Kafka consumer error", metadata: ["error": "\(error)"])
                    case .record(let record):
                        records.append(record)
                    }
                }
                guard !records.isEmpty else { continue }
                try await handle(records, schemas: schemas)
                try await consumer.commit(records)
                check.tookRecord(at: clock.now())
                memory.moved()
                for _ in records { onInput() }
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    /// Asks the consumer what it holds and what waits; reports a stall, and recovers from one:
    /// a consumer pausing for idle stops pausing, else it is rebuilt (it rejoins the group).
    private func checkProgress(_ consumer: KafkaConsumer, _ check: inout InputStallCheck) async throws {
        let progress = await consumer.progress()
        let pausing = idleFetchPauseMs > 0 && !consumer.idlePausesWereStopped
        // A pausing consumer is suspect at one message: the pause itself can starve it.
        let verdict = check.observe(assigned: progress.assigned, waiting: progress.most, minimum: pausing ? 1 : 2, at: clock.now())
        stats.withLock {
            $0.assigned = progress.assigned
            $0.waiting = progress.waiting
        }
        guard let verdict else {
            if progress.assigned > 0, progress.waiting == 0 { memory.moved() }
            return
        }
        memory.report(verdict)
        logger.error("input consumer stalled", metadata: ["why": "\(verdict)"])
        if progress.assigned > 0, pausing {
            logger.warning("input consumer: idle fetch pauses stopped (the broker holds empty fetches)")
            await consumer.stopIdlePauses()
            memory.stopIdlePauses()
            check.restart(at: clock.now())
            return
        }
        throw InputStalled(description: verdict + "; rebuilding the consumer (it rejoins the group)")
    }

    /// Records taken from one poll at most: their dead letters are written together and their
    /// offsets committed in one request.
    static let batch = 500

    /// Stores each record of a poll, or dead-letters it, in the order they came: a run of
    /// rejected records goes in one statement, written before the next good record is stored (a
    /// flood of junk costs one statement per poll). Throws only when the database fails (nothing
    /// of the batch is committed then: it is consumed again, and storing is idempotent).
    func handle(_ records: [KafkaRecord], schemas: [String: InputSchema]) async throws {
        var rejected: [(record: KafkaRecord, reason: String)] = []
        for record in records {
            guard let schema = schemas[record.topic] else {
                rejected.append((record, "no input schema is configured for topic \(record.topic)"))
                continue
            }
            switch Self.parse(record, schema: schema) {
            case .failure(let rejection):
                rejected.append((record, Excerpt.of(rejection.reason)))
            case .success(let event):
                try await deadLetter(&rejected)
                if let refusal = try await store(event, schema: schema) { rejected.append((record, Excerpt.of(refusal))) }
            }
        }
        try await deadLetter(&rejected)
    }

    /// Writes a run of rejected records (and empties it), with one log line for the run: a flood
    /// of junk must not flood the log too.
    private func deadLetter(_ rejected: inout [(record: KafkaRecord, reason: String)]) async throws {
        guard let first = rejected.first else { return }
        try await store.deadLetters(rejected)
        stats.withLock { $0.deadLettered += rejected.count }
        logger.warning(
            "malformed input dead-lettered",
            metadata: [
                "count": "\(rejected.count)", "topic": "\(first.record.topic)", "partition": "\(first.record.partition)",
                "offset": "\(first.record.offset)", "reason": "\(first.reason)",
            ])
        rejected = []
    }

    /// A record as the input it claims to be, or why it is none.
    static func parse(_ record: KafkaRecord, schema: InputSchema) -> Result<InputEvent, InputRejection> {
        guard !record.value.isEmpty else {
            return .failure(InputRejection(reason: "empty message (a tombstone, null value): an input topic carries \(schema.rawValue) JSON events"))
        }
        return InputContracts.parse(record.value, expected: schema)
    }

    /// Stores one input; returns why PostgreSQL refused it (to dead-letter it instead), or nil.
    func store(_ event: InputEvent, schema: InputSchema) async throws -> String? {
        do {
            try await store.store(event)
        } catch let error as PostgresError where error.isRefusalOfTheData {
            return "PostgreSQL refused the record: \(error)"
        }
        let at = clock.now()
        stats.withLock {
            $0.stored[schema.rawValue, default: 0] += 1
            $0.lastRecordAt = at
        }
        return nil
    }

    public func state() async -> JSONValue {
        let s = stats.withLock { $0 }
        return [
            "group_id": .string(groupID),
            "topics": [
                "prices": .string(topics.prices), "inventory": .string(topics.inventory),
                "execution_results": .string(topics.executionResults),
            ],
            "stored_since_start": .object(s.stored.mapValues { .int(Int64($0)) }),
            "dead_lettered_since_start": .int(Int64(s.deadLettered)),
            "dead_letters_total": (try? await store.deadLetterCount()).map { .int(Int64($0)) } ?? .null,
            "consumer_errors": .int(Int64(s.consumerErrors)), "last_error": .optional(s.lastError),
            "last_record_at": s.lastRecordAt.map { .string(Timestamp.string($0)) } ?? .null,
            "assigned_partitions": .optional(s.assigned), "messages_waiting": s.waiting.map { .int($0) } ?? .null,
            "stalled": .optional(memory.stalled), "stall_after_s": .int(Int64(stallAfter.timeInterval)),
            "idle_fetch_pause_ms": .int(Int64(idleFetchPauseMs)), "idle_pauses_stopped": .bool(memory.idlePausesStopped),
        ]
    }

    /// Unhealthy while stalled: no partition held, or messages waiting and none taken.
    public func health() async -> PluginHealth {
        memory.stalled.map { .unhealthy($0) } ?? .healthy
    }
}
