import Foundation
import WatchTesting

/// The child processes of the benchmark (PostgreSQL cluster, Kafka mock, host) and their cleanup.
/// Every pid is also written to `<work>/pids`, so `scripts/bench-e2e` can kill what a crashed
/// run left behind.
final class Children: @unchecked Sendable {
    let work: URL
    let repo: URL
    private let lock = NSLock()
    private var processes: [Process] = []
    private var pgDir: String?
    private var mockStdin: Pipe?

    init(work: URL, repo: URL) {
        self.work = work
        self.repo = repo
    }

    private func remember(_ p: Process) {
        lock.lock()
        processes.append(p)
        lock.unlock()
        if let h = FileHandle(forWritingAtPath: work.appendingPathComponent("pids").path) ?? {
            _ = FileManager.default.createFile(atPath: work.appendingPathComponent("pids").path, contents: nil)
            return FileHandle(forWritingAtPath: work.appendingPathComponent("pids").path)
        }() {
            h.seekToEndOfFile()
            h.write(Data("\(p.processIdentifier)\n".utf8))
            try? h.close()
        }
    }

    /// `scripts/lib/pg-cluster start DIR`: returns the URL it prints.
    func startPostgres() throws -> String {
        let dir = work.appendingPathComponent("pg").path
        let p = Process()
        p.executableURL = repo.appendingPathComponent("scripts/lib/pg-cluster")
        p.arguments = ["start", dir]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.standardError
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("pg-cluster start failed (\(p.terminationStatus))") }
        lock.lock()
        pgDir = dir
        lock.unlock()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `unrip-kafka-mock --control`: stdin stays open while we live (EOF stops the mock).
    /// librdkafka's mock broker holds the answer to a produce request that spans several
    /// partitions about 40 ms (its sockets keep Nagle's algorithm on; a real broker sets
    /// TCP_NODELAY: measured with kcat, 100 messages to 1 partition 12 ms, to 3 partitions
    /// 55 ms, with the client's Nagle off). One partition per topic keeps that artefact of
    /// the double out of what the benchmark measures.
    func startKafkaMock(binary: String, topics: [String], partitions: Int = 1) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["--control", "--partitions", String(partitions)] + topics.flatMap { ["--topic", $0] }
        let out = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardInput = input
        p.standardError = FileHandle.nullDevice
        try p.run()
        remember(p)
        lock.lock()
        mockStdin = input
        lock.unlock()
        var line: [UInt8] = []
        while true {
            let chunk = out.fileHandleForReading.readData(ofLength: 1)
            guard let byte = chunk.first else { throw BenchError("unrip-kafka-mock printed no address") }
            if byte == 0x0a { break }
            line.append(byte)
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// noida-db (a Kafka-protocol broker in its own process) on `port`, its data in the work
    /// dir; returns its bootstrap address once it accepts connections.
    func startNoida(binary: String, port: Int) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["start", "--data-dir", work.appendingPathComponent("noida").path, "--host", "127.0.0.1", "--only", "kafka", "--kafka-port", String(port)]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        remember(p)
        for _ in 0..<200 {
            if LoopbackPort.canConnect(port) { return "127.0.0.1:\(port)" }
            guard p.isRunning else { break }
            usleep(25_000)
        }
        throw BenchError("noida-db did not listen on \(port)")
    }

    /// `unrip-watch run --config FILE`, logging to `<work>/host.log`.
    func startHost(binary: String, config: String, httpPort: Int, name: String = "host", environment: [String: String] = [:]) throws -> Process {
        let configPath = work.appendingPathComponent("\(name).toml").path
        let logPath = work.appendingPathComponent("\(name).log").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["run", "--config", configPath]
        var env = ProcessInfo.processInfo.environment
        env["UNRIP_HTTP_LISTEN"] = "127.0.0.1:\(httpPort)"
        env.merge(environment) { _, new in new }
        p.environment = env
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        remember(p)
        return p
    }

    /// SIGTERM every child (SIGKILL after 5 s), then stops and deletes the PostgreSQL cluster.
    func cleanup() {
        lock.lock()
        let procs = processes
        processes = []
        let dir = pgDir
        pgDir = nil
        let stdin = mockStdin
        mockStdin = nil
        lock.unlock()
        try? stdin?.fileHandleForWriting.close()
        for p in procs.reversed() where p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while p.isRunning && Date() < deadline { usleep(20_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        if let dir {
            let p = Process()
            p.executableURL = repo.appendingPathComponent("scripts/lib/pg-cluster")
            p.arguments = ["stop", dir]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try? p.run()
            p.waitUntilExit()
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Wall-clock seconds (comparable with PostgreSQL's now() on the same machine).
@inline(__always) func wallNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// The value of `"tx_hash"` in a JSON object's bytes, without a full parse.
func txHash(in json: [UInt8]) -> String? {
    let needle = Array("\"tx_hash\"".utf8)
    guard json.count > needle.count else { return nil }
    var i = 0
    outer: while i + needle.count <= json.count {
        for j in 0..<needle.count where json[i + j] != needle[j] {
            i += 1
            continue outer
        }
        var k = i + needle.count
        while k < json.count, json[k] == 0x20 || json[k] == 0x3a { k += 1 }  // spaces and the colon
        guard k < json.count, json[k] == 0x22 else { return nil }
        let start = k + 1
        var end = start
        while end < json.count, json[end] != 0x22 { end += 1 }
        return String(decoding: json[start..<end], as: UTF8.self)
    }
    return nil
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let idx = min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))
    return sorted[idx]
}
