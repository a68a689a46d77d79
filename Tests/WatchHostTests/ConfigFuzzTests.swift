import Foundation
import Testing
import WatchCore
import WatchHost
import WatchTesting

@Suite struct ConfigFuzzTests {
    /// Byte-level mutations of the shipped example config: every one loads or is refused with
    /// problems that name a key — never a crash.
    @Test func tableHeadersThatTomlPlusPlusAssertsOnAreRefused() throws {
        for text in ["[,a]", "[[,a]]", "[ ,a]", "[=x]\n", "[[\t.x]]", "a = 1\n  [ ,b]"] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("hdr-\(UUID()).toml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let report = HostCommands.checkConfig(path: path, environment: [:])
            #expect(!report.ok && report.output.contains("must start with a key name"), "\(text): \(report.output)")
        }
        // Values and strings that merely contain such text are not headers.
        let fine = "[database]\nurl = \"[,x]\"\n# [,comment]\n[bitcoin]\nenabled = false\nhandles = [\n  { address = \"[,y]\" },\n]\n"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hdr-ok-\(UUID()).toml").path
        try fine.write(toFile: path, atomically: true, encoding: .utf8)
        let report = HostCommands.checkConfig(path: path, environment: [:])
        #expect(report.ok, "\(report.output)")
    }

    @Test(arguments: 0..<8)
    func mutatedConfigsAreAcceptedOrRefusedCleanly(seed: UInt64) throws {
        let root = URL(fileURLWithPath: TestDatabase.migrationsDirectory).deletingLastPathComponent()
        let original = try [UInt8](Data(contentsOf: root.appendingPathComponent("config/example.toml")))
        var rng = seed | 1
        func next(_ n: Int) -> Int {
            rng ^= rng << 13
            rng ^= rng >> 7
            rng ^= rng << 17
            return Int(rng % UInt64(n))
        }
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
            let report = HostCommands.checkConfig(path: path, environment: [:])
            if !report.ok {
                #expect(report.output.contains("config error:"), "\(report.output)")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
