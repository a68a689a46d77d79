import Foundation
import Synchronization

/// Whether something accepts TCP connections on a loopback port: how the doubles wait until
/// their servers listen.
public enum LoopbackPort {
    public static func canConnect(_ port: Int) -> Bool {
        withSocket(to: port) { fd, address, length in connect(fd, address, length) == 0 }
    }

    /// Whether a socket without `SO_REUSEADDR` can bind `port` on loopback now: nothing listens
    /// there, and no connection (not even one in TIME_WAIT) holds it.
    static func canBind(_ port: Int) -> Bool {
        withSocket(to: port) { fd, address, length in bind(fd, address, length) == 0 }
    }

    /// A new TCP socket and 127.0.0.1:`port` for `body`; the socket is closed after it.
    private static func withSocket(to port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    public struct NoFreePort: Error, CustomStringConvertible {
        public var description: String { "no free loopback port" }
    }
}

/// A free TCP port on loopback for a test's server: below the kernel's ephemeral range, and never
/// handed out twice in this process.
///
/// The kernel takes its ephemeral ports for every `bind` to port 0 (a ZMQ publisher's
/// `tcp://127.0.0.1:*`) and for the local end of every outgoing connection. A server a drill
/// stops and starts again on the same port (a Kafka broker, a host, PostgreSQL) would lose that
/// port, while it is down, to any of them: a CI run failed when another test's ZMQ publisher took
/// the port of a broker stopped by its drill, and the restarted clients talked ZMTP. Ports below
/// the range are only ever taken by an explicit bind, and each is given out once.
public func freePort() throws -> Int {
    let candidates = TestPortRange.current
    for _ in 0..<candidates.count {
        let port = TestPortRange.next.withLock { n in
            defer { n += 1 }
            return candidates.lowerBound + n % candidates.count
        }
        if LoopbackPort.canBind(port) { return port }
    }
    throw LoopbackPort.NoFreePort()
}

/// The ports `freePort()` hands out.
enum TestPortRange {
    /// Up to 16,384 ports just below the kernel's ephemeral range (`ip_local_port_range`), not
    /// below 1,024.
    static let current: Range<Int> = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let low = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
        let top = max(min(low, 65_536), 2_048)
        return max(1_024, top - 16_384)..<top
    }()
    /// The next candidate, from a start of this process's own, so that test processes running
    /// side by side rarely try the same ports.
    static let next = Mutex<Int>(Int(getpid()) &* 7_919 % 16_384)
}
