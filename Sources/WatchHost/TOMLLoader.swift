import Foundation
import TOMLKit
import WatchCore

/// Reads a TOML file into the format-independent `ConfigValue` tree.
enum TOMLLoader {
    static func load(path: String) throws(ConfigProblem) -> [String: ConfigValue] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigProblem(key: "(file)", value: path, expected: "config file not found or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigProblem(key: "(file)", value: path, expected: "config file is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    static func parse(_ text: String, path: String = "(config)") throws(ConfigProblem) -> [String: ConfigValue] {
        if let problem = TOMLHeaderCheck.problem(in: text, path: path) { throw problem }
        do {
            return try convert(try TOMLTable(string: text))
        } catch let problem as ConfigProblem {
            throw ConfigProblem(key: problem.key, value: path, expected: problem.expected)
        } catch let error as TOMLParseError {
            throw ConfigProblem(
                key: "(file)", value: "\(path) line \(error.source.begin.line), column \(error.source.begin.column)",
                expected: "not valid TOML: \(error.description)")
        } catch {
            throw ConfigProblem(key: "(file)", value: path, expected: "not valid TOML: \(error)")
        }
    }

    private static func convert(_ table: TOMLTable, depth: Int = 0) throws(ConfigProblem) -> [String: ConfigValue] {
        var out: [String: ConfigValue] = [:]
        for (key, value) in table { out[key] = try convert(value, depth: depth + 1) }
        return out
    }

    /// Tables and arrays nested deeper than this are refused, so a hostile file cannot
    /// overflow the stack (TOMLHeaderCheck refuses deep dotted keys before toml++ sees them).
    static let maxDepth = 64

    private static func convert(_ value: any TOMLValueConvertible, depth: Int) throws(ConfigProblem) -> ConfigValue {
        if depth > maxDepth {
            throw ConfigProblem(key: "(file)", value: nil, expected: "tables and arrays nested deeper than \(maxDepth) levels; no key of unrip-watch needs that")
        }
        switch value.type {
        case .string: return .string(value.string ?? "")
        case .int: return .int(value.int ?? 0)
        case .double: return .double(value.double ?? 0)
        case .bool: return .bool(value.bool ?? false)
        case .table:
            guard let table = value.table else { return .table([:]) }
            return .table(try convert(table, depth: depth))
        case .array:
            var items: [ConfigValue] = []
            if let array = value.array {
                for item in array { items.append(try convert(item, depth: depth + 1)) }
            }
            return .array(items)
        case .date, .time, .dateTime: return .dateTime(value.debugDescription)
        }
    }
}
