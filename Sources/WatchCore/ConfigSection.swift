import Foundation

/// A config value as parsed from the file, independent of the file format.
public indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([ConfigValue])
    case table([String: ConfigValue])
    /// A TOML date, time or date-time, as written: no key of this service takes one, so it is
    /// kept apart from strings and refused wherever it appears.
    case dateTime(String)

    public var typeName: String {
        switch self {
        case .string: "string"
        case .int: "integer"
        case .double: "float"
        case .bool: "boolean"
        case .array: "array"
        case .table: "table"
        case .dateTime: "date-time"
        }
    }

    var display: String {
        switch self {
        case .string(let s): "\"\(s)\""
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .bool(let b): String(b)
        case .array(let a): "[" + a.map(\.display).joined(separator: ", ") + "]"
        case .table: "{…}"
        case .dateTime(let t): t
        }
    }
}

/// One problem in the config: the key, the value found, and what was expected.
public struct ConfigProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// Dotted path, e.g. `bitcoin.handles[0].address`.
    public var key: String
    /// The offending value as written (redacted for secrets), or nil when missing.
    public var value: String?
    /// What is expected, and how to fix it.
    public var expected: String

    public init(key: String, value: String?, expected: String) {
        self.key = key
        self.value = value
        self.expected = expected
    }

    public var description: String {
        if let value { return "\(key) = \(value): \(expected)" }
        return "\(key): \(expected)"
    }
}

/// Collects problems for one config load, shared by every section read from it.
public final class ConfigProblems: @unchecked Sendable {
    public private(set) var all: [ConfigProblem] = []
    public init() {}
    public func add(_ p: ConfigProblem) { all.append(p) }
}

/// Typed, validating access to one config table. Every read records what it read (for the
/// effective config, secrets redacted) and every problem (named by key, value and fix);
/// `finish()` reports keys nobody read as unknown. Environment variables
/// `UNRIP_<SECTION>_<KEY>` override top-level section keys.
public final class ConfigSection {
    public let path: String
    private let table: [String: ConfigValue]
    private let environment: [String: String]
    private let envPrefix: String?
    public let problems: ConfigProblems
    private var read: Set<String> = []
    /// What was read, as served in the effective config.
    public private(set) var effective: [String: JSONValue] = [:]
    /// Set for a chain section when `[bridge] handles_from_bridge` covers the chain: its
    /// handles may then be empty (they come from `deposit_address`).
    public var handlesMayComeFromBridge = false
    /// The plugin this section configures (`gnosis`, or `base` for `[evm.base]`): its chain name.
    public var pluginName: String
    /// The family when the section is one of several instances (`evm` for `[evm.base]`).
    public var family: String?

    public init(path: String, table: [String: ConfigValue], environment: [String: String] = [:], problems: ConfigProblems, overridable: Bool = true) {
        self.path = path
        self.pluginName = path
        self.table = table
        self.environment = environment
        self.envPrefix = overridable ? "UNRIP_\(path.uppercased().replacingOccurrences(of: ".", with: "_"))_" : nil
        self.problems = problems
    }

    private func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Environment variable name overriding `key`, if this section takes overrides.
    public func environmentName(_ key: String) -> String? { envPrefix.map { $0 + key.uppercased() } }

    /// Records a problem. The value is shown redacted (hidden for a secret key, URLs without
    /// their credentials) and capped, whatever the caller passed.
    public func problem(_ key: String, _ value: String?, _ expected: String) {
        let shown = value.map { Redact.isSecretKey(key) ? Redact.marker : Excerpt.of(Redact.urls(inText: $0), limit: 200) }
        problems.add(ConfigProblem(key: keyPath(key), value: shown, expected: expected))
    }

    /// The raw value, from the environment first, then the file.
    private func raw(_ key: String) -> (ConfigValue, fromEnv: Bool)? {
        read.insert(key)
        if let name = environmentName(key), let text = environment[name] { return (.string(text), true) }
        return table[key].map { ($0, false) }
    }

    public func has(_ key: String) -> Bool {
        if let name = environmentName(key), environment[name] != nil { return true }
        return table[key] != nil
    }

    public func string(_ key: String, default def: String? = nil, required: Bool = false, secret: Bool = false) -> String? {
        guard let (value, _) = raw(key) else {
            if required { problem(key, nil, "missing: a string is required") }
            if let def { effective[key] = .string(secret ? Redact.marker : Redact.value(def, key: key)) }
            return def
        }
        guard case .string(let s) = value else {
            problem(key, secret ? "<redacted>" : value.display, "expected a string, found \(value.typeName)")
            return def
        }
        effective[key] = .string(secret ? (s.isEmpty ? "" : Redact.marker) : Redact.value(s, key: key))
        return s
    }

