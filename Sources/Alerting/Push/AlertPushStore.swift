import Foundation
import PostgresStore
import WatchCore

/// The durable side of alert push: `alert_events` (the source of truth, read in id order),
/// one cursor per target in `alert_push_cursors`, and `alert_push_rejections`.
public struct AlertPushStore: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// A target's cursor row.
    public struct Cursor: Sendable, Equatable {
        public var lastEventID: Int64
        public var delivered: Int64
        public var rejected: Int64
        public var lastSuccessAt: String?
        public var lastError: String?
        public var lastErrorAt: String?
    }

    /// An event to push, with the labels of the firing it belongs to (Alertmanager identity).
    public struct Pending: Sendable {
        public var event: AlertEventRecord
        public var firedLabels: [String: String]?
    }

    /// Creates `target`'s cursor when it has none. A new target does not replay all history:
    /// it starts just before the raise of the oldest alert firing now (so it learns of every
    /// active alert and what follows), or after the latest event when nothing fires.
    public func ensureCursor(_ target: String) async throws {
        _ = try await pool.withConnection { conn in
            try conn.query(
                """
                INSERT INTO alert_push_cursors (target, last_event_id)
                SELECT $1, COALESCE(
                    (SELECT min(f.id) - 1 FROM alert_state s
                     JOIN LATERAL (SELECT e.id FROM alert_events e WHERE e.alert_key = s.alert_key AND e.status = 'firing'
                                   ORDER BY e.id DESC LIMIT 1) f ON true
                     WHERE s.status = 'firing'),
                    (SELECT max(id) FROM alert_events), 0)
                ON CONFLICT (target) DO NOTHING
                """, [target])
        }
    }

    static func timeText(_ column: String) -> String { "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')" }

    public func cursor(_ target: String) async throws -> Cursor? {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT last_event_id, delivered, rejected, \(Self.timeText("last_success_at")) AS last_success_at, last_error,
                       \(Self.timeText("last_error_at")) AS last_error_at
                FROM alert_push_cursors WHERE target = $1
                """, [target]
            ).first.map { r in
                Cursor(
                    lastEventID: r["last_event_id"].flatMap(Int64.init) ?? 0, delivered: r["delivered"].flatMap(Int64.init) ?? 0,
                    rejected: r["rejected"].flatMap(Int64.init) ?? 0, lastSuccessAt: r["last_success_at"], lastError: r["last_error"],
                    lastErrorAt: r["last_error_at"])
            }
        }
    }

    /// Events after `target`'s cursor, oldest first.
    public func pending(_ target: String, limit: Int) async throws -> [Pending] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT \(AlertEventRecord.columns),
                       (SELECT f.labels::text FROM alert_events f WHERE f.alert_key = alert_events.alert_key
                        AND f.status = 'firing' AND f.id <= alert_events.id ORDER BY f.id DESC LIMIT 1) AS fired_labels
                FROM alert_events
                WHERE id > (SELECT last_event_id FROM alert_push_cursors WHERE target = $1)
                ORDER BY id LIMIT $2
                """, [target, String(limit)]
            ).compactMap { r in
                AlertEventRecord(row: r).map { Pending(event: $0, firedLabels: r["fired_labels"].map(AlertStore.labels)) }
            }
        }
    }

    /// Events after the cursor (what is left to push).
    public func backlog(_ target: String) async throws -> Int {
        try await pool.withConnection { conn in
            try conn.query(
                "SELECT count(*) AS n FROM alert_events WHERE id > (SELECT last_event_id FROM alert_push_cursors WHERE target = $1)",
                [target]
            ).first?.int("n") ?? 0
        }
    }

    /// The target took events up to `id` (2xx): the cursor moves there.
    public func delivered(_ target: String, through id: Int64, count: Int, at: Date) async throws {
        _ = try await pool.withConnection { conn in
            try conn.query(
                """
                UPDATE alert_push_cursors SET last_event_id = GREATEST(last_event_id, $2::bigint), delivered = delivered + $3::bigint,
                    last_success_at = $4::timestamptz, updated_at = $4::timestamptz WHERE target = $1
                """, [target, String(id), String(count), Timestamp.string(at)])
        }
    }

    /// The target refused `events` for good: recorded, counted, and the cursor moves past them.
    public func rejected(_ target: String, events: [AlertEventRecord], status: Int, response: String, error: String, at: Date) async throws {
        guard let last = events.map(\.id).max() else { return }
        let ids = "{" + events.map { String($0.id) }.joined(separator: ",") + "}"
        try await pool.transaction { conn in
            try conn.query(
                """
                INSERT INTO alert_push_rejections (target, alert_event_id, http_status, response, rejected_at)
                SELECT $1, unnest($2::bigint[]), $3::int, $4, $5::timestamptz
                """, [target, ids, String(status), response, Timestamp.string(at)])
            try conn.query(
                """
                UPDATE alert_push_cursors SET last_event_id = GREATEST(last_event_id, $2::bigint), rejected = rejected + $3::bigint,
                    last_error = $4, last_error_at = $5::timestamptz, updated_at = $5::timestamptz WHERE target = $1
                """, [target, String(last), String(events.count), error, Timestamp.string(at)])
        }
    }

    /// A failed attempt (the cursor stays).
    public func failed(_ target: String, error: String, at: Date) async throws {
        _ = try await pool.withConnection { conn in
            try conn.query(
                "UPDATE alert_push_cursors SET last_error = $2, last_error_at = $3::timestamptz, updated_at = $3::timestamptz WHERE target = $1",
                [target, error, Timestamp.string(at)])
        }
    }

    /// Alerts firing now, for the periodic Alertmanager re-send (labels of their latest raise).
    public func firing() async throws -> [AlertmanagerPayload.Alert] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT s.alert_key, s.rule, s.subject, s.reason, s.details::text AS details, s.labels::text AS labels,
                       \(Self.timeText("s.since")) AS since,
                       (SELECT f.labels::text FROM alert_events f WHERE f.alert_key = s.alert_key AND f.status = 'firing'
                        ORDER BY f.id DESC LIMIT 1) AS fired_labels
                FROM alert_state s WHERE s.status = 'firing' ORDER BY s.since, s.alert_key
                """
            ).compactMap { r in
                guard let key = r["alert_key"], let since = r["since"] else { return nil }
                return AlertmanagerPayload.Alert(
                    key: key, rule: r["rule"] ?? "", subject: r["subject"] ?? "",
                    labels: AlertStore.labels(r["fired_labels"] ?? r["labels"]), reason: r["reason"] ?? "",
                    details: r["details"].flatMap { try? JSONValue.parse($0) } ?? .object([:]), startsAt: since, endsAt: nil, eventID: nil)
            }
        }
    }
}
