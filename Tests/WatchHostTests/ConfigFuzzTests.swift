import Foundation
import Testing
import WatchCore
import WatchHost
import WatchTesting

@Suite struct ConfigFuzzTests {
    /// Byte-level mutations of the shipped example config: every one loads or is refused with
    /// problems that name a key — never a crash.
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
        for i in 0..<40 {
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
