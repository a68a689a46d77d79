import Foundation
import WatchTesting

/// `unrip-kafka-mock` as a child process (librdkafka's Kafka-protocol mock cluster over TCP).
final class KafkaMockProcess: @unchecked Sendable {
    private var child: ChildProcess?
    var process: ChildProcess { child! }
    private(set) var bootstrap = ""
    private let outPath: String

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["UNRIP_KAFKA_MOCK_BIN"] { return path }
        return URL(fileURLWithPath: HostProcess.binary).deletingLastPathComponent().appendingPathComponent("unrip-kafka-mock").path
    }

    struct Failed: Error, CustomStringConvertible { let description: String }

    static func start(topics: [String]) async throws -> KafkaMockProcess {
        let mock = try KafkaMockProcess(topics: topics)
        var line = ""
        for _ in 0..<200 {
            line = ((try? String(contentsOfFile: mock.outPath, encoding: .utf8)) ?? "").split(separator: "\n").first.map(String.init) ?? ""
            if !line.isEmpty { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        guard !line.isEmpty else { throw Failed(description: "unrip-kafka-mock printed no bootstrap address") }
        mock.bootstrap = line.trimmingCharacters(in: .whitespaces)
        return mock
    }

    private init(topics: [String]) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-mock-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        defer { try? output.close() }
        outPath = out
        child = try ChildProcess(Self.binary, topics.flatMap { ["--topic", $0] }, stdout: .file(output))
    }

    /// SIGKILL, reaped on a thread of its own (a `defer` cannot await, and a blocking wait
    /// would hold a thread of the concurrency pool).
    func stop() {
        process.killAndReap()
    }
}
