import Foundation
import WatchCore

extension JSONValue {
    /// The value as Foundation-style `Any` (Int, Bool, String, Double, [Any], [String: Any],
    /// NSNull), with types kept exactly — unlike JSONSerialization, which on Linux turns the
    /// number 1 into something that also casts to `true`.
    public var anyValue: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return Int(i)
        case .double(let d): return d
        case .number(let text): return Double(text) ?? 0
        case .string(let s): return s
        case .array(let a): return a.map(\.anyValue)
        case .object(let o): return o.mapValues(\.anyValue)
        }
    }

    /// A scalar from `[String: Any]` (a request id): String, Bool, Int, Double; null otherwise.
    public static func scalar(_ any: Any) -> JSONValue {
        switch any {
        case let s as String: return .string(s)
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(Int64(i))
        case let d as Double: return .double(d)
        default: return .null
        }
    }

    /// Parses a request body into `[String: Any]` (empty when it is not a JSON object).
    public static func requestObject(_ body: Data) -> [String: Any]? {
        guard let value = try? JSONValue.parse([UInt8](body)), case .object = value else { return nil }
        return value.anyValue as? [String: Any]
    }
}
