import Foundation
import PostgresStore
import WatchCore

/// One raise or clear as `alert_events` holds it, and the one place its `unrip.alert.v1`
/// payload is built: the outbox (Kafka) and the webhook push both send `payload`.
public struct AlertEventRecord: Sendable, Equatable {
    /// `alert_events.id` (0 before the row is written).
    public var id: Int64
    public var eventID: String
    public var key: String
    public var rule: String
    public var subject: String
    public var status: StoredAlert.Status
    public var reason: String
    public var labels: [String: String]
    public var details: JSONValue
    /// When the transition happened (RFC 3339, as stored).
    public var at: String
    /// For a clear: when the alert had fired.
    public var firedAt: String?

    public init(
        id: Int64 = 0, eventID: String, key: String, rule: String, subject: String, status: StoredAlert.Status, reason: String,
        labels: [String: String], details: JSONValue, at: String, firedAt: String?
    ) {
        self.id = id
        self.eventID = eventID
        self.key = key
        self.rule = rule
        self.subject = subject
        self.status = status
        self.reason = reason
        self.labels = labels
        self.details = details
        self.at = at
        self.firedAt = firedAt
    }

    public static let schema = "unrip.alert.v1"

    /// The `unrip.alert.v1` event (docs/schemas/unrip.alert.v1.schema.json).
    public var payload: JSONValue {
        [
            "schema": .string(Self.schema), "event_id": .string(eventID), "occurred_at": .string(at), "key": .string(key),
            "rule": .string(rule), "subject": .string(subject), "status": .string(status.rawValue), "since": .string(at),
            "fired_at": .optional(firedAt), "reason": .string(reason), "labels": .object(labels.mapValues(JSONValue.string)),
            "details": details, "severity": .optional(labels["severity"]),
        ]
    }

    /// Columns to select for `init(row:)`; timestamps as `Timestamp.string` writes them.
    static let columns = """
        id, event_id::text AS event_id, alert_key, rule, subject, status, reason, details::text AS details,
        labels::text AS labels, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text,
        to_char(fired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS fired_at_text
        """

    init?(row r: PGRow) {
        guard let id = r["id"].flatMap(Int64.init), let eventID = r["event_id"], let key = r["alert_key"],
            let status = r["status"].flatMap(StoredAlert.Status.init(rawValue:)), let at = r["at_text"]
        else { return nil }
        self.init(
            id: id, eventID: eventID, key: key, rule: r["rule"] ?? "", subject: r["subject"] ?? "", status: status,
            reason: r["reason"] ?? "", labels: AlertStore.labels(r["labels"]),
            details: r["details"].flatMap { try? JSONValue.parse($0) } ?? .object([:]), at: at, firedAt: r["fired_at_text"])
    }
}
