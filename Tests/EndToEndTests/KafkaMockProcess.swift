import Foundation

/// `unrip-kafka-mock` as a child process (librdkafka's Kafka-protocol mock cluster over TCP).
final class KafkaMockProcess: @unchecked Sendable {
    let process = Process()
    let bootstrap: String

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["UNRIP_KAFKA_MOCK_BIN"] { return path }
        return URL(fileURLWithPath: HostProcess.binary).deletingLastPathComponent().appendingPathComponent("unrip-kafka-mock").path
    }

    struct Failed: Error, CustomStringConvertible { let description: String }

    init(topics: [String]) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-mock-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = topics.flatMap { ["--topic", $0] }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var line = ""
        for _ in 0..<200 {
            line = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").first.map(String.init) ?? ""
            if !line.isEmpty { break }
            usleep(25_000)
        }
        guard !line.isEmpty else { throw Failed(description: "unrip-kafka-mock printed no bootstrap address") }
        bootstrap = line.trimmingCharacters(in: .whitespaces)
    }

    /// SIGKILL: a mock started from the test process may have SIGTERM blocked (inherited mask).
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
