import BitcoinTesting
import Foundation
import JSONRPCClient
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// PostgreSQL restarted under a running host while deposits flow: nothing lost, nothing doubled.
@Suite(.serialized) struct DatabaseRestartDrillTests {
    /// Runs scripts/lib/pg-cluster; its output goes through a file (a pipe would stay open in
    /// the server it starts), and the wait is bounded.
    static func cluster(_ args: String...) async throws -> String {
        let root = URL(fileURLWithPath: TestDatabase.migrationsDirectory).deletingLastPathComponent()
        let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("pgc-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let p = try ChildProcess(root.appendingPathComponent("scripts/lib/pg-cluster").path, args, stdout: .file(output))
        try? output.close()
        guard await p.exited(within: .seconds(60)), p.terminationStatus == 0 else {
            if p.isRunning { p.terminate() }
            throw DrillError(description: "pg-cluster \(args) failed or hung")
        }
        return ((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
    struct DrillError: Error, CustomStringConvertible { let description: String }

    /// Runs `body` with a private cluster (its URL and directory), stopped and deleted after,
    /// whatever `body` did.
    static func withCluster(_ body: (String, String) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-pgdrill-\(UUID().uuidString)").path
        let url = try await Self.cluster("start", dir)
        do {
            try await body(url, dir)
        } catch {
            _ = try? await Self.cluster("stop", dir)
            throw error
        }
        _ = try? await Self.cluster("stop", dir)
    }

    @Test func databaseRestartMidStreamLosesNothing() async throws {
        try await Self.withCluster { url, dir in try await Self.drill(url: url, dir: dir) }
    }

    static func drill(url: String, dir: String) async throws {
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let config = KillDrillTests.config(db: TestDatabase(url: url, name: "postgres", pool: PostgresPool(url: url)), double: double)
        let host = try HostProcess(config: config, port: try freePort())
        try host.start()
        let pool = PostgresPool(url: url, size: 1, maxAttempts: 20)
        let repository = FundingRepository(pool: pool)
        var paid: [String] = []
        for _ in 0..<4 { paid.append(double.pay(script: KillDrillTests.script, sats: 10_000, change: 100).txid) }
        double.mine(1)
        #expect(await waitUntil(.seconds(30)) { ((try? await repository.listObservations(.init()))?.count ?? 0) == 4 })
        // Restart the database while more deposits arrive.
        _ = try await Self.cluster("restart", dir)
        for _ in 0..<4 {
            paid.append(double.pay(script: KillDrillTests.script, sats: 20_000, change: 100).txid)
            double.mine(1)
        }
        double.mine(2)
        let settled = await waitUntil(.seconds(60)) {
            let rows = (try? await repository.listObservations(ObservationFilter(limit: 100))) ?? []
            return rows.count == paid.count && rows.allSatisfy { $0.state == "SEEN_CONFIRMED" }
        }
        #expect(settled, "\(host.log.suffix(2000))")
        let rows = try await repository.listObservations(ObservationFilter(limit: 100))
        #expect(Set(rows.map(\.txHash)) == Set(paid) && rows.count == paid.count)
        #expect(host.log.contains("PostgreSQL connection lost; retrying") || host.log.contains("failed"), "the host noticed the restart")
        #expect(await host.terminate() == 0)
    }

    /// The host started before its database: it waits, logging each attempt, and starts when
    /// PostgreSQL comes; with nothing coming it gives up after startup_timeout_s, naming it.
    @Test func hostStartedBeforeItsDatabaseWaitsForIt() async throws {
        try await Self.withCluster { url, dir in
            _ = try await Self.cluster("halt", dir)
            try await Self.waitForDatabase(url: url, dir: dir)
        }
    }

    static func waitForDatabase(url: String, dir: String) async throws {
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let db = TestDatabase(url: url, name: "postgres", pool: PostgresPool(url: url))
        func config(timeout: Int) -> String {
            KillDrillTests.config(db: db, double: double).replacingOccurrences(of: "[database]\n", with: "[database]\nstartup_timeout_s = \(timeout)\n")
        }
        let giving = try HostProcess(config: config(timeout: 2), port: try freePort())
        try giving.start()
        #expect(await giving.process.exited(within: .seconds(30)))
        #expect(giving.process.terminationStatus != 0)
        #expect(giving.log.contains("did not answer within 2.0 seconds ([database] startup_timeout_s)"), "\(giving.log.suffix(1500))")

        let host = try HostProcess(config: config(timeout: 120), port: try freePort())
        try host.start()
        #expect(await waitUntil(.seconds(30)) { host.log.contains("PostgreSQL not reachable yet; retrying") }, "\(host.log.suffix(1500))")
        #expect(host.process.isRunning)
        // Meanwhile the port answers: live, not ready, saying why.
        let client = JSONRPCClient(.init(url: "http://127.0.0.1:\(host.port)", timeout: .seconds(5)))
        #expect(await waitUntil(.seconds(10)) { (try? await client.get("/livez")) != nil })
        do {
            _ = try await client.get("/readyz")
            Issue.record("/readyz answered 200 while PostgreSQL was down")
        } catch {
            guard case .http(let status, let body) = error else { throw error }
            #expect(status == 503 && body.contains("waiting for PostgreSQL"), "\(body)")
        }
        // Clients connected to the startup surface when it stops (queued, idle, mid-request) must
        // neither crash the host nor hold it: cancelling a NIO server with queued connections traps.
        let idle = (0..<40).compactMap { _ in ConnectionFloodTests.idleConnection(host.port) }
        defer { idle.forEach { close($0) } }
        let pollers = Task {
            while !Task.isCancelled { _ = try? await client.get("/livez") }
        }
        defer { pollers.cancel() }
        _ = try await Self.cluster("restart", dir)
        #expect(await waitUntil(.seconds(60)) { host.log.contains("control surface listening") }, "\(host.log.suffix(1500))")
        #expect(host.process.isRunning && !host.log.contains("Fatal error"), "\(host.log.suffix(1500))")
        #expect(await waitUntil(.seconds(30)) { (try? await client.get("/readyz")) != nil }, "ready once PostgreSQL answers and the adapter runs")
        #expect((try? await client.get("/livez")) != nil)
        #expect(host.log.contains("PostgreSQL answers; starting"))
        #expect(!host.log.contains("password"))
        #expect(await host.terminate() == 0)
    }
}
