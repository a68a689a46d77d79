import Foundation
import WatchTesting

/// A Kafka broker in its own process for the drills: noida-db (a real Kafka-protocol broker
/// that can be stopped and restarted with its data), one per test on a free port, when
/// `UNRIP_NOIDA_BIN` names its binary (`./scripts/test` installs it); else librdkafka's mock
/// cluster (`unrip-kafka-mock`). Topics are created when first produced to.
final class TestBroker: @unchecked Sendable {
    let bootstrap: String
    /// "noida-db" or "mock".
    let kind: String
    private var noida: ChildProcess?
    private let mock: KafkaMockProcess?
    private let dataDir: String
    private let port: Int

    static var noidaBinary: String? {
        ProcessInfo.processInfo.environment["UNRIP_NOIDA_BIN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    struct Failed: Error, CustomStringConvertible { let description: String }

    static func start(topics: [String]) async throws -> TestBroker {
        guard noidaBinary != nil else {
            let mock = try await KafkaMockProcess.start(topics: topics)
            return TestBroker(mock: mock)
        }
        let broker = TestBroker(port: try freePort())
        try await broker.resume()
        return broker
    }

    private init(mock: KafkaMockProcess) {
        self.mock = mock
        bootstrap = mock.bootstrap
        kind = "mock"
        dataDir = ""
        port = 0
    }

    private init(port: Int) {
        mock = nil
        self.port = port
        bootstrap = "127.0.0.1:\(port)"
        kind = "noida-db"
        dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("noida-\(UUID().uuidString)").path
    }

    var canRestart: Bool { mock == nil }

    /// Starts (or starts again, with the data it had) noida-db, and waits for its port.
    func resume() async throws {
        guard let binary = Self.noidaBinary else { return }
        let log = try FileHandle.forAppending(dataDir + ".log")
        defer { try? log.close() }
        noida = try ChildProcess(
            binary, ["start", "--data-dir", dataDir, "--host", "127.0.0.1", "--only", "kafka", "--kafka-port", String(port)],
            stdout: .file(log), stderr: .file(log))
        let accepting = await waitUntil(.seconds(20)) { LoopbackPort.canConnect(self.port) }
        guard accepting, noida?.isRunning == true else { throw Failed(description: "noida-db did not listen on \(port)") }
    }

    /// Stops noida-db (SIGTERM, waited for): the broker is down until `resume()`.
    func pause() async {
        guard let noida else { return }
        noida.terminate()
        if !(await noida.exited(within: .seconds(20))) { noida.killAndReap() }
        self.noida = nil
    }

    func stop() {
        mock?.stop()
        noida?.killAndReap()
        noida = nil
        if !dataDir.isEmpty { try? FileManager.default.removeItem(atPath: dataDir) }
    }
}

extension FileHandle {
    /// The file at `path` for appending, created when missing.
    static func forAppending(_ path: String) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        return handle
    }
}
