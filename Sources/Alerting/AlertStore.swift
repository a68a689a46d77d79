import Foundation
import PostgresStore
import WatchCore

/// Alert persistence: loads the durable inputs and the current alerts, and applies one
/// evaluation's changes — each raise and clear an `alert_events` row, the `alert_state`
/// upsert and an outbox event — all in one transaction, serialized across hosts by an
/// advisory lock.
public struct AlertStore: Sendable {
    public let pool: PostgresPool
    /// Topic of the `unrip.alert.v1` events (through the outbox).
    public let topic: String

    /// Advisory lock key for evaluations: "unripalr" as a 64-bit integer.
    static let lockKey = "8459667447683556466"

    public init(pool: PostgresPool, topic: String) {
        self.pool = pool
        self.topic = topic
    }

    /// One evaluation: inputs → conditions → changes, applied atomically.
    public func evaluate(
        now: Date, config: AlertsConfig, health: [(name: String, health: PluginHealth)]?, watchdog: [WatchdogFinding]? = nil,
        latched: [WatchdogFinding] = []
    ) async throws -> [AlertChange] {
        let topic = self.topic
        let health = health.map { $0.map { HealthEntry(name: $0.name, health: $0.health) } }
        return try await pool.transaction { conn in
            try conn.query("SELECT pg_advisory_xact_lock($1::bigint)", [Self.lockKey])
            // Every read here has its index (the double-spent and open-transfer partial indexes,
            // latest prices and snapshots by key). A planner whose statistics lag behind a table
            // growing by thousands of rows a second (never analyzed yet: every row assumed to
            // match) read all of funding_observations instead, twice per evaluation: 51 ms a
            // time at 90,000 rows in bench-e2e, every 5 s, stalling the 2-core machine's
            // pipeline each time (its slowest 1 % came in one burst per evaluation).
            try conn.indexScansOnly()
            try Self.raiseLatches(conn, findings: latched, now: now)
            var inputs = try Self.loadInputs(conn, config: config, now: now)
            inputs.latches = try Self.openLatches(conn)
            let stored = try Self.loadStored(conn)
            let (conditions, evaluated) = AlertRules.conditions(
                inputs, health: health?.map { ($0.name, $0.health) }, config: config, now: now, watchdog: watchdog)
            let changes = AlertEngine.decide(
                stored: stored, conditions: conditions, evaluatedRules: evaluated, now: now,
                forSeconds: Double(config.forSeconds))
            for change in changes { try Self.apply(change, conn: conn, topic: topic, now: now) }
            return changes
        }
    }

    private struct HealthEntry: Sendable {
        let name: String
        let health: PluginHealth
    }

    static func date(_ text: String?) -> Date? { text.flatMap(Double.init).map { Date(timeIntervalSince1970: $0) } }

    static func loadInputs(_ conn: PGConnection, config: AlertsConfig, now: Date) throws -> AlertInputs {
        var inputs = AlertInputs()
        (inputs.prices, inputs.snapshots) = try latestInputs(conn)
        inputs.transfers = try transfersThatCanHold(conn, config: config, now: now)
        inputs.lastFailure = try lastExecutionFailure(conn)
        inputs.rotations = try FundingRepository.rotations(conn, now: now)
        return inputs
    }

    /// The latest reference price of each pair and inventory snapshot of each account.
    static func latestInputs(_ conn: PGConnection) throws -> ([AlertInputs.Price], [AlertInputs.Snapshot]) {
        let prices = try conn.query(
            """
            SELECT DISTINCT ON (pair) pair, price::text AS price, source, EXTRACT(EPOCH FROM occurred_at)::float8 AS at
            FROM reference_prices ORDER BY pair, occurred_at DESC, id DESC
            """
        ).compactMap { r in
            date(r["at"]).map { AlertInputs.Price(pair: r["pair"] ?? "", price: r["price"] ?? "", source: r["source"] ?? "", occurredAt: $0) }
        }
        let snapshots = try conn.query(
            """
            SELECT DISTINCT ON (account_id) account_id, snapshot_id, EXTRACT(EPOCH FROM occurred_at)::float8 AS at
            FROM credit_snapshots ORDER BY account_id, occurred_at DESC, id DESC
            """
        ).compactMap { r in
            date(r["at"]).map { AlertInputs.Snapshot(accountID: r["account_id"] ?? "", snapshotID: r["snapshot_id"] ?? "", occurredAt: $0) }
        }
        return (prices, snapshots)
    }

