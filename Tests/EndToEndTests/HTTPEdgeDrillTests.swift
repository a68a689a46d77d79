import BitcoinTesting
import Foundation
import JSONRPCClient
import Testing
import WatchCore
import WatchTesting

/// HTTP edges through the real binary: a client dripping header bytes is closed at
/// `[http] read_header_timeout_s` (the idle timer alone never fires for it), and a request the
/// parser refuses gets a JSON 400.
@Suite(.serialized) struct HTTPEdgeDrillTests {
    /// A blocking TCP connection with a short receive timeout.
    static func connectSocket(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            return nil
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Sends without SIGPIPE; false once the peer has closed.
    static func send(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// What arrived within the receive timeout; nil when the peer closed the connection.
    static func receive(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return nil }
        return n < 0 ? [] : Array(buffer.prefix(n))
    }

    @Test func aHeaderDripIsClosedAtTheDeadlineAndAnOversizedHeaderGetsAJSON400() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let config = KillDrillTests.config(db: db, double: double) + "\n[http]\nread_header_timeout_s = 2\nidle_timeout_s = 30\n"
        let host = try HostProcess(config: config, port: try freePort())
        try host.start()
        defer { Task { _ = await host.terminate() } }
        #expect(await waitUntil(.seconds(30)) {
            (try? await JSONRPCClient(.init(url: "http://127.0.0.1:\(host.port)", timeout: .seconds(5))).get("/healthz")) != nil
        }, "\(host.log.suffix(1500))")

        // A header byte every 300 ms keeps an idle timer from ever firing: the deadline closes it.
        let fd = try #require(Self.connectSocket(host.port))
        defer { close(fd) }
        #expect(Self.send(fd, "GET /healthz HTTP/1.1\r\nHost: drip\r\n"))
        let started = ContinuousClock.now
        var closed = false
        while !closed, ContinuousClock.now - started < .seconds(15) {
            if Self.receive(fd) == nil || !Self.send(fd, "X-Drip: 1\r\n") { closed = true }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(closed, "a header drip was held for 15 s")
        #expect(ContinuousClock.now - started >= .seconds(1), "closed before the deadline")

        // A header over the parser's 80 KiB limit: a JSON 400 naming the limit, then the close.
        let big = try #require(Self.connectSocket(host.port))
        defer { close(big) }
        _ = Self.send(big, "GET /healthz HTTP/1.1\r\nHost: big\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n")
        var reply: [UInt8] = []
        let until = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < until, let chunk = Self.receive(big) { reply += chunk }
        let text = String(decoding: reply, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 400"), "\(text.prefix(300))")
        #expect(text.contains("application/json") && text.contains(#""error":{"status":400"#) && text.contains("80 KiB"), "\(text.prefix(400))")

        // A normal client on a kept-alive connection is served twice.
        let keep = try #require(Self.connectSocket(host.port))
        defer { close(keep) }
        var served = 0
        for _ in 0..<2 {
            _ = Self.send(keep, "GET /healthz HTTP/1.1\r\nHost: ok\r\n\r\n")
            let end = ContinuousClock.now + .seconds(5)
            var got: [UInt8] = []
            while ContinuousClock.now < end, !String(decoding: got, as: UTF8.self).contains("\r\n\r\n{"), let chunk = Self.receive(keep) { got += chunk }
            if String(decoding: got, as: UTF8.self).hasPrefix("HTTP/1.1 200") { served += 1 }
        }
        #expect(served == 2)
        #expect(await host.terminate() == 0)
    }
}
