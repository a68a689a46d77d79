import Foundation
import Hummingbird
import WatchCore

/// Replies a hostile or broken JSON-RPC peer sends instead of the right one: wrong types,
/// boundary numbers, deep nesting, long strings, NUL and invalid UTF-8, truncated or non-JSON
/// bodies, wrong ids, HTTP errors. Seeded, so a failing run can be replayed.
public struct HostileReplies: Sendable {
    var rng: SeededGenerator

    public init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    static let values: [String] = [
        "null", "true", "-1", "0", "1e400", "-1e400", "18446744073709551616", "99999999999999999999999999999999999999999999999999999",
        "1.5", "\"\"", "\"\\u0000\"", "\"\\ud800\"", "[]", "{}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "\"" + String(repeating: "f", count: 64) + "\"", "\"" + String(repeating: "0", count: 63) + "g\"",
        "{\"txids\": [1, 2, 3], \"mempool_sequence\": -5}", "{\"chain\": 5, \"blocks\": \"x\"}",
        "{\"deposits\": [{\"amount\": \"lots\"}, null, 5], \"total\": -1}", "{\"address\": \"\\u0000\"}",
        "{\"tokens\": [{\"min_deposit_amount\": \"-1\"}, {\"intents_token_id\": 5}]}",
        "\"" + String(repeating: "a", count: 300_000) + "\"",
        String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000),
    ]

    /// The next reply for a request with `id` (as its JSON text).
    public mutating func next(id: String) -> Response {
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        let value = pick(Self.values)
        let body: String
        var status = HTTPResponse.Status.ok
        switch rng.next() % 9 {
        case 0, 1, 2: body = "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":\(value),\"error\":null}"
        case 3: body = "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"error\":\(value)}"
        case 4: body = "{\"jsonrpc\":\"2.0\",\"id\":\(pick(["999", "\"x\"", "null", "[]"])),\"result\":\(value)}"
        case 5: body = String("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":\(value)}".prefix(Int(rng.next() % 40)))
        case 6:
            body = "<html><body>502 Bad Gateway</body></html>"
            status = pick([.badGateway, .internalServerError, .ok, .notFound])
        case 7:
            var bytes = Array("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":\"".utf8) + [0xff, 0xfe, 0xc3, 0x28, 0x00] + Array("\"}".utf8)
            if rng.next() % 2 == 0 { bytes.reverse() }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        default: body = value
        }
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