    /// Only transfers that can hold: stuck ones, and open ones older than their state's budget
    /// (`AlertRules` checks the budget exactly; this keeps the read small however many
    /// transfers are open). `state_since` is kept by every writer of a state change.
    static func transfersThatCanHold(_ conn: PGConnection, config: AlertsConfig, now: Date) throws -> [AlertInputs.Transfer] {
        var budgets: (chains: [String?], states: [String?], cutoffs: [String?]) = ([], [], [])
        for (chain, perState) in config.fundingBudgetSeconds {
            for (state, seconds) in perState {
                budgets.chains.append(chain)
                budgets.states.append(state.rawValue)
                budgets.cutoffs.append(String(now.timeIntervalSince1970 - Double(seconds) + 1))
            }
        }
        let columns = """
            o.id, o.chain, o.network, o.asset, o.address, o.tx_hash, o.output_index, o.amount::text AS amount,
            o.state, o.reason, EXTRACT(EPOCH FROM o.state_since)::float8 AS entered_at,
            \(CreditRepository.handleColumn("bridge", "o")) AS bridge,
            CASE WHEN o.state = 'FAILED_OR_STUCK' THEN (SELECT e.details->>'refund' FROM funding_observation_events e
                WHERE e.observation_id = o.id AND e.details ? 'refund' ORDER BY e.id DESC LIMIT 1) END AS refund
            """
        return try conn.query(
            """
            SELECT \(columns) FROM funding_observations o
            WHERE o.state = 'FAILED_OR_STUCK' AND o.superseded_by IS NULL AND o.double_spent_by IS NULL
            UNION ALL
            SELECT \(columns) FROM unnest($1::text[], $2::text[], $3::float8[]) AS b(b_chain, b_state, b_cutoff)
            JOIN funding_observations o ON o.state = b_state AND o.chain = b_chain AND o.state_since < to_timestamp(b_cutoff)
            ORDER BY id
            """, [PGArray.literal(budgets.chains), PGArray.literal(budgets.states), PGArray.literal(budgets.cutoffs)]
        ).compactMap { r in
            guard let state = r["state"].flatMap(FundingState.init(rawValue:)), let entered = date(r["entered_at"]) else { return nil }
            return AlertInputs.Transfer(
                id: r.int("id") ?? 0, chain: r["chain"] ?? "", network: r["network"] ?? "", asset: r["asset"] ?? "",
                address: r["address"] ?? "", txHash: r["tx_hash"] ?? "", outputIndex: r.int("output_index") ?? 0,
                amount: r["amount"] ?? "0", state: state, reason: r["reason"], enteredStateAt: entered, bridge: r["bridge"] ?? CreditBridge.poa,
                refund: r["refund"])
        }
    }

    /// The newest failed quote submission, with the successes since.
    static func lastExecutionFailure(_ conn: PGConnection) throws -> AlertInputs.ExecutionFailure? {
        guard let r = try conn.query(
            """
            SELECT f.quote_id, f.request_id, f.outcome, f.error::text AS error, EXTRACT(EPOCH FROM f.occurred_at)::float8 AS at,
                   (SELECT count(*) FROM execution_results s WHERE s.outcome = 'ok' AND s.id > f.id) AS successes
            FROM execution_results f WHERE f.outcome <> 'ok' ORDER BY f.id DESC LIMIT 1
            """
        ).first, let at = date(r["at"]) else { return nil }
        return AlertInputs.ExecutionFailure(
            quoteID: r["quote_id"] ?? "", requestID: r["request_id"] ?? "", outcome: r["outcome"] ?? "",
            error: r["error"].flatMap { try? JSONValue.parse($0) } ?? .null, occurredAt: at,
            successesSince: r.int("successes") ?? 0)
    }

    static let stateColumns = """
        alert_key, rule, subject, status, reason, details::text AS details, labels::text AS labels,
        EXTRACT(EPOCH FROM since)::float8 AS since, EXTRACT(EPOCH FROM clearing_since)::float8 AS clearing_since
        """

    static func stored(_ r: PGRow) -> StoredAlert? {
        guard let rule = r["rule"].flatMap(AlertRule.init(rawValue:)), let status = r["status"].flatMap(StoredAlert.Status.init(rawValue:)),
            let since = date(r["since"])
        else { return nil }
        let condition = AlertCondition(
            rule: rule, subject: r["subject"] ?? "", labels: labels(r["labels"]), reason: r["reason"] ?? "",
            details: r["details"].flatMap { try? JSONValue.parse($0) } ?? .object([:]))
        return StoredAlert(condition: condition, status: status, since: since, clearingSince: date(r["clearing_since"]))
    }

    static func loadStored(_ conn: PGConnection) throws -> [StoredAlert] {
        try conn.query("SELECT \(stateColumns) FROM alert_state WHERE status IN ('pending', 'firing') ORDER BY alert_key FOR UPDATE")
            .compactMap(stored)
    }

    static func labelsJSON(_ labels: [String: String]) -> String { JSONValue.object(labels.mapValues(JSONValue.string)).serialized() }

    static func apply(_ change: AlertChange, conn: PGConnection, topic: String, now: Date) throws {
        let nowText = Timestamp.string(now)
        switch change {
        case .pending(let c, let since):
            try upsertState(c, status: .pending, since: since, conn: conn, now: nowText)
        case .dropPending(let key):
            try conn.query("DELETE FROM alert_state WHERE alert_key = $1 AND status = 'pending'", [key])
        case .fire(let c, let at):
            try upsertState(c, status: .firing, since: at, conn: conn, now: nowText)
            try appendEvent(c, status: .firing, at: at, firedAt: nil, conn: conn, topic: topic)
        case .refresh(let c):
            try conn.query(
                """
                UPDATE alert_state SET reason = $2, details = $3::jsonb, labels = $4::jsonb, clearing_since = NULL,
                    updated_at = $5::timestamptz WHERE alert_key = $1
                """, [c.key, c.reason, c.details.serialized(), labelsJSON(c.labels), nowText])
        case .startClearing(let key, let at):
            try conn.query(
                "UPDATE alert_state SET clearing_since = $2::timestamptz, updated_at = $2::timestamptz WHERE alert_key = $1",
                [key, Timestamp.string(at)])
        case .resolve(let s, let at):
            try upsertState(s.condition, status: .resolved, since: at, conn: conn, now: nowText)
            try appendEvent(s.condition, status: .resolved, at: at, firedAt: s.since, conn: conn, topic: topic)
        }
    }

