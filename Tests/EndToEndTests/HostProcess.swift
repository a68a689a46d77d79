import Foundation
import WatchTesting

/// The real `unrip-watch` binary, run as a child process the way an operator runs it.
final class HostProcess: @unchecked Sendable {
    let process = Process()
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
        if let fileLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(fileLimit) && exec \"$0\" run --config \"$1\"", Self.binary, configPath]
        } else {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = ["run", "--config", configPath]
        }
        var environment = ProcessInfo.processInfo.environment
        environment["UNRIP_HTTP_LISTEN"] = "127.0.0.1:\(port)"
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        try spawn(process)
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
