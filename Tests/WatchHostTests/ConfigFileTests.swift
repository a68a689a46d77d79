import Foundation
import UnripAdapters
import WatchCore
import WatchHost

/// Config tests that write a file with a `[database]` section and `text`, and load it as
/// `unrip-watch` does; `problems` are the refusals it names (none when it loads).
protocol ConfigFileTests {}

extension ConfigFileTests {
    func load(_ text: String, environment: [String: String] = [:]) throws -> HostConfig {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-config-\(UUID().uuidString).toml").path
        try ("[database]\nurl = \"postgresql://localhost/unrip\"\n" + text).write(toFile: path, atomically: true, encoding: .utf8)
        return try HostConfig.load(path: path, environment: environment, registry: registeredAdapters)
    }

    func problems(_ text: String) throws -> [ConfigProblem] {
        do {
            _ = try load(text)
            return []
        } catch let error as ConfigErrors {
            return error.problems
        }
    }
}
