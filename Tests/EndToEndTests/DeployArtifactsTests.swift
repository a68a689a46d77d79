import BitcoinTesting
import EVMTesting
import Foundation
import JSONRPCClient
import Testing
import WatchCore
import WatchTesting

/// What `deploy/` ships for the operator's Prometheus and Grafana names only metrics a running
/// host serves: a rule or a panel on a metric that does not exist never fires or stays empty,
/// silently.
@Suite(.serialized) struct DeployArtifactsTests {
    static var root: URL { URL(fileURLWithPath: TestDatabase.migrationsDirectory).deletingLastPathComponent() }

    /// Every `unrip_…` metric named in the file (recording rules are `unrip:…`, not matched).
    static func metricNames(in path: String) throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: "\\bunrip_[a-z0-9_]+")
        let range = NSRange(text.startIndex..., in: text)
        return Set(pattern.matches(in: text, range: range).compactMap { Range($0.range, in: text).map { String(text[$0]) } })
    }

    /// The metric names a Prometheus text exposition holds (samples, not comments).
    static func served(_ exposition: String) -> Set<String> {
        Set(exposition.split(separator: "\n").compactMap { line -> String? in
            guard !line.hasPrefix("#"), let end = line.firstIndex(where: { $0 == "{" || $0 == " " }) else { return nil }
            return String(line[..<end])
        })
    }

    @Test func everyMetricInTheRulesAndTheDashboardIsServedByARunningHost() async throws {
        let wanted = try Self.metricNames(in: "deploy/prometheus/unrip-watch.rules.yml")
            .union(Self.metricNames(in: "deploy/grafana/unrip-watch.json"))
        #expect(wanted.count >= 12, "the rules and dashboard name only \(wanted.sorted())")

        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let bridge = try await POABridgeDouble.start()
        defer { bridge.stop() }
        let kafka = try await TestBroker.start(topics: ["unrip.funding.observations", "unrip.alerts"])
        defer { kafka.stop() }
        let evm = EVMNodeDouble(chain: EVMChainModel(chainId: 100, tip: 100))
        let evmURL = try await evm.start()
        defer { Task { await evm.stop() } }
        // A webhook nobody listens on: the push fails, which is what its metrics are for.
        let config = HostileInputDrillTests.config(db: db, double: double, bridge: bridge, evm: evmURL, kafka: kafka.bootstrap) + """

            [alerts.push]
            webhook_url = "http://127.0.0.1:\(try freePort())/hook"
            poll_interval_ms = 100
            retry_initial_ms = 50
            retry_max_s = 1
            """
        let host = try HostProcess(config: config, port: try freePort())
        try host.start()
        // A deposit and blocks, so the chain and commit figures have samples.
        _ = double.pay(script: KillDrillTests.script, sats: 50_000, change: 500)
        double.mine(3)

        let client = JSONRPCClient(.init(url: "http://127.0.0.1:\(host.port)", timeout: .seconds(5)))
        var missing = wanted
        _ = await waitUntil(.seconds(60)) {
            guard let body = try? await client.get("/metrics") else { return false }
            missing = wanted.subtracting(Self.served(String(decoding: body, as: UTF8.self)))
            return missing.isEmpty
        }
        #expect(missing.isEmpty, "named in deploy/ but not served at /metrics: \(missing.sorted())\n\(host.log.suffix(1500))")
        // Before the doubles stop (a deferred stop): a host still polling an in-process double
        // while its server shuts down would hit NIO's "NIOAsyncWriter without finish()" trap.
        #expect(await host.terminate() == 0)
    }
}
