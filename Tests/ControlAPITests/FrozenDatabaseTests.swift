import ControlAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// A PostgreSQL that accepts connections and never answers (stopped by SIGSTOP, a dead
/// proxy): a TCP listener that never accepts stands in for it.
@Suite struct FrozenDatabaseTests {
    final class SilentListener: Sendable {
        let fd: Int32
        let port: Int
        struct Failed: Error {}

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(fd, 64) == 0 else { throw Failed() }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            self.fd = fd
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { close(fd) }
    }

    @Test("/healthz answers 503 within its deadline while PostgreSQL is frozen; /state answers too")
    func healthAnswersWhileTheDatabaseIsFrozen() async throws {
        let listener = try SilentListener()
        let pool = PostgresPool(url: "postgresql://unrip@127.0.0.1:\(listener.port)/unrip", size: 2, maxAttempts: 1)
        let checks = HealthChecks(pool: pool, schemaProblem: { nil })
        let surface = ControlSurface(plugins: [], controlToken: nil, routes: [
            HealthRoutes(plugins: [], checks: checks) { ["service": "test"] },
            ReadinessRoutes(plugins: [], checks: checks, chainAdapters: [], readinessPlugins: [], watchdog: nil, watchdogChains: []),
        ])
        let app = Application(router: surface.router())
        // The test itself is bounded: a hang fails it instead of hanging the suite.
        try await withDeadline(.seconds(60)) {
            try await app.test(.router) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<10 {
                        group.addTask {
                            try await client.execute(uri: "/healthz", method: .get) { r in
                                #expect(r.status == .serviceUnavailable)
                                #expect(String(buffer: r.body).contains("no answer within"), "\(String(buffer: r.body))")
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                try await client.execute(uri: "/state", method: .get) { r in
                    #expect(r.status == .ok)
                }
            }
        }
    }
}
