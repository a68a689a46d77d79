import BitcoinTesting
import EVMTesting
import Foundation
import JSONRPCClient
import Testing
import WatchCore
import WatchTesting

/// Clients that connect and say nothing, more of them than the host has descriptors for: the
/// host stays up, drops idle connections after `[http] idle_timeout_s`, and answers again.
@Suite(.serialized) struct ConnectionFloodTests {
    /// A TCP connection to 127.0.0.1:`port` that never sends anything (nil if refused).
    static func idleConnection(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 && errno != EINPROGRESS {
            close(fd)
            return nil
        }
        return fd
    }

    static func raiseOwnFileLimit() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    @Test func idleConnectionsBeyondTheDescriptorsNeitherCrashNorWedgeTheHost() async throws {
        Self.raiseOwnFileLimit()
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let config = KillDrillTests.config(db: db, double: double) + "\n[http]\nidle_timeout_s = 2\nread_header_timeout_s = 2\n"
        let host = try HostProcess(config: config, port: try freePort())
        try host.start(fileLimit: 1024)
        /// Each check on a connection of its own (a kept-alive one would not show that new
        /// clients are served).
        func healthy() async -> Bool {
            (try? await JSONRPCClient(.init(url: "http://127.0.0.1:\(host.port)", timeout: .seconds(5))).get("/healthz")) != nil
        }
        #expect(await waitUntil(.seconds(30)) { await healthy() }, "\(host.log.suffix(1500))")

        var idle: [Int32] = []
        for _ in 0..<1_100 { if let fd = Self.idleConnection(host.port) { idle.append(fd) } }
        defer { idle.forEach { close($0) } }
        // Held on for 12 s (the unbounded host stopped answering within 5 s and died within
        // 10): past the idle timeout the host closes them, takes the next, and keeps answering.
        let window = ContinuousClock.now + .seconds(12)
        var answered = 0, failed = 0
        while ContinuousClock.now < window {
            if await healthy() { answered += 1 } else { failed += 1 }
        }
        #expect(answered >= 3, "answered \(answered), failed \(failed)\n\(host.log.suffix(1500))")
        #expect(host.process.isRunning, "the host died under 1,100 idle connections\n\(host.log.suffix(1500))")
        idle.forEach { close($0) }
        idle = []
        #expect(await waitUntil(.seconds(10)) { await healthy() })
        #expect(host.process.isRunning)

        // 300 clients dripping header bytes under the same limit: /livez keeps answering and the
        // drippers are closed at read_header_timeout_s (the idle timer never fires for them).
        var drippers = (0..<300).compactMap { _ in HTTPEdgeDrillTests.connectSocket(host.port) }
        defer { drippers.forEach { close($0) } }
        for fd in drippers { _ = HTTPEdgeDrillTests.send(fd, "GET /healthz HTTP/1.1\r\nHost: drip\r\n") }
        let live = { (try? await JSONRPCClient(.init(url: "http://127.0.0.1:\(host.port)", timeout: .seconds(5))).get("/livez")) != nil }
        var liveAnswers = 0
        let dripUntil = ContinuousClock.now + .seconds(8)
        while ContinuousClock.now < dripUntil {
            drippers = drippers.filter { fd in
                guard HTTPEdgeDrillTests.send(fd, "X-Drip: 1\r\n") else {
                    close(fd)
                    return false
                }
                return true
            }
            if await live() { liveAnswers += 1 }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(liveAnswers >= 3, "/livez answered \(liveAnswers) times beside 300 drippers")
        #expect(drippers.count < 300, "no dripping client was closed within 8 s (read_header_timeout_s = 2)")
        #expect(!host.log.contains("Fatal error"))
        #expect(await host.terminate() == 0)
    }

    /// ~700 idle clients against a host under `ulimit -n 512` (its HTTP cap is what the reserve
    /// leaves: 256), then all gone at once: the host answers a new client within a few seconds,
    /// every time. Measured: the slowest of the first answers after each flood is printed.
    @Test func afterAFloodOfIdleClientsANewClientIsAnsweredWithinSeconds() async throws {
        Self.raiseOwnFileLimit()
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        // Every plugin on: PostgreSQL, Kafka, ZMQ and the RPC clients take descriptors too.
        let bridge = try await POABridgeDouble.start()
        defer { bridge.stop() }
        let kafka = try await TestBroker.start(topics: InputBrokerTimingDrillTests.topics)
        defer { kafka.stop() }
        let evm = EVMNodeDouble(chain: EVMChainModel(chainId: 100, tip: 100))
        let evmURL = try await evm.start()
        defer { Task { await evm.stop() } }
        let config = HostileInputDrillTests.config(db: db, double: double, bridge: bridge, evm: evmURL, kafka: kafka.bootstrap)
        let host = try HostProcess(config: config, port: try freePort())
        try host.start(fileLimit: 512)
        defer { Task { _ = await host.terminate() } }
        func answered(within limit: Duration) async -> Bool {
            (try? await JSONRPCClient(.init(url: "http://127.0.0.1:\(host.port)", timeout: limit)).get("/healthz")) != nil
        }
        #expect(await waitUntil(.seconds(30)) { await answered(within: .seconds(5)) }, "\(host.log.suffix(1500))")
        var slowest = Duration.zero
        for round in 0..<3 {
            var idle: [Int32] = []
            for _ in 0..<700 { if let fd = Self.idleConnection(host.port) { idle.append(fd) } }
            // Held a while: the host takes what it can hold, the rest wait in the listen queue.
            try await Task.sleep(for: .seconds(3))
            idle.forEach { close($0) }
            let closed = ContinuousClock.now
            var ok = false
            while !ok, ContinuousClock.now - closed < .seconds(30) { ok = await answered(within: .seconds(30)) }
            let took = ContinuousClock.now - closed
            slowest = max(slowest, took)
            print("flood round \(round): /healthz answered \(took) after 700 idle clients closed")
            #expect(ok && took < .seconds(5), "round \(round): \(took)\n\(host.log.suffix(1000))")
        }
        print("flood: slowest first answer after the clients closed: \(slowest)")
        #expect(host.process.isRunning)
    }
}
