import Foundation
import Testing
import WatchCore
import UnripAdapters
import WatchHost
import WatchTesting

@Suite struct ConfigFuzzTests {
    /// Byte-level mutations of the shipped example config: every one loads or is refused with
    /// problems that name a key — never a crash.
    @Test func tableHeadersThatTomlPlusPlusAssertsOnAreRefused() throws {
        for text in ["[,a]", "[[,a]]", "[ ,a]", "[=x]\n", "[[\t.x]]", "a = 1\n  [ ,b]"] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("hdr-\(UUID()).toml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let report = HostCommands.checkConfig(path: path, environment: [:], registry: registeredAdapters)
            #expect(!report.ok && report.output.contains("must start with a key name"), "\(text): \(report.output)")
        }
        // Values and strings that merely contain such text are not headers.
        let fine = "[database]\nurl = \"[,x]\"\n# [,comment]\n[bitcoin]\nenabled = false\nhandles = [\n  { address = \"[,y]\" },\n]\n"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hdr-ok-\(UUID()).toml").path
        try fine.write(toFile: path, atomically: true, encoding: .utf8)
        let report = HostCommands.checkConfig(path: path, environment: [:], registry: registeredAdapters)
        #expect(report.ok, "\(report.output)")
    }

    @Test(arguments: 0..<8)
    func mutatedConfigsAreAcceptedOrRefusedCleanly(seed: UInt64) throws {
        let root = URL(fileURLWithPath: TestDatabase.migrationsDirectory).deletingLastPathComponent()
        let original = try [UInt8](Data(contentsOf: root.appendingPathComponent("config/example.toml")))
        // The suite's one seeded generator. (The crash once blamed on its inputs was
        // Foundation's Process.run on Linux, swift-corelibs-foundation#5472: tests now spawn
        // with posix_spawn, WatchTesting.ChildProcess.)
        var rng = SeededGenerator(seed: seed)
        func next(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        var refused = 0
        let alphabet = Array("[]{}=\"'#,.\n 0123456789abcxyz-_:/".utf8)
        for i in 0..<80 {
            var bytes = original
            for _ in 0..<(1 + next(6)) {
                let at = next(bytes.count)
                switch next(3) {
                case 0: bytes[at] = alphabet[next(alphabet.count)]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[next(alphabet.count)], at: at)
                }
            }
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(seed)-\(i).toml").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let report = HostCommands.checkConfig(path: path, environment: [:], registry: registeredAdapters)
            // The same file gets the same verdict and the same words (no order of a dictionary
            // or a clock in them), and every refusal names a key (or a line) for each problem.
            let again = HostCommands.checkConfig(path: path, environment: [:], registry: registeredAdapters)
            #expect(report.ok == again.ok && report.output == again.output, "two readings of one file differ: \(report.output)")
            if !report.ok {
                refused += 1
                let problems = report.output.split(separator: "\n").filter { $0.hasPrefix("config error: ") }
                #expect(!problems.isEmpty, "\(report.output)")
                for line in problems { #expect(line.dropFirst("config error: ".count).first.map { $0 != " " && $0 != ":" } == true, "\(line)") }
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        // Random bytes in TOML break it more often than not: a loader accepting everything fails here.
        #expect(refused >= 10, "only \(refused) of 80 mutated configs refused")
    }
}
