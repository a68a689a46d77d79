import Foundation
import PostgresStore
import WatchCore

/// Durable storage of consumed inputs. A redelivered event (same `event_id`, or the same
/// snapshot id) is a no-op, so the consumer may commit after a crash without duplicates.
public struct InputStore: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    public func store(_ event: InputEvent) async throws {
        try await pool.withConnection { conn in
            switch event {
            case .price(let p):
                try conn.query(
                    """
                    INSERT INTO reference_prices (event_id, pair, price, source, occurred_at)
                    VALUES ($1::uuid, $2, $3::numeric, $4, $5::timestamptz) ON CONFLICT DO NOTHING
                    """, [p.eventID, p.pair, p.price, p.source, p.occurredAt])
            case .inventory(let s):
                let balances = JSONValue.object(s.balances.mapValues(JSONValue.string)).serialized()
                try conn.query(
                    """
                    INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances, event_id)
                    VALUES ($1, $2, $3::timestamptz, $4::jsonb, $5::uuid) ON CONFLICT DO NOTHING
                    """, [s.snapshotID, s.accountID, s.occurredAt, balances, s.eventID])
            case .execution(let r):
                try conn.query(
                    """
                    INSERT INTO execution_results (event_id, quote_id, request_id, outcome, error, occurred_at)
                    VALUES ($1::uuid, $2, $3, $4, $5::jsonb, $6::timestamptz) ON CONFLICT DO NOTHING
                    """,
                    [r.eventID, r.quoteID, r.requestID, r.outcome, r.error == .null ? nil : r.error.serialized(), r.occurredAt])
            }
        }
    }

    /// Keeps a malformed message with the reason; redelivery of the same offset is a no-op.
    public func deadLetter(_ record: KafkaRecord, reason: String) async throws {
        try await deadLetters([(record, reason)])
    }

    /// Dead-letters several records in one statement (a flood of junk costs one round trip per
    /// poll, not one per message); a record already dead-lettered is left as it is.
    public func deadLetters(_ items: [(record: KafkaRecord, reason: String)]) async throws {
        guard !items.isEmpty else { return }
        func column(_ value: ((record: KafkaRecord, reason: String)) -> String?) -> String? { PGArray.literal(items.map(value)) }
        let columns = [
            column(\.record.topic), column { String($0.record.partition) }, column { String($0.record.offset) },
            column { $0.record.key.map(Self.hex) }, column { Self.hex($0.record.value) }, column { Self.storable($0.reason) },
        ]
        _ = try await pool.withConnection { conn in
            try conn.query(
                """
                INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, message_key, payload, reason)
                SELECT t, p, o, decode(k, 'hex'), decode(v, 'hex'), r
                FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS u(t, p, o, k, v, r)
                ON CONFLICT DO NOTHING
                """,
                columns)
        }
    }

    /// The most recent dead letters (payload shown as text, lossily).
    public func deadLetters(limit: Int = 20) async throws -> [JSONValue] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT id, topic, kafka_partition, kafka_offset, encode(payload, 'escape') AS payload, reason,
                       to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_at
                FROM dead_letters ORDER BY id DESC LIMIT $1
                """, [String(limit)]
            ).map { row -> JSONValue in
                [
                    "id": .optional(row.int("id")), "topic": .optional(row["topic"]),
                    "partition": .optional(row.int("kafka_partition")), "offset": .optional(row.int("kafka_offset")),
                    "payload": .optional(row["payload"].map { String($0.prefix(500)) }), "reason": .optional(row["reason"]),
                    "received_at": .optional(row["received_at"]),
                ]
            }
        }
    }

    public func deadLetterCount() async throws -> Int {
        try await pool.withConnection { conn in try conn.query("SELECT count(*) AS n FROM dead_letters").first?.int("n") ?? 0 }
    }

    /// A reason as text PostgreSQL can store: a rejection may quote the peer's value, NUL and all.
    static func storable(_ reason: String) -> String {
        Excerpt.of(reason.replacingOccurrences(of: "\u{0}", with: "\\u0000"))
    }

    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }
}
