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
            return convert(try TOMLTable(string: text))
        } catch let error as TOMLParseError {
            throw ConfigProblem(
                key: "(file)", value: "\(path) line \(error.source.begin.line), column \(error.source.begin.column)",
                expected: "not valid TOML: \(error.description)")
        } catch {
            throw ConfigProblem(key: "(file)", value: path, expected: "not valid TOML: \(error)")
        }
    }

    private static func convert(_ table: TOMLTable) -> [String: ConfigValue] {
        var out: [String: ConfigValue] = [:]
        for (key, value) in table { out[key] = convert(value) }
        return out
    }

    private static func convert(_ value: any TOMLValueConvertible) -> ConfigValue {
        switch value.type {
        case .string: return .string(value.string ?? "")
        case .int: return .int(value.int ?? 0)
        case .double: return .double(value.double ?? 0)
        case .bool: return .bool(value.bool ?? false)
        case .table: return .table(value.table.map(convert) ?? [:])
        case .array: return .array(value.array.map { $0.map(convert) } ?? [])
        case .date, .time, .dateTime: return .string(value.debugDescription)
        }
    }
}
