import Foundation
import PostgresStore
import WatchCore

/// The input schemas this service consumes (docs/events.md, docs/schemas/).
public enum InputSchema: String, Sendable, CaseIterable {
    case referencePrice = "unrip.reference_price.v1"
    case inventorySnapshot = "unrip.inventory_snapshot.v1"
    case executionResult = "unrip.execution_result.v1"
}

public struct ReferencePrice: Sendable, Equatable {
    public var eventID: String
    public var occurredAt: String
    public var pair: String
    public var price: String
    public var source: String
}

public struct InventorySnapshot: Sendable, Equatable {
    public var eventID: String
    public var occurredAt: String
    public var snapshotID: String
    public var accountID: String
    /// Token id → amount in base units (decimal string).
    public var balances: [String: String]
}

/// The outcome of one solver-relay `quote_response` submission (near-intents.md §4).
public struct ExecutionResult: Sendable, Equatable {
    public static let outcomes = ["ok", "rpc_error", "non_ok_result", "timeout", "transport"]
    public var eventID: String
    public var occurredAt: String
    public var quoteID: String
    /// The JSON-RPC request id, as text (the relay accepts strings and integers).
    public var requestID: String
    public var outcome: String
    /// The relay's `error` (a string or `{code, message}`), or null.
    public var error: JSONValue
}

public enum InputEvent: Sendable, Equatable {
    case price(ReferencePrice)
    case inventory(InventorySnapshot)
    case execution(ExecutionResult)

    public var eventID: String {
        switch self {
        case .price(let p): p.eventID
        case .inventory(let s): s.eventID
        case .execution(let r): r.eventID
        }
    }
}

/// Why an input message was refused (stored with it in `dead_letters`).
public struct InputRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// Accepts exactly the documented input contracts: the schema expected on the topic, every
/// required field with the right type and format, and no unknown field.
public enum InputContracts {
    public static func parse(_ bytes: [UInt8], expected: InputSchema) -> Result<InputEvent, InputRejection> {
        do {
            return .success(try decode(bytes, expected: expected))
        } catch let rejection as InputRejection {
            return .failure(rejection)
        } catch {
            return .failure(InputRejection(reason: "invalid input: \(error)"))
        }
    }

    static func decode(_ bytes: [UInt8], expected: InputSchema) throws -> InputEvent {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw InputRejection(reason: "bad JSON: not a JSON document")
        }
        guard let fields = value.objectValue else { throw InputRejection(reason: "bad JSON: expected an object") }
        guard let schema = fields["schema"]?.stringValue else { throw InputRejection(reason: "missing field: schema") }
        guard schema == expected.rawValue else {
            throw InputRejection(reason: "unknown schema \"\(schema)\": this topic carries \(expected.rawValue)")
        }
        var f = Fields(fields)
        let eventID = try f.string("event_id", pattern: uuidPattern, what: "a UUID")
        let occurredAt = try f.timestamp("occurred_at")
        let event: InputEvent
        switch expected {
        case .referencePrice:
            event = .price(
                ReferencePrice(
                    eventID: eventID, occurredAt: occurredAt,
                    pair: try f.string("pair", pattern: "^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$", what: "BASE/QUOTE, e.g. BTC/EUR"),
                    price: try f.string("price", pattern: "^[0-9]{1,40}(\\.[0-9]{1,40})?$", what: "a positive decimal string of at most 40 digits before and after the point"),
                    source: try f.string("source", pattern: "^.+$", what: "a non-empty string")))
        case .inventorySnapshot:
            event = .inventory(
                InventorySnapshot(
                    eventID: eventID, occurredAt: occurredAt,
                    snapshotID: try f.string("snapshot_id", pattern: "^.+$", what: "a non-empty string"),
                    accountID: try f.string("account_id", pattern: "^.+$", what: "a non-empty string"),
                    balances: try f.balances("balances")))
        case .executionResult:
            event = .execution(
                ExecutionResult(
                    eventID: eventID, occurredAt: occurredAt,
                    quoteID: try f.string("quote_id", pattern: "^.+$", what: "a non-empty string"),
                    requestID: try f.requestID("request_id"),
                    outcome: try f.oneOf("outcome", ExecutionResult.outcomes),
                    error: try f.relayError("error")))
        }
        try f.finish()
        if case .price(let p) = event, (Double(p.price) ?? 0) <= 0 {
            throw InputRejection(reason: "bad field price: must be greater than zero")
        }
        return event
    }

    static let uuidPattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
}

/// Reads fields of one input object, remembering which were read.
private struct Fields {
    let all: [String: JSONValue]
    var read: Set<String> = ["schema"]

    init(_ all: [String: JSONValue]) { self.all = all }

    mutating func value(_ key: String) throws -> JSONValue {
        read.insert(key)
        guard let v = all[key] else { throw InputRejection(reason: "missing field: \(key)") }
        return v
    }

    mutating func string(_ key: String, pattern: String, what: String) throws -> String {
        guard let s = try value(key).stringValue, s.range(of: pattern, options: .regularExpression) != nil else {
            throw InputRejection(reason: "bad field \(key): expected \(what)")
        }
        return s
    }

    mutating func timestamp(_ key: String) throws -> String {
        let s = try string(key, pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$", what: "an RFC 3339 timestamp")
        guard Timestamp.parse(s) != nil else { throw InputRejection(reason: "bad field \(key): expected \(Timestamp.rangeText)") }
        return s
    }

    mutating func oneOf(_ key: String, _ allowed: [String]) throws -> String {
        guard let s = try value(key).stringValue, allowed.contains(s) else {
            throw InputRejection(reason: "bad field \(key): expected one of \(allowed.joined(separator: ", "))")
        }
        return s
    }

    mutating func requestID(_ key: String) throws -> String {
        switch try value(key) {
        case .string(let s) where !s.isEmpty: return s
        case .int(let i): return String(i)
        default: throw InputRejection(reason: "bad field \(key): expected a string or an integer")
        }
    }

    mutating func relayError(_ key: String) throws -> JSONValue {
        read.insert(key)
        guard let v = all[key] else { return .null }
        switch v {
        case .null, .string: return v
        case .object(let o):
            let okCode = o["code"].map { if case .int = $0 { true } else { false } } ?? false
            guard okCode, o["message"]?.stringValue != nil, Set(o.keys).isSubset(of: ["code", "message", "data"]) else {
                throw InputRejection(reason: "bad field \(key): expected a string, null or {\"code\": int, \"message\": string}")
            }
            return v
        default:
            throw InputRejection(reason: "bad field \(key): expected a string, null or {\"code\": int, \"message\": string}")
        }
    }

    mutating func balances(_ key: String) throws -> [String: String] {
        guard let o = try value(key).objectValue else { throw InputRejection(reason: "bad field \(key): expected an object") }
        var out: [String: String] = [:]
        for (token, amount) in o {
            guard !token.isEmpty, let s = amount.stringValue, s.range(of: "^[0-9]{1,78}$", options: .regularExpression) != nil else {
                throw InputRejection(reason: "bad field \(key).\(token): expected base units as a decimal string of 1 to 78 digits (a uint256)")
            }
            out[token] = s
        }
        return out
    }

    func finish() throws {
        let unknown = Set(all.keys).subtracting(read).sorted()
        if !unknown.isEmpty { throw InputRejection(reason: "unknown field(s): \(unknown.joined(separator: ", "))") }
    }
}
