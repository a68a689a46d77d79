import Foundation
import Logging
import WatchCore

/// One outbox row waiting for (or past) publication.
public struct OutboxRow: Sendable, Equatable {
    public let id: Int64
    public let topic: String
    public let key: String
    public let eventID: String
    /// The payload as stored (JSON text).
    public let payload: String
    /// When it was written (empty in rows read for publication).
    public let createdAt: String
    public let publishedAt: String?
}

/// How far publication lags: unpublished rows and the age of the oldest.
public struct OutboxBacklog: Sendable, Equatable {
    public let count: Int
    public let oldestID: Int64?
    public let oldestAgeSeconds: Double?

    public var json: JSONValue {
        [
            "backlog": .int(Int64(count)), "oldest_id": .optional(oldestID),
            "oldest_age_s": oldestAgeSeconds.map { .double(($0 * 1000).rounded() / 1000) } ?? .null,
        ]
    }
}

/// Reads and marks the outbox for the relay, and serves it over HTTP when Kafka is off.
public struct OutboxStore: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// A listener woken whenever outbox rows commit (any writer, any process).
    public func listen(logger: Logger) -> NotificationListener {
        NotificationListener(url: pool.url, channel: Outbox.channel, logger: logger)
    }

    static let columns = """
        id, topic, message_key, event_id::text AS event_id, payload::text AS payload,
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
        to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS published_at
        """

    static func row(_ r: PGRow) -> OutboxRow {
        OutboxRow(
            id: Int64(r["id"] ?? "") ?? 0, topic: r["topic"] ?? "", key: r["message_key"] ?? "",
            eventID: r["event_id"] ?? "", payload: r["payload"] ?? "{}", createdAt: r["created_at"] ?? "",
            publishedAt: r["published_at"])
    }

    /// The oldest unpublished rows with an id above `floor`, in id order, but for those in
    /// `excluding` (the relay's batches in flight), with what the relay needs only (no
    /// timestamps). The floor spares the scan the index entries of rows published since the
    /// last vacuum; 0 reads everything.
    public func unpublished(limit: Int, floor: Int64 = 0, excluding: [Int64] = []) async throws -> [OutboxRow] {
        try await pool.transaction { conn in
            try conn.indexScansOnly()
            return try conn.query(
                """
                SELECT id, topic, message_key, event_id::text AS event_id, payload::text AS payload FROM outbox
                WHERE published_at IS NULL AND id > $2 AND NOT (id = ANY($3::bigint[]))
                ORDER BY id LIMIT $1
                """, [String(limit), String(floor), PGArray.literal(excluding.map(String.init))]
            ).map(Self.row)
        }
    }

    /// Marks rows published (after the broker acknowledged them).
    public func markPublished(_ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        _ = try await pool.transaction { conn in
            try conn.indexScansOnly()
            return try conn.query(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[]) AND published_at IS NULL",
                [PGArray.literal(ids.map(String.init))])
        }
    }

    public func backlog() async throws -> OutboxBacklog {
        try await pool.withConnection { conn in
            let row = try conn.query(
                """
                SELECT count(*) AS n, min(id) AS oldest_id,
                       EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS age
                FROM outbox WHERE published_at IS NULL
                """
            ).first
            return OutboxBacklog(
                count: row?.int("n") ?? 0, oldestID: row?["oldest_id"].flatMap { Int64($0) },
                oldestAgeSeconds: row?["age"].flatMap { Double($0) })
        }
    }

    /// Rows after `afterID`, oldest first, optionally of one topic (the HTTP view of the outbox).
    public func list(afterID: Int64, topic: String?, limit: Int) async throws -> [OutboxRow] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT \(Self.columns) FROM outbox WHERE id > $1 AND ($2::text IS NULL OR topic = $2)
                ORDER BY id LIMIT $3
                """, [String(afterID), topic, String(limit)]
            ).map(Self.row)
        }
    }
}
