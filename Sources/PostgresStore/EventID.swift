import Foundation
import Synchronization

/// Event ids (`event_id`): version 7 UUIDs (RFC 9562) in lower-case text, 48 bits of Unix
/// milliseconds then 74 random bits, made without a system call each: a SplitMix64 stream
/// seeded once from the system's generator. Consumers drop duplicates by this id, so what
/// matters is that two events never share one, not secrecy. Time-ordered, the ids land at the
/// right edge of the unique indexes on `event_id` (timeline events, outbox), where PostgreSQL
/// appends, instead of at a random page of each for every row.
public enum EventID {
    private static let state = Mutex<UInt64>({
        var system = SystemRandomNumberGenerator()
        return system.next()
    }())
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The wall clock by default: the time only orders ids in the index (version 7), it decides
    /// nothing; tests pass a time to check the layout.
    public static func make(at now: Date = Date()) -> String {
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1_000))
        let (a, b) = state.withLock { s -> (UInt64, UInt64) in
            func next() -> UInt64 {
                s &+= 0x9E37_79B9_7F4A_7C15
                var z = s
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
            return (next(), next())
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            bytes[i] = UInt8(truncatingIfNeeded: a >> (8 * UInt64(i)))
            bytes[8 + i] = UInt8(truncatingIfNeeded: b >> (8 * UInt64(i)))
        }
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: milliseconds >> (8 * UInt64(5 - i))) }  // big-endian
        bytes[6] = bytes[6] & 0x0f | 0x70  // version 7
        bytes[8] = bytes[8] & 0x3f | 0x80  // RFC 4122 variant
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { text.append(UInt8(ascii: "-")) }
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
