import Foundation
import Testing
import WatchTesting

/// The ports tests give their servers: a server stopped and started again on its port (a drill's
/// Kafka broker, a host, PostgreSQL) must find it free, so no port the kernel picks on its own
/// (a `bind` to port 0, as a ZMQ publisher's `tcp://127.0.0.1:*`, or the local end of a
/// connection) may ever be one of them.
struct FreePortTests {
    @Test func portsAreBelowTheKernelsEphemeralRangeAndNeverRepeat() throws {
        let range = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
            .split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        try #require(range.count == 2)
        var seen: Set<Int> = []
        for _ in 0..<500 {
            let port = try freePort()
            #expect(!(range[0]...range[1]).contains(port), "port \(port) is one the kernel may hand to a bind to port 0")
            #expect(seen.insert(port).inserted, "port \(port) handed out twice")
        }
    }

    @Test func aPortTheKernelPicksIsNeverAStoppedServersPort() throws {
        let reserved = try freePort()  // a server's port while the server is down: nothing bound
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        for _ in 0..<1_000 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
            }
            sockets.append(fd)
            guard bound else { continue }
            #expect(Int(UInt16(bigEndian: addr.sin_port)) != reserved)
        }
    }
}
