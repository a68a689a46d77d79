import Foundation
import Logging
import WatchCore

/// Bridge deposits, verifier snapshots, and the credit transitions of observations.
public struct CreditRepository: Sendable {
    public let pool: PostgresPool
    public let observationsTopic: String

    public init(pool: PostgresPool, observationsTopic: String = "unrip.funding.observations") {
        self.pool = pool
        self.observationsTopic = observationsTopic
    }

    /// A bridge deposit as stored.
    public struct DepositRow: Sendable {
        public var chain: String
        public var accountID: String
        public var depositID: String
        public var txHash: String?
        public var nearTxHash: String?
        public var address: String?
        public var asset: String?
        public var amount: String
        public var status: String
        public var raw: JSONValue

        public init(chain: String, accountID: String, depositID: String, txHash: String?, nearTxHash: String?, address: String?, asset: String?, amount: String, status: String, raw: JSONValue) {
            self.chain = chain
            self.accountID = accountID
            self.depositID = depositID
            self.txHash = txHash
            self.nearTxHash = nearTxHash
            self.address = address
            self.asset = asset
            self.amount = amount
            self.status = status
            self.raw = raw
        }
    }

    /// Inserts new deposits and updates changed ones; returns how many rows changed. A row
    /// PostgreSQL refuses for what it holds (a NUL or `\u0000` in the bridge's JSON, an amount
    /// out of range) is skipped and handed to `refused`, so one bad item cannot stop the rest.
    @discardableResult
    public func upsertDeposits(_ rows: [DepositRow], refused: @escaping @Sendable (DepositRow, PostgresError) -> Void = { _, _ in }) async throws -> Int {
        try await pool.transaction { conn in
            var changed = 0
            for (i, r) in rows.enumerated() {
                try conn.query("SAVEPOINT deposit_\(i)")
                let result: [PGRow]
                do {
                    result = try conn.query(
                    """
                    INSERT INTO bridge_deposits (chain, account_id, deposit_id, tx_hash, near_tx_hash, address, asset, amount, status, raw)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::numeric, $9, $10::jsonb)
                    ON CONFLICT (chain, deposit_id) DO UPDATE SET status = EXCLUDED.status,
                        near_tx_hash = COALESCE(EXCLUDED.near_tx_hash, bridge_deposits.near_tx_hash),
                        raw = EXCLUDED.raw, updated_at = now()
                    WHERE bridge_deposits.status IS DISTINCT FROM EXCLUDED.status
                       OR bridge_deposits.near_tx_hash IS DISTINCT FROM COALESCE(EXCLUDED.near_tx_hash, bridge_deposits.near_tx_hash)
                    RETURNING id
                    """,
                    [r.chain, r.accountID, r.depositID, r.txHash, r.nearTxHash, r.address, r.asset, r.amount, r.status, r.raw.serialized()])
                } catch let error as PostgresError where error.isRefusalOfTheData {
                    try conn.query("ROLLBACK TO SAVEPOINT deposit_\(i)")
                    refused(r, error)
                    continue
                }
                try conn.query("RELEASE SAVEPOINT deposit_\(i)")
                changed += result.count
            }
            return changed
        }
    }

    /// Records a verifier balance snapshot when it differs from the account's last one.
    /// Returns true when a snapshot was written.
    @discardableResult
    public func recordSnapshot(id: String, account: String, at: Date, balances: [String: String]) async throws -> Bool {
        let json = JSONValue.object(balances.mapValues(JSONValue.string)).serialized()
        return try await pool.withConnection { conn in
            !(try conn.query(
                """
                INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances)
                SELECT $1, $2, $3::timestamptz, $4::jsonb
                WHERE (SELECT balances FROM credit_snapshots WHERE account_id = $2 ORDER BY occurred_at DESC, id DESC LIMIT 1)
                      IS DISTINCT FROM $4::jsonb
                ON CONFLICT (snapshot_id) DO NOTHING
                RETURNING id
                """, [id, account, Timestamp.string(at), json]).isEmpty)
        }
    }

    /// Moves an observation to `target` through the state machine, recording the credit ids known
    /// at this step, with its timeline event and outbox row, in one transaction. Returns false when
    /// the stored state makes the transition illegal (nothing is written then).
    @discardableResult
    public func transition(observationID: Int, to target: FundingTarget, kind: String, depositID: String? = nil, nearTxHash: String? = nil, snapshotID: String? = nil, match: String? = nil, details: JSONValue? = nil, verifierToken: String? = nil, at: Date) async throws -> Bool {
        let topic = observationsTopic
        return try await pool.transaction { conn in
            guard let row = try conn.query("SELECT state, address FROM funding_observations WHERE id = $1 FOR UPDATE", [String(observationID)]).first,
                let previous = row["state"].flatMap(FundingState.init(rawValue:))
            else { return false }
            guard FundingStateMachine.isLegal(from: previous, to: target.state) else { return false }
            var deposit = depositID, near = nearTxHash, snapshot = snapshotID
            if case .credited(let evidence) = target {
                switch evidence {
                case .bridgeDeposit(let id, let tx):
                    deposit = id
                    near = tx ?? near
                case .verifierSnapshot(let id): snapshot = id
                }
            }
            let stamp = Timestamp.string(at)
            let reason = target.reason?.description
            try conn.query(
                """
                UPDATE funding_observations SET state = $2, reason = $3, state_since = $4::timestamptz, updated_at = $4::timestamptz,
                    bridge_deposit_id = COALESCE($5, bridge_deposit_id), near_tx_hash = COALESCE($6, near_tx_hash),
                    verifier_snapshot_id = COALESCE($7, verifier_snapshot_id),
                    credited_at = CASE WHEN $2 = 'CREDITED' THEN $4::timestamptz ELSE credited_at END,
                    credit_match = COALESCE(credit_match, $8), verifier_token = CASE WHEN $7::text IS NULL THEN verifier_token ELSE $9 END
                WHERE id = $1
                """, [String(observationID), target.state.rawValue, reason, stamp, deposit, near, snapshot, match, verifierToken])
            try FundingRepository.appendEvent(
                conn: conn, observationID: observationID, kind: kind, state: target.state, previous: previous, reason: reason,
                ids: (deposit, near, snapshot), at: stamp, topic: topic, match: match, details: details)
            return true
        }
    }
}
