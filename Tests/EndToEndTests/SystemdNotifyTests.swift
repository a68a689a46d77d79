import BitcoinTesting
import Foundation
import JSONRPCClient
import Testing
import WatchTesting

/// `Type=notify`: the real binary tells systemd `READY=1` once migrated and serving, pings
/// `WATCHDOG=1` when `WATCHDOG_USEC` is set, and says `STOPPING=1` when SIGTERM starts the drain.
@Suite struct SystemdNotifyTests {
    /// A bound AF_UNIX datagram socket standing in for systemd's notify socket.
    final class NotifySocket: @unchecked Sendable {
        let fd: Int32
        let path: String

        init() throws {
            path = "/tmp/unrip-notify-\(UUID().uuidString.prefix(8)).sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, b) in path.utf8.enumerated() { raw[i] = b }
            }
            let bound = withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard fd >= 0, bound == 0 else { throw BindFailed(path: path, errno: errno) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }

        struct BindFailed: Error {
            let path: String
            let errno: Int32
        }

        /// Every datagram received so far.
        func drain() -> [String] {
            var out: [String] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { return out }
                out.append(String(decoding: buffer[0..<n], as: UTF8.self))
            }
        }

        deinit {
            close(fd)
            unlink(path)
        }
    }

    static func live(_ port: Int) async -> Bool {
        (try? await JSONRPCClient(.init(url: "http://127.0.0.1:\(port)", timeout: .seconds(5))).get("/livez")) != nil
    }

    @Test func readyThenWatchdogPingsThenStoppingOnSIGTERM() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        let notify = try NotifySocket()
        let host = try HostProcess(config: KillDrillTests.config(db: db, double: double), port: try freePort())
        try host.start(environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        var messages: [String] = []
        #expect(await waitUntil(.seconds(60)) { messages += notify.drain(); return messages.contains { $0.hasPrefix("READY=1") } }, "\(messages)\n\(host.log.suffix(1500))")
        // Ready only once the port answers (it was bound before READY=1 was sent).
        #expect(await Self.live(host.port))
        #expect(await waitUntil(.seconds(10)) { messages += notify.drain(); return messages.filter { $0 == "WATCHDOG=1" }.count >= 2 }, "\(messages)")
        #expect(!messages.contains("STOPPING=1"))
        #expect(await host.terminate() == 0)
        messages += notify.drain()
        let stopping = messages.firstIndex(of: "STOPPING=1"), readyAt = messages.firstIndex { $0.hasPrefix("READY=1") }
        #expect(stopping != nil && readyAt != nil && readyAt! < stopping!, "\(messages)")
    }

    @Test func withoutNotifySocketNothingIsSentAndTheHostRunsAsBefore() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        let host = try HostProcess(config: KillDrillTests.config(db: db, double: double), port: try freePort())
        try host.start(environment: ["WATCHDOG_USEC": "400000"])
        #expect(await waitUntil(.seconds(60)) { await Self.live(host.port) })
        #expect(await host.terminate() == 0)
        #expect(!host.log.contains("sd_notify failed"))
    }
}
