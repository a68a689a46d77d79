import WatchCore

/// One event for the outbox.
public struct OutboxEntry: Sendable {
    public var topic: String
    public var key: String
    public var eventID: String
    public var payload: JSONValue

    public init(topic: String, key: String, eventID: String, payload: JSONValue) {
        self.topic = topic
        self.key = key
        self.eventID = eventID
        self.payload = payload
    }
}

/// The transactional outbox: events written in the same transaction as the state they
/// describe, published to Kafka afterwards by the relay. Every insert wakes the relays
/// listening on `Outbox.channel` when the transaction commits (a statement trigger, migration 0005).
public enum Outbox {
    /// The LISTEN/NOTIFY channel of committed outbox rows.
    public static let channel = "unrip_outbox"

    public static func enqueue(conn: PGConnection, topic: String, key: String, eventID: String, payload: JSONValue) throws {
        try enqueue(conn: conn, [OutboxEntry(topic: topic, key: key, eventID: eventID, payload: payload)])
    }

    /// Enqueues `entries` in order (ids ascending) with one statement.
    public static func enqueue(conn: PGConnection, _ entries: [OutboxEntry]) throws {
        guard !entries.isEmpty else { return }
        try conn.queryPrepared(
            """
            INSERT INTO outbox (topic, message_key, event_id, payload)
            SELECT u_topic, u_key, u_event, u_payload
            FROM unnest($1::text[], $2::text[], $3::uuid[], $4::json[]) WITH ORDINALITY AS u(u_topic, u_key, u_event, u_payload, u_ord)
            ORDER BY u_ord
            """,
            [
                PGArray.literal(entries.map(\.topic)), PGArray.literal(entries.map(\.key)),
                PGArray.literal(entries.map(\.eventID)), PGArray.literal(entries.map { $0.payload.serialized() }),
            ])
    }
}

/// PostgreSQL array literals for parameters (`$1::text[]`, `$2::bigint[]`, …): every element
/// quoted and escaped, `nil` as NULL.
public enum PGArray {
    public static func literal(_ items: [String?]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(items.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (i, item) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let item else {
                bytes += "NULL".utf8
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            var text = item
            text.withUTF8 { utf8 in
                // Most values (hashes, numbers, addresses) need no escape: copied in one go.
                guard utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") }) else {
                    bytes.append(contentsOf: utf8)
                    return
                }
                for b in utf8 {
                    if b == UInt8(ascii: "\\") || b == UInt8(ascii: "\"") { bytes.append(UInt8(ascii: "\\")) }
                    bytes.append(b)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
