import Foundation
import PostgresStore
import WatchCore

/// Latched alerts (`funding_double_spent`, `finality_violated`): raised once by their source
/// into `alert_latches`, firing until a person resolves them with `POST /alerts/<key>/resolve`.
extension AlertStore {
    /// What a manual resolve did.
    public enum ManualResolution: Sendable, Equatable {
        /// Resolved: the `alert_events` row's event (status resolved, with who and why).
        case resolved(JSONValue)
        /// No alert has that key.
        case notFound
        /// The alert is not latched: it resolves when its condition clears.
        case notLatched(rule: String)
        /// Already resolved by a person.
        case alreadyResolved(by: String?, at: String?)
    }

    /// Records latched watchdog findings at once, from the probe that saw them; the evaluator
    /// raises the alert from the latch on its next round, even after a restart.
    public func latch(_ findings: [WatchdogFinding], now: Date) async throws {
        try await pool.transaction { conn in try Self.raiseWatchdogLatches(conn, findings: findings, now: now) }
    }

    /// Records latched findings, and the double-spent deposits' latches.
    static func raiseLatches(_ conn: PGConnection, findings: [WatchdogFinding], now: Date) throws {
        try raiseWatchdogLatches(conn, findings: findings, now: now)
        try raiseDoubleSpentLatches(conn, now: now)
    }

    /// Records latched watchdog findings (once per key: a resolved one is not raised again).
    static func raiseWatchdogLatches(_ conn: PGConnection, findings: [WatchdogFinding], now: Date) throws {
        for f in findings {
            guard let rule = AlertRule(rawValue: f.rule), rule.isLatched else { continue }
            try conn.query(
                """
                INSERT INTO alert_latches (alert_key, rule, subject, reason, details, labels, raised_at)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::timestamptz) ON CONFLICT (alert_key) DO NOTHING
                """,
                [AlertCondition.key(rule, f.subject), rule.rawValue, f.subject, f.reason, f.details.serialized(),
                 labelsJSON(["chain": f.chain, "plugin": f.chain]), Timestamp.string(now)])
        }
    }

    /// Deposits double-spent away: one latch per transfer, from the observation itself.
    static func raiseDoubleSpentLatches(_ conn: PGConnection, now: Date) throws {
        try conn.query(
            """
            INSERT INTO alert_latches (alert_key, rule, subject, reason, details, labels, raised_at)
            SELECT 'funding_double_spent:' || s.subject, 'funding_double_spent', s.subject,
                   'deposit ' || o.tx_hash || ':' || o.output_index || ' of ' || o.amount::text || ' ' || o.asset || ' to ' || o.address
                       || ' was double-spent away by ' || o.double_spent_by || ', which pays no watched handle',
                   jsonb_build_object('observation_id', o.id, 'chain', o.chain, 'asset', o.asset, 'handle', o.address,
                       'original_txid', o.tx_hash, 'output_index', o.output_index, 'amount', o.amount::text,
                       'replacing_txid', o.double_spent_by),
                   jsonb_build_object('chain', o.chain, 'handle', o.address), $1::timestamptz
            FROM funding_observations o, LATERAL (SELECT o.chain || ':' || o.tx_hash || ':' || o.output_index AS subject) s
            WHERE o.double_spent_by IS NOT NULL
            ON CONFLICT (alert_key) DO NOTHING
            """, [Timestamp.string(now)])
    }

    /// Latches no person has resolved: each is a condition that holds.
    static func openLatches(_ conn: PGConnection) throws -> [AlertCondition] {
        try conn.query(
            """
            SELECT rule, subject, reason, details::text AS details, labels::text AS labels FROM alert_latches
            WHERE resolved_at IS NULL ORDER BY alert_key
            """
        ).compactMap { r in
            guard let rule = r["rule"].flatMap(AlertRule.init(rawValue:)) else { return nil }
            return AlertCondition(
                rule: rule, subject: r["subject"] ?? "", labels: labels(r["labels"]), reason: r["reason"] ?? "",
                details: r["details"].flatMap { try? JSONValue.parse($0) } ?? .object([:]))
        }
    }

    /// Resolves a latched alert by hand: the latch, `alert_state` and an `alert_events` row
    /// (with who and why, also in the event's details) in one transaction.
    public func resolveLatched(key: String, by who: String, reason why: String, now: Date) async throws -> ManualResolution {
        let topic = self.topic
        return try await pool.transaction { conn in
            try conn.query("SELECT pg_advisory_xact_lock($1::bigint)", [Self.lockKey])
            let latch = try conn.query(
                "SELECT resolved_by, to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at, resolved_at IS NOT NULL AS done FROM alert_latches WHERE alert_key = $1 FOR UPDATE",
                [key]
            ).first
            let stored = try conn.query("SELECT \(Self.stateColumns) FROM alert_state WHERE alert_key = $1 FOR UPDATE", [key]).first.flatMap(Self.stored)
            guard let latch else {
                guard let stored else { return .notFound }
                return .notLatched(rule: stored.condition.rule.rawValue)
            }
            if latch["done"] == "t" { return .alreadyResolved(by: latch["resolved_by"], at: latch["at"]) }
            try conn.query(
                "UPDATE alert_latches SET resolved_at = $2::timestamptz, resolved_by = $3, resolve_reason = $4 WHERE alert_key = $1",
                [key, Timestamp.string(now), who, why])
            guard let stored, stored.status == .firing else {
                try conn.query("DELETE FROM alert_state WHERE alert_key = $1 AND status = 'pending'", [key])
                return .resolved(["key": .string(key), "status": "resolved", "resolved_by": .string(who), "resolve_reason": .string(why), "was": "pending"])
            }
            var condition = stored.condition
            var details = condition.details.objectValue ?? [:]
            details["resolved_by"] = .string(who)
            details["resolve_reason"] = .string(why)
            condition.details = .object(details)
            try Self.upsertState(condition, status: .resolved, since: now, conn: conn, now: Timestamp.string(now))
            try Self.appendEvent(condition, status: .resolved, at: now, firedAt: stored.since, conn: conn, topic: topic, resolvedBy: (who, why))
            return .resolved([
                "key": .string(key), "rule": .string(condition.rule.rawValue), "status": "resolved", "resolved_by": .string(who),
                "resolve_reason": .string(why), "fired_at": .string(Timestamp.string(stored.since)), "at": .string(Timestamp.string(now)),
            ])
        }
    }
}
