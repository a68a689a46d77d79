import WatchCore

/// The transactional outbox: events written in the same transaction as the state they
/// describe, published to Kafka afterwards by the relay.
public enum Outbox {
    public static func enqueue(conn: PGConnection, topic: String, key: String, eventID: String, payload: JSONValue) throws {
        try conn.query(
            "INSERT INTO outbox (topic, message_key, event_id, payload) VALUES ($1, $2, $3::uuid, $4::jsonb)",
            [topic, key, eventID, payload.serialized()])
    }
}

/// PostgreSQL array literals for text parameters.
enum PGArray {
    static func text(_ items: [String]) -> String {
        "{" + items.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }
}