    /// A secret given inline (`key`, redacted in the effective config) or in a file (`fileKey`,
    /// trimmed; the file wins). Empty means none. `what` names the secret when the file cannot
    /// be read.
    public func secret(_ key: String, orFile fileKey: String, what: String) -> String? {
        var value = string(key, secret: true)
        if let file = string(fileKey), !file.isEmpty {
            if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                value = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if value?.isEmpty == true {
                    problem(fileKey, "\"\(file)\"", "the file is empty (or only whitespace); put \(what) in it, or remove \(fileKey)")
                }
            } else {
                problem(fileKey, "\"\(file)\"", "file not readable; point it at a file holding \(what)")
            }
        }
        return value?.isEmpty == true ? nil : value
    }

    public func int(_ key: String, default def: Int, range: ClosedRange<Int>? = nil) -> Int {
        guard let (value, _) = raw(key) else {
            effective[key] = .int(Int64(def))
            return def
        }
        var result: Int?
        switch value {
        case .int(let i): result = i
        case .string(let s): result = Int(s.trimmingCharacters(in: .whitespaces))
        default: break
        }
        guard let i = result else {
            problem(key, value.display, "expected an integer, found \(value.typeName)")
            return def
        }
        if let range, !range.contains(i) {
            problem(key, String(i), "expected an integer in \(range.lowerBound)...\(range.upperBound)")
            return def
        }
        effective[key] = .int(Int64(i))
        return i
    }

    public func bool(_ key: String, default def: Bool) -> Bool {
        guard let (value, _) = raw(key) else {
            effective[key] = .bool(def)
            return def
        }
        var result: Bool?
        switch value {
        case .bool(let b): result = b
        case .string(let s): result = ["true": true, "1": true, "false": false, "0": false][s.lowercased()]
        default: break
        }
        guard let b = result else {
            problem(key, value.display, "expected true or false, found \(value.typeName)")
            return def
        }
        effective[key] = .bool(b)
        return b
    }

    /// A list of strings; from the environment, comma-separated.
    public func stringArray(_ key: String, default def: [String] = []) -> [String] {
        guard let (value, fromEnv) = raw(key) else {
            effective[key] = .array(def.map(JSONValue.string))
            return def
        }
        var items: [String]?
        switch value {
        case .string(let s) where fromEnv:
            let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            // Empty turns the list off; "a,,b" or ",,," is a typo, not an empty list.
            guard s.trimmingCharacters(in: .whitespaces).isEmpty || !parts.contains(where: \.isEmpty) else {
                problem(key, value.display, "an empty item in the comma-separated list; write the items without empty ones (e.g. a,b), or an empty value for none")
                return def
            }
            items = parts.filter { !$0.isEmpty }
        case .array(let a):
            items = a.compactMap { if case .string(let s) = $0 { s } else { nil } }
            if items?.count != a.count { items = nil }
        default: break
        }
        guard let items else {
            problem(key, value.display, "expected an array of strings, found \(value.typeName)")
            return def
        }
        effective[key] = .array(items.map(JSONValue.string))
        return items
    }

    /// Whether `key` holds a table (read without marking it read).
    public func isTable(_ key: String) -> Bool {
        if case .table = table[key] { return true }
        return false
    }

    /// A nested table, or nil when absent.
    public func table(_ key: String) -> ConfigSection? {
        guard let (value, _) = raw(key) else { return nil }
        guard case .table(let t) = value else {
            problem(key, value.display, "expected a table, found \(value.typeName)")
            return nil
        }
        return ConfigSection(path: keyPath(key), table: t, environment: [:], problems: problems, overridable: false)
    }

    /// A nested table whose keys take environment overrides too (`[alerts.push] webhook_url` ←
    /// `UNRIP_ALERTS_PUSH_WEBHOOK_URL`); an empty section when absent, so the environment
    /// alone can set it.
    public func overridableTable(_ key: String) -> ConfigSection {
        var inner: [String: ConfigValue] = [:]
        if let (value, _) = raw(key) {
            if case .table(let t) = value {
                inner = t
            } else {
                problem(key, value.display, "expected a table, found \(value.typeName)")
            }
        }
        return ConfigSection(path: keyPath(key), table: inner, environment: environment, problems: problems)
    }

    /// An array of tables (`handles = [{ … }, …]`), each its own section.
    public func tables(_ key: String) -> [ConfigSection] {
        guard let (value, _) = raw(key) else { return [] }
        guard case .array(let items) = value else {
            problem(key, value.display, "expected an array of tables, found \(value.typeName)")
            return []
        }
        var sections: [ConfigSection] = []
        for (i, item) in items.enumerated() {
            guard case .table(let t) = item else {
                problems.add(ConfigProblem(key: "\(keyPath(key))[\(i)]", value: item.display, expected: "expected a table like { address = \"…\" }"))
                continue
            }
            sections.append(ConfigSection(path: "\(keyPath(key))[\(i)]", table: t, problems: problems, overridable: false))
        }
        return sections
    }

    /// Records a nested section's effective values under `key`.
    public func recordEffective(_ key: String, _ value: JSONValue) { effective[key] = value }

    /// Keys of the table, for sections whose keys are data (e.g. per-pair limits).
    public var keys: [String] { table.keys.sorted() }

    /// Reports every key in the file that nothing read.
    public func finish() {
        for key in table.keys.sorted() where !read.contains(key) {
            // Named without its value: a misspelled secret key must not print the secret.
            problem(key, nil, "unknown key (check the spelling; config/example.toml lists every key)")
        }
    }
}

extension ConfigValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
