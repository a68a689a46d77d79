import Foundation
import Testing
import WatchCore
import WatchTesting

/// Hostile config files through the real binary (`unrip-watch check-config` and `run`): byte
/// mutations, deep nesting, long and NUL-laden values, invalid UTF-8, misspelled secret keys.
/// Each exits in time with a message (0 valid, 2 a config error, 1 a failure such as an
/// unreachable database), never dies of a signal, never prints a secret.
@Suite(.serialized) struct ConfigFileDrillTests {
    static let secrets = ["db-s3cret-77", "tok-s3cret-77", "kfk-s3cret-77", "brg-s3cret-77"]

    static let base = """
        [database]
        url = "postgresql://watch:db-s3cret-77@127.0.0.1:1/none"
        [control]
        token = "tok-s3cret-77"
        [kafka]
        brokers = ["127.0.0.1:1"]
        [kafka.properties]
        "sasl.password" = "kfk-s3cret-77"
        "sasl.jaas.config" = "org.apache.kafka.common.security.plain.PlainLoginModule required password=\\"kfk-s3cret-77\\";"
        [bridge]
        enabled = true
        rpc_url = "https://operator:brg-s3cret-77@bridge.example/rpc?apikey=brg-s3cret-77"
        accounts = ["solver.near"]
        [bitcoin]
        enabled = true
        network = "regtest"
        rpc_password = "db-s3cret-77"
        handles = [{ address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080" }]
        """

    /// One variant per kind of damage, then random byte edits.
    static func variants(_ count: Int, seed: UInt64) -> [[UInt8]] {
        let text = Array(base.utf8)
        var out: [[UInt8]] = [
            Array((base + "\n[" + Array(repeating: "a", count: 10_000).joined(separator: ".") + "]\n").utf8),
            Array((base + "\nx = " + String(repeating: "[", count: 50_000) + "\n").utf8),
            Array(base.replacingOccurrences(of: "rpc_password", with: "rpc_pasword").utf8),
            Array(base.replacingOccurrences(of: "\"tok-s3cret-77\"", with: "1979-05-27T07:32:00Z").utf8),
            Array((base + "\nlong = \"" + String(repeating: "é", count: 200_000) + "\"\n").utf8),
            text + [0x0a, 0x78, 0x3d, 0x22, 0x00, 0x22, 0x0a],
            text + [0x0a, 0xff, 0xfe, 0xc3, 0x28, 0x0a],
            Array(base.replacingOccurrences(of: "[bridge]", with: "[bridge]\nenabled = \"yes\"\nenabled = true").utf8),
            Array(base.replacingOccurrences(of: "\"sasl.password\"", with: "\"sasl.pasword\"").utf8),
        ]
        var rng = SeededGenerator(seed: seed)
        let alphabet = Array("[]{}=\"'#,.\n 0123456789-_:/\\\u{7f}".utf8) + [0x00, 0xff]
        while out.count < count {
            var bytes = text
            for _ in 0..<(1 + Int(rng.next() % 5)) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                }
            }
            out.append(bytes)
        }
        return out
    }

    static func run(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> (status: Int32, reason: Process.TerminationReason, output: String)? {
        var environment = ProcessInfo.processInfo.environment
        environment["UNRIP_DATABASE_STARTUP_TIMEOUT_S"] = "0"
        environment.merge(extra) { _, new in new }
        let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-out-\(UUID())").path
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let process = try ChildProcess(HostProcess.binary, arguments, environment: environment, stdout: .file(out), stderr: .file(out))
        try? out.close()
        guard await process.exited(within: .seconds(20)) else {
            process.killAndReap()
            return nil
        }
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        return (process.terminationStatus, process.terminationReason, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "<not UTF-8>")
    }

    @Test func hostileConfigFilesAreRefusedCleanlyByTheRealBinary() async throws {
        let count = Int(ProcessInfo.processInfo.environment["UNRIP_HOSTILE_CONFIGS"] ?? "") ?? 40
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-drill-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, bytes) in Self.variants(count, seed: 0xC0F1).enumerated() {
            let path = dir.appendingPathComponent("v\(i).toml").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            // check-config for every variant; `run` for the first ones (it stops at the config or the database).
            for arguments in [["check-config", path]] + (i < 9 ? [["run", "--config", path]] : []) {
                guard let result = try await Self.run(arguments) else {
                    Issue.record("\(arguments[0]) hung on variant \(i)")
                    continue
                }
                #expect(result.reason == .exit, "\(arguments[0]) died of signal \(result.status) on variant \(i)")
                #expect([0, 1, 2].contains(result.status), "\(arguments[0]) exited \(result.status) on variant \(i): \(result.output.suffix(400))")
                #expect(!result.output.isEmpty, "\(arguments[0]) said nothing on variant \(i)")
                for secret in Self.secrets {
                    #expect(!result.output.contains(secret), "\(arguments[0]) printed a secret on variant \(i): \(result.output.prefix(600))")
                }
            }
        }
    }
}
