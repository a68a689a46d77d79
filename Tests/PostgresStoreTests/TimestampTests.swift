import Foundation
import PostgresStore
import Testing

@Suite struct TimestampTests {
    @Test func parsesRFC3339WithOffsetsAndFractionsAndRoundTrips() throws {
        let utc = try #require(Timestamp.parse("2026-11-25T00:00:00Z"))
        #expect(Timestamp.parse("2026-11-25T01:00:00+01:00") == utc)
        #expect(Timestamp.parse("2026-11-24T19:30:00-04:30") == utc)
        let fractional = try #require(Timestamp.parse("2026-11-25T00:00:00.250Z"))
        #expect(abs(fractional.timeIntervalSince(utc) - 0.25) < 0.001)
        let now = Date(timeIntervalSince1970: 1_780_000_123.456)
        let back = try #require(Timestamp.parse(Timestamp.string(now)))
        #expect(abs(back.timeIntervalSince(now)) < 0.001)
        for bad in ["", "2026-11-25", "2026-11-25 00:00:00", "yesterday", "2026-13-01T00:00:00Z"] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }
}
