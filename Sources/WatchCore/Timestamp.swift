import Foundation

/// RFC 3339 UTC timestamps with microseconds, as stored and published.
///
/// Every time this service reads or writes lies in `range`: 1970-01-01T00:00:00Z to
/// 9999-12-31T23:59:59.999999Z (proleptic Gregorian, where Foundation, PostgreSQL and every
/// peer agree). `parse` refuses anything outside it; `string` clamps into it, so no date from
/// anywhere can trap.
public enum Timestamp {
    /// The earliest and latest time accepted, as seconds since 1970.
    public static let range: ClosedRange<Double> = 0...253_402_300_799.999_999

    /// How a refused time is described to whoever sent it.
    public static let rangeText = "an RFC 3339 time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"

    public static func string(_ date: Date) -> String {
        let raw = date.timeIntervalSince1970
        let seconds = raw.isNaN ? 0 : min(max(raw, range.lowerBound), range.upperBound)
        let whole = floor(seconds)
        let micros = min(Int(((seconds - whole) * 1_000_000).rounded()), 999_999)
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        // "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", written digit by digit (String(format:) costs more
        // than the rest of an event).
        var out: [UInt8] = []
        out.reserveCapacity(27)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            for _ in 0..<width {
                out.append(UInt8(ascii: "0") + UInt8((v / divisor) % 10))
                v %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        out.append(UInt8(ascii: "."))
        digits(micros, 6)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses an RFC 3339 time (`Z` or a numeric offset, fractional seconds optional), as
    /// `string` produces, PostgreSQL's `to_char` prints, and inputs and query parameters carry.
    /// Nil for anything else, and for a time outside `range`.
    public static func parse(_ text: String) -> Date? {
        // "YYYY-MM-DDTHH:MM:SS" at the least, and a four-digit year from 1970 on: Foundation
        // reads earlier years in the Julian calendar, and years below 1 not at all.
        let bytes = Array(text.utf8.prefix(5))
        guard text.utf8.count >= 20, text.utf8.count <= 64, bytes.count == 5, bytes[4] == UInt8(ascii: "-"),
            bytes[0..<4].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let year = Int(String(decoding: bytes[0..<4], as: UTF8.self)), year >= 1969
        else { return nil }
        guard fieldsAreACalendarTime(Array(text.utf8.prefix(19)), year: year) else { return nil }
        let parsed =
            (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
        guard let parsed, range.contains(parsed.timeIntervalSince1970) else { return nil }
        return parsed
    }

    /// Whether `YYYY-MM-DDTHH:MM:SS` names a real day and time: Foundation rolls 2026-02-30
    /// over into March and 25:00 into the next day instead of refusing them.
    static func fieldsAreACalendarTime(_ b: [UInt8], year: Int) -> Bool {
        guard b.count == 19 else { return false }
        func number(_ at: Int) -> Int? {
            let (hi, lo) = (b[at], b[at + 1])
            guard (48...57).contains(hi), (48...57).contains(lo) else { return nil }
            return Int(hi - 48) * 10 + Int(lo - 48)
        }
        guard b[7] == UInt8(ascii: "-"), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            let month = number(5), let day = number(8), let hour = number(11), let minute = number(14), let second = number(17),
            (1...12).contains(month), hour <= 23, minute <= 59, second <= 60
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }
}