    static func upsertState(_ c: AlertCondition, status: StoredAlert.Status, since: Date, conn: PGConnection, now: String) throws {
        try conn.query(
            """
            INSERT INTO alert_state (alert_key, rule, subject, status, since, reason, details, labels, updated_at, clearing_since)
            VALUES ($1, $2, $3, $4, $5::timestamptz, $6, $7::jsonb, $8::jsonb, $9::timestamptz, NULL)
            ON CONFLICT (alert_key) DO UPDATE SET rule = EXCLUDED.rule, subject = EXCLUDED.subject, status = EXCLUDED.status,
                since = EXCLUDED.since, reason = EXCLUDED.reason, details = EXCLUDED.details, labels = EXCLUDED.labels,
                updated_at = EXCLUDED.updated_at, clearing_since = NULL
            """,
            [c.key, c.rule.rawValue, c.subject, status.rawValue, Timestamp.string(since), c.reason, c.details.serialized(),
             labelsJSON(c.labels), now])
    }

    static func appendEvent(
        _ c: AlertCondition, status: StoredAlert.Status, at: Date, firedAt: Date?, conn: PGConnection, topic: String,
        resolvedBy: (who: String, why: String)? = nil
    ) throws {
        let event = AlertEventRecord(
            eventID: EventID.make(), key: c.key, rule: c.rule.rawValue, subject: c.subject, status: status,
            reason: c.reason, labels: c.labels, details: c.details, at: Timestamp.string(at), firedAt: firedAt.map(Timestamp.string))
        try conn.query(
            """
            INSERT INTO alert_events (alert_key, rule, subject, status, reason, details, labels, event_id, at, fired_at,
                resolved_by, resolve_reason)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::uuid, $9::timestamptz, $10::timestamptz, $11, $12)
            """,
            [event.key, event.rule, event.subject, status.rawValue, event.reason, event.details.serialized(), labelsJSON(event.labels),
             event.eventID, event.at, event.firedAt, resolvedBy?.who, resolvedBy?.why])
        try Outbox.enqueue(conn: conn, topic: topic, key: event.key, eventID: event.eventID, payload: event.payload)
    }

    /// A `labels` JSONB column as a string map.
    static func labels(_ text: String?) -> [String: String] {
        var labels: [String: String] = [:]
        for (k, v) in (text.flatMap { try? JSONValue.parse($0) }?.objectValue ?? [:]) { labels[k] = v.stringValue ?? v.serialized() }
        return labels
    }

    // MARK: - Reading, for /plugins/alerts/state

    /// Alerts in `status` (firing or pending), as `/state` shows them.
    public func alerts(status: StoredAlert.Status) async throws -> [JSONValue] {
        try await pool.withConnection { conn in
            try conn.query(
                "SELECT \(Self.stateColumns) FROM alert_state WHERE status = $1 ORDER BY since, alert_key", [status.rawValue]
            ).compactMap(Self.stored).map { s in
                [
                    "key": .string(s.key), "rule": .string(s.condition.rule.rawValue), "subject": .string(s.condition.subject),
                    "status": .string(s.status.rawValue), "since": .string(Timestamp.string(s.since)),
                    "reason": .string(s.condition.reason), "details": s.condition.details,
                    "labels": .object(s.condition.labels.mapValues(JSONValue.string)),
                    "severity": .string(s.condition.labels["severity"] ?? s.condition.rule.defaultSeverity.rawValue),
                    "clearing_since": s.clearingSince.map { .string(Timestamp.string($0)) } ?? .null,
                ]
            }
        }
    }

    /// The latest raise/clear transitions, newest first.
    public func recent(limit: Int = 50) async throws -> [JSONValue] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT alert_key, rule, subject, status, reason, details::text AS details, labels::text AS labels,
                       event_id::text AS event_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at
                FROM alert_events ORDER BY id DESC LIMIT $1
                """, [String(limit)]
            ).map { r -> JSONValue in
                [
                    "key": .optional(r["alert_key"]), "rule": .optional(r["rule"]), "subject": .optional(r["subject"]),
                    "status": .optional(r["status"]), "reason": .optional(r["reason"]),
                    "details": r["details"].flatMap { try? JSONValue.parse($0) } ?? .null,
                    "labels": r["labels"].flatMap { try? JSONValue.parse($0) } ?? .null,
                    "event_id": .optional(r["event_id"]), "at": .optional(r["at"]),
                ]
            }
        }
    }
}
