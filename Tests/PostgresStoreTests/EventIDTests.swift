import Foundation
import PostgresStore
import Testing

/// Event ids are RFC 9562 version 7 UUIDs: the time they were made in their first 48 bits, so
/// they sort (as text and as PostgreSQL `uuid`) in the order they were made, to the millisecond.
@Suite struct EventIDTests {
    @Test func versionSevenWithItsMillisecondsFirst() throws {
        let at = Date(timeIntervalSince1970: 1_796_611_922.123)
        let id = EventID.make(at: at)
        let hex = id.replacingOccurrences(of: "-", with: "")
        #expect(id.count == 36 && hex.count == 32)
        #expect(Array(id).enumerated().filter { $0.element == "-" }.map(\.offset) == [8, 13, 18, 23])
        #expect(hex.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(Array(hex)[12] == "7", "version nibble of \(id)")
        #expect("89ab".contains(Array(hex)[16]), "variant of \(id)")
        #expect(UInt64(hex.prefix(12), radix: 16) == 1_796_611_922_123)
    }

    @Test func idsSortByTheTimeTheyWereMadeAndNeverRepeat() {
        let start = Date(timeIntervalSince1970: 1_796_611_922)
        var ids: [String] = []
        var seen: Set<String> = []
        for step in 0..<2_000 {
            let at = start.addingTimeInterval(Double(step) * 0.001)
            for _ in 0..<50 {
                let id = EventID.make(at: at)
                #expect(seen.insert(id).inserted)
                ids.append(id)
            }
        }
        // Within one millisecond the order is random; across milliseconds it is the time's.
        let byMillisecond = ids.map { $0.prefix(13) }
        let outOfOrder = zip(byMillisecond, byMillisecond.dropFirst()).filter { $0 > $1 }.count
        #expect(outOfOrder == 0)
        #expect(seen.count == 100_000)
    }
}
