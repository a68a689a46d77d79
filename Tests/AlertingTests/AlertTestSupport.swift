import Alerting
import Foundation
import Logging
import PostgresStore
import Synchronization
import Testing
import WatchCore
import WatchTesting

/// A database, a controllable clock and an alert store, plus ways to write durable inputs.
struct AlertFixture {
    let db: TestDatabase
    let clock: TestClock
    let store: AlertStore
    let repo: FundingRepository

    static func make() async throws -> AlertFixture {
        let db = try await TestDatabase.create()
        return AlertFixture(
            db: db, clock: TestClock(), store: AlertStore(pool: db.pool, topic: "unrip.alerts"),
            repo: FundingRepository(pool: db.pool, observationsTopic: "unrip.funding.observations"))
    }

    var now: Date { clock.now() }

    func price(_ pair: String, at: Date) async throws {
        _ = try await db.pool.withConnection { conn in
            try conn.query(
                "INSERT INTO reference_prices (event_id, pair, price, source, occurred_at) VALUES (gen_random_uuid(), $1, 100.5, 'test', $2::timestamptz)",
                [pair, Timestamp.string(at)])
        }
    }

    func snapshot(_ account: String, id: String, at: Date) async throws {
        _ = try await db.pool.withConnection { conn in
            try conn.query(
                "INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances) VALUES ($1, $2, $3::timestamptz, '{}')",
                [id, account, Timestamp.string(at)])
        }
    }

    func execution(_ outcome: String, quote: String, at: Date) async throws {
        _ = try await db.pool.withConnection { conn in
            try conn.query(
                """
                INSERT INTO execution_results (event_id, quote_id, request_id, outcome, error, occurred_at)
                VALUES (gen_random_uuid(), $1, '1', $2, $3::jsonb, $4::timestamptz)
                """, [quote, outcome, outcome == "ok" ? nil : "\"relay said no\"", Timestamp.string(at)])
        }
    }

    func observation(tx: String, chain: String = "bitcoin", target: FundingTarget, kind: ObservationKind, at: Date) async throws {
        let o = ChainObservation(
            key: TransferKey(chain: chain, txHash: tx, outputIndex: 0), network: "regtest", asset: "BTC", address: "bcrt1qhandle",
            amount: Amount(150_000), kind: kind, target: target, confirmations: 1, block: nil, observedAt: at)
        try await repo.commit(TrackerCommit(adapter: chain, chain: chain, observations: [o], tip: nil, recentBlocks: [], demotions: [:]))
    }

    @discardableResult
    func evaluate(_ config: AlertsConfig, health: [(name: String, health: PluginHealth)]? = nil) async throws -> [AlertChange] {
        try await store.evaluate(now: clock.now(), config: config, health: health)
    }

    /// (status, key) of every alert_events row, oldest first.
    func events() async throws -> [String] {
        try await db.pool.withConnection { conn in
            try conn.query("SELECT status, alert_key FROM alert_events ORDER BY id").map { "\($0["status"] ?? "") \($0["alert_key"] ?? "")" }
        }
    }

    /// Alert events waiting in the outbox, keyed by alert key.
    func outboxAlertKeys() async throws -> [String] {
        try await db.pool.withConnection { conn in
            try conn.query("SELECT message_key FROM outbox WHERE topic = 'unrip.alerts' ORDER BY id").compactMap { $0["message_key"] }
        }
    }

    func activeKeys() async throws -> [String] {
        try await store.alerts(status: .firing).compactMap { $0["key"]?.stringValue }
    }
}
