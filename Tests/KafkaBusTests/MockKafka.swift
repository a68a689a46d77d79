import Foundation
import WatchTesting
import Testing

/// The `unrip-kafka-mock` process (librdkafka's mock cluster), spoken to over TCP.
final class MockKafka: @unchecked Sendable {
    let bootstrap: String
    private let process: ChildProcess
    private let input: FileHandle
    private let reader: LineReader

    struct NotFound: Error, CustomStringConvertible {
        var description: String { "unrip-kafka-mock not found next to the test bundle; run swift build first (or set UNRIP_KAFKA_MOCK_BIN)" }
    }

    static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["UNRIP_KAFKA_MOCK_BIN"] { return path }
        var dirs = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        dirs.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for dir in dirs {
            let candidate = dir.appendingPathComponent("unrip-kafka-mock").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw NotFound()
    }

    static func start(topics: [String] = []) async throws -> MockKafka {
        let stdin = Pipe(), stdout = Pipe()
        let process = try ChildProcess(try binary(), ["--control"] + topics.flatMap { ["--topic", $0] }, stdin: .pipe(stdin), stdout: .pipe(stdout))
        let reader = LineReader(stdout.fileHandleForReading)
        let first = try await reader.next()
        return MockKafka(bootstrap: first, process: process, input: stdin.fileHandleForWriting, reader: reader)
    }

    private init(bootstrap: String, process: ChildProcess, input: FileHandle, reader: LineReader) {
        self.bootstrap = bootstrap
        self.process = process
        self.input = input
        self.reader = reader
    }

    /// Sends one control command (`down`, `up`, `topic NAME N`) and returns its reply.
    @discardableResult
    func command(_ line: String) async throws -> String {
        input.write(Data((line + "\n").utf8))
        let reply = try await reader.next()
        #expect(reply.hasPrefix("ok"), "mock command \(line): \(reply)")
        return reply
    }

    /// Ends the mock (it exits when its stdin closes, SIGTERM besides), reaped on a thread of
    /// its own (a blocking wait would hold a thread of the concurrency pool).
    func stop() {
        try? input.close()
        process.killAndReap(SIGTERM)
    }
}

/// Reads lines from a pipe on a dispatch queue (blocking reads stay off the cooperative pool).
final class LineReader: @unchecked Sendable {
    private let handle: FileHandle
    private var buffer = Data()
    private let queue = DispatchQueue(label: "mock-kafka-reader")

    struct Closed: Error {}

    init(_ handle: FileHandle) { self.handle = handle }

    func next() async throws -> String {
        try await withCheckedThrowingContinuation { c in
            queue.async {
                while true {
                    if let nl = self.buffer.firstIndex(of: 0x0A) {
                        let line = String(decoding: self.buffer[self.buffer.startIndex..<nl], as: UTF8.self)
                        self.buffer.removeSubrange(self.buffer.startIndex...nl)
                        c.resume(returning: line)
                        return
                    }
                    let chunk = self.handle.availableData
                    if chunk.isEmpty {
                        c.resume(throwing: Closed())
                        return
                    }
                    self.buffer.append(chunk)
                }
            }
        }
    }
}
