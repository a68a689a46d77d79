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
        let parsed =
            (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
        guard let parsed, range.contains(parsed.timeIntervalSince1970) else { return nil }
        return parsed
    }
}
