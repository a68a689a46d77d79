import Foundation
import PostgresStore
import Testing
import WatchTesting

/// Array parameters are how every batch reaches PostgreSQL: what goes in must come back as it
/// was, whatever the text holds, and a NUL byte (which PostgreSQL text cannot hold) is refused.
@Suite struct ArrayLiteralTests {
    @Test func everyValueComesBackFromPostgreSQLAsItWent() async throws {
        let db = try await TestDatabase.create(migrated: false)
        let values: [String?] = [
            "plain", "", nil, "NULL", "with \"quotes\"", "back\\slash", "\\\"", "a,b", "{braces}", "  spaced  ",
            "ünïcödé €", "line\nbreak", String(repeating: "f", count: 64), "\"", "\\",
        ]
        let back = try await db.pool.withConnection { conn in
            try conn.query(
                "SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n", [PGArray.literal(values)]
            ).map { $0["v"] }
        }
        #expect(back == values)
    }

    @Test func aNULByteAnywhereIsRefusedAsBadData() async throws {
        let db = try await TestDatabase.create(migrated: false)
        for text in ["\u{0}", "abc\u{0}", "\u{0}abc", String(repeating: "x", count: 100) + "\u{0}y"] {
            let error = await #expect(throws: PostgresError.self) {
                try await db.pool.withConnection { conn in try conn.query("SELECT $1::text", [text]) }
            }
            guard case .server(let state, _)? = error else {
                Issue.record("not refused as bad data: \(String(describing: error))")
                continue
            }
            #expect(state == "22021", "\(text.utf8.count) bytes")
        }
        let fine = try await db.pool.withConnection { conn in try conn.query("SELECT $1::text AS t", ["no nul here"]) }
        #expect(fine.first?["t"] == "no nul here")
    }
}
