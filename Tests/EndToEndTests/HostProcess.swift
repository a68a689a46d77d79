import Foundation
import WatchTesting

/// The real `unrip-watch` binary, run as a child process the way an operator runs it.
final class HostProcess: @unchecked Sendable {
    private var child: ChildProcess?
    /// The running binary (after `start`).
    var process: ChildProcess { child! }
    let configPath: String
    let logPath: String
    let port: Int

    static var binary: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("unrip-watch").path,
            URL(fileURLWithPath: TestDatabase.migrationsDirectory).deletingLastPathComponent().appendingPathComponent(".build/debug/unrip-watch").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }

    init(config: String, port: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        configPath = dir.appendingPathComponent("host.toml").path
        logPath = dir.appendingPathComponent("host.log").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        self.port = port
    }

    /// Starts `unrip-watch run`; with `fileLimit`, under `ulimit -n` of that many descriptors;
    /// `environment` adds variables (e.g. `NOTIFY_SOCKET`).
    func start(fileLimit: Int? = nil, environment extra: [String: String] = [:]) throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        defer { try? log.close() }
        var environment = ProcessInfo.processInfo.environment
        environment["UNRIP_HTTP_LISTEN"] = "127.0.0.1:\(port)"
        environment.merge(extra) { _, new in new }
        if let fileLimit {
            let script = "ulimit -n \(fileLimit) && exec \"$0\" run --config \"$1\""
            child = try ChildProcess("/bin/sh", ["-c", script, Self.binary, configPath], environment: environment, stdout: .file(log), stderr: .file(log))
        } else {
            child = try ChildProcess(Self.binary, ["run", "--config", configPath], environment: environment, stdout: .file(log), stderr: .file(log))
        }
    }

    /// A fresh process object for the same config (a Process runs once).
    func restarted() throws -> HostProcess {
        let next = try HostProcess(reusing: self)
        try next.start()
        return next
    }

    private init(reusing other: HostProcess) throws {
        configPath = other.configPath
        logPath = other.logPath
        port = other.port
    }

    func kill9() async {
        kill(process.processIdentifier, SIGKILL)
        _ = await process.exited()
    }

    /// SIGTERM, then the exit status (-1 when it did not exit within a minute).
    func terminate() async -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        guard await process.exited() else { return -1 }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
