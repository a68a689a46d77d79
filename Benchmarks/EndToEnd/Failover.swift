import BitcoinPlugin
import BitcoinTesting
import Foundation
import PostgresStore
import WatchTesting

/// Failover time with two hosts on one database (`[ha] enabled`): `kill -9` of the host active
/// for `bitcoin` → the first observation the standby commits, while a deposit is paid every
/// 50 ms. The killed host comes back as the next round's standby. Seconds, one per round.
func measureFailover(rounds: Int, leaseSeconds: Int, pgURL: String, bootstrap: String, hostBinary: String) async throws -> [Double] {
    let database = "failover_\(UInt32.random(in: 0...UInt32.max))"
    let admin = PostgresPool(url: pgURL, size: 1)
    try await admin.withConnection { _ = try $0.query("CREATE DATABASE \(database)") }
    // The same server, the new database: the URL's last path component.
    guard let slash = pgURL.lastIndex(of: "/") else { throw BenchError("unexpected PostgreSQL URL") }
    let url = String(pgURL[..<slash]) + "/\(database)"
    let pool = PostgresPool(url: url, size: 2)
    let double = try await BitcoindDouble.start()
    double.mine(1)
    let script: [UInt8] = [0x00, 0x14] + (0..<20).map { _ in UInt8.random(in: 0...255) }
    guard let address = AddressCodec.address(forScript: script, network: .regtest) else { throw BenchError("address codec failed") }
    let config = """
        [database]
        url = "\(url)"
        migrations_dir = "\(repo.appendingPathComponent("migrations").path)"
        [kafka]
        brokers = ["\(bootstrap)"]
        topic_observations = "failover.observations"
        topic_alerts = "failover.alerts"
        [log]
        level = "notice"
        [ha]
        enabled = true
        lease_s = \(leaseSeconds)
        \(double.bitcoinSection(extra: ["handles = [{ address = \"\(address)\", label = \"failover\" }]"]))
        """
    func holder() async -> String? {
        try? await pool.withConnection { try $0.query("SELECT holder FROM plugin_leases WHERE plugin = 'bitcoin'").first?["holder"] }
    }
    func start(_ name: String) throws -> Process {
        try children.startHost(binary: hostBinary, config: config, httpPort: try freePort(), name: "failover-\(name)", environment: ["UNRIP_HA_HOST_ID": name])
    }
    func waitForHolder(_ name: String) async throws {
        let deadline: Double = wallNow() + Double(leaseSeconds) * 4 + 30
        while await holder() != name {
            guard wallNow() < deadline else { throw BenchError("host \(name) never took the bitcoin lease (see \(name == "a" ? "failover-a" : "failover-b").log)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
    var hosts = ["a": try start("a")]
    try await waitForHolder("a")
    hosts["b"] = try start("b")
    try await Task.sleep(for: .seconds(1))  // b stands by
    var (active, standby) = ("a", "b")
    var times: [Double] = []
    var paid = 0
    for round in 0..<rounds {
        let before = try await pool.withConnection { try $0.query("SELECT coalesce(max(id), 0) AS m FROM funding_observations").first?.int("m") } ?? 0
        let victim = hosts[active]!
        kill(victim.processIdentifier, SIGKILL)
        let killed = wallNow()
        victim.waitUntilExit()
        var committed: Double?
        let giveUp: Double = killed + Double(leaseSeconds) * 4 + 30
        while committed == nil, wallNow() < giveUp {
            _ = double.pay(script: script, sats: Int64(10_000 + paid), change: 500)
            paid += 1
            try await Task.sleep(for: .milliseconds(50))
            // Only what the standby took in after the kill: the victim may have committed a
            // deposit of the round before between the read of `before` and its death.
            committed = try await pool.withConnection { conn in
                try conn.query(
                    """
                    SELECT extract(epoch FROM min(first_seen_at))::float8 AS t FROM funding_observations
                    WHERE id > $1 AND first_seen_at > to_timestamp($2)
                    """, [String(before), String(killed)]
                ).first?["t"].flatMap(Double.init)
            }
        }
        guard let committed else { throw BenchError("failover round \(round + 1): the standby committed nothing") }
        times.append(committed - killed)
        note(String(format: "failover round %d: kill -9 of %@ → first observation committed by %@ after %.2f s", round + 1, active, standby, committed - killed))
        // The standby holds the lease before the victim comes back as the next standby: a host
        // restarted under its old host_id would otherwise take its own unexpired lease back.
        try await waitForHolder(standby)
        hosts[active] = try start(active)
        (active, standby) = (standby, active)
        try await Task.sleep(for: .seconds(1))
    }
    for host in hosts.values where host.isRunning { kill(host.processIdentifier, SIGTERM) }
    return times
}
