import Foundation
import PostgresStore
import WatchCore
import Testing

@Suite struct TimestampTests {
    @Test func parsesRFC3339WithOffsetsAndFractionsAndRoundTrips() throws {
        let utc = try #require(Timestamp.parse("2026-11-25T00:00:00Z"))
        #expect(Timestamp.parse("2026-11-25T01:00:00+01:00") == utc)
        #expect(Timestamp.parse("2026-11-24T19:30:00-04:30") == utc)
        #expect(Timestamp.parse("2024-02-29T12:00:00Z") != nil)  // a leap day
        let fractional = try #require(Timestamp.parse("2026-11-25T00:00:00.250Z"))
        #expect(abs(fractional.timeIntervalSince(utc) - 0.25) < 0.001)
        let now = Date(timeIntervalSince1970: 1_780_000_123.456)
        let back = try #require(Timestamp.parse(Timestamp.string(now)))
        #expect(abs(back.timeIntervalSince(now)) < 0.001)
        // Days and times that do not exist are refused, not rolled over (2026-02-30 is no 2026-03-02).
        for bad in ["", "2026-11-25", "2026-11-25 00:00:00", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                    "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T23:60:00Z", "2026-00-10T00:00:00Z"] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func formatsUTCWithMicroseconds() {
        // Expected values from Python's datetime, an independent formatter.
        let cases: [(Double, String)] = [
            (0, "1970-01-01T00:00:00.000000Z"), (1_780_000_123.456789, "2026-05-28T20:28:43.456789Z"),
            (951_782_400.5, "2000-02-29T00:00:00.500000Z"), (4_102_444_799.999999, "2099-12-31T23:59:59.999999Z"),
            (1_000_000_000.000001, "2001-09-09T01:46:40.000001Z"),
        ]
        for (seconds, text) in cases {
            #expect(Timestamp.string(Date(timeIntervalSince1970: seconds)) == text)
        }
    }
}
