import Foundation
import Logging
import WatchCore

/// Funding handles, observations, their append-only events, cursors and the outbox.
///
/// Every state change goes through `FundingStateMachine` here, against the stored state, so the
/// database is the arbiter when the chain tracker and the reconciler disagree: a transition the
/// machine refuses keeps the stored state and only refreshes chain fields.
public struct FundingRepository: ChainStateStore {
    public let pool: PostgresPool
    /// Topic the funding observation events are published to (through the outbox).
    public let observationsTopic: String
    let logger: Logger

    public init(pool: PostgresPool, observationsTopic: String = "unrip.funding.observations", logger: Logger = Logger(label: "unrip.store")) {
        self.pool = pool
        self.observationsTopic = observationsTopic
        self.logger = logger
    }

    static let columns = """
        id, chain, network, asset, address, tx_hash, output_index, amount::text AS amount, state, reason,
        replaced_by, confirmations, block_height, block_hash, bridge_deposit_id, near_tx_hash, verifier_snapshot_id,
        to_char(first_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS first_seen_at,
        to_char(confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS confirmed_at,
        to_char(credited_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS credited_at,
        to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at
        """

    // MARK: - Handles

    /// Records the configured handles of `chain` as active, and marks config handles no longer listed inactive.
    public func syncHandles(chain: ChainName, _ handles: [FundingHandle]) async throws {
        try await pool.transaction { conn in
            for h in handles {
                try conn.query(
                    """
                    INSERT INTO funding_handles (chain, network, asset, address, label, source, active)
                    VALUES ($1, $2, $3, $4, $5, $6, TRUE)
                    ON CONFLICT (chain, network, address, asset)
                    DO UPDATE SET label = EXCLUDED.label, source = EXCLUDED.source, active = TRUE, updated_at = now()
                    """, [h.chain, h.network, h.asset, h.address, h.label, h.source])
            }
            let keep = handles.map { "\($0.network)|\($0.address)|\($0.asset)" }
            try conn.query(
                """
                UPDATE funding_handles SET active = FALSE, updated_at = now()
                WHERE chain = $1 AND source = 'config' AND active
                  AND NOT (network || '|' || address || '|' || asset = ANY($2::text[]))
                """, [chain, PGArray.text(keep)])
        }
    }

    /// Handles with the pre-credit amount still pending per handle (never a spendable balance).
    public func listHandles() async throws -> [JSONValue] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT h.chain, h.network, h.asset, h.address, h.label, h.source, h.active,
                       COALESCE(SUM(o.amount) FILTER (WHERE o.state IN ('SEEN_UNCONFIRMED','SEEN_CONFIRMED','CREDIT_PENDING')), 0)::text AS pending,
                       COUNT(o.id) FILTER (WHERE o.state IN ('SEEN_UNCONFIRMED','SEEN_CONFIRMED','CREDIT_PENDING')) AS open_count,
                       MAX(o.updated_at) AS last_seen
                FROM funding_handles h
                LEFT JOIN funding_observations o ON o.chain = h.chain AND o.address = h.address AND o.asset = h.asset
                GROUP BY h.id ORDER BY h.chain, h.address
                """
            ).map { row -> JSONValue in
                [
                    "chain": .string(row["chain"] ?? ""), "network": .string(row["network"] ?? ""),
                    "asset": .string(row["asset"] ?? ""), "address": .string(row["address"] ?? ""),
                    "label": .string(row["label"] ?? ""), "source": .string(row["source"] ?? ""),
                    "active": .bool(row.bool("active") ?? false),
                    "pending_precredit": .string(row["pending"] ?? "0"),
                    "open_transfers": .int(Int64(row.int("open_count") ?? 0)),
                ]
            }
        }
    }

    // MARK: - Observations

    public func listObservations(_ filter: ObservationFilter) async throws -> [ObservationRecord] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT \(Self.columns) FROM funding_observations
                WHERE ($1::text IS NULL OR chain = $1) AND ($2::text IS NULL OR address = $2)
                  AND ($3::text IS NULL OR state = $3)
                ORDER BY updated_at DESC, id DESC LIMIT $4
                """, [filter.chain, filter.address, filter.state?.rawValue, String(filter.limit)]
            ).map(ObservationRecord.init(row:))
        }
    }

    public func observation(id: Int) async throws -> ObservationRecord? {
        try await pool.withConnection { conn in
            try conn.query("SELECT \(Self.columns) FROM funding_observations WHERE id = $1", [String(id)])
                .first.map(ObservationRecord.init(row:))
        }
    }

    public func observation(_ key: TransferKey) async throws -> ObservationRecord? {
        try await pool.withConnection { conn in
            try conn.query(
                "SELECT \(Self.columns) FROM funding_observations WHERE chain = $1 AND tx_hash = $2 AND output_index = $3",
                [key.chain, key.txHash, String(key.outputIndex)]
            ).first.map(ObservationRecord.init(row:))
        }
    }

    /// The timeline of one observation, oldest first.
    public func events(observationId: Int) async throws -> [ObservationEventRecord] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT kind, state, previous_state, reason, confirmations, block_height, block_hash, bridge_deposit_id,
                       near_tx_hash, verifier_snapshot_id, event_id::text AS event_id,
                       to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at
                FROM funding_observation_events WHERE observation_id = $1 ORDER BY id
                """, [String(observationId)]
            ).map(ObservationEventRecord.init(row:))
        }
    }

    // MARK: - ChainStateStore

    public func loadTracker(adapter: String, chain: ChainName) async throws -> TrackerSnapshot? {
        try await pool.withConnection { conn in
            guard let cursor = try conn.query("SELECT recent_blocks::text AS b FROM chain_cursors WHERE adapter = $1", [adapter]).first
            else { return nil }
            let blocks = try JSONDecoder().decode([BlockRef].self, from: Data((cursor["b"] ?? "[]").utf8))
            let open = try conn.query(
                """
                SELECT \(Self.columns), demoted_at_height FROM funding_observations
                WHERE chain = $1 AND state IN ('SEEN_UNCONFIRMED','SEEN_CONFIRMED','CREDIT_PENDING')
                """, [chain]
            ).map { row -> TrackedTransfer in
                let record = ObservationRecord(row: row)
                let block = record.blockHeight.flatMap { h in record.blockHash.map { BlockRef(height: h, hash: $0) } }
                return TrackedTransfer(
                    key: TransferKey(chain: record.chain, txHash: record.txHash, outputIndex: record.outputIndex),
                    network: record.network, asset: record.asset, address: record.address,
                    amount: Amount(decimal: record.amount) ?? .zero,
                    state: FundingState(rawValue: record.state) ?? .seenUnconfirmed, block: block,
                    confirmations: record.confirmations, demotedAtHeight: row.int("demoted_at_height"))
            }
            return TrackerSnapshot(recentBlocks: blocks, openTransfers: open)
        }
    }

    public func commit(_ commit: TrackerCommit) async throws {
        let topic = observationsTopic
        let logger = self.logger
        try await pool.transaction { conn in
            for observation in commit.observations {
                try Self.apply(observation, conn: conn, topic: topic, logger: logger)
            }
            for (key, height) in commit.demotions {
                try conn.query(
                    "UPDATE funding_observations SET demoted_at_height = $4 WHERE chain = $1 AND tx_hash = $2 AND output_index = $3",
                    [key.chain, key.txHash, String(key.outputIndex), height.map(String.init)])
            }
            let blocks = String(decoding: try JSONEncoder().encode(commit.recentBlocks), as: UTF8.self)
            try conn.query(
                """
                INSERT INTO chain_cursors (adapter, chain, height, block_hash, recent_blocks, updated_at)
                VALUES ($1, $2, $3, $4, $5::jsonb, now())
                ON CONFLICT (adapter) DO UPDATE SET height = EXCLUDED.height, block_hash = EXCLUDED.block_hash,
                    recent_blocks = EXCLUDED.recent_blocks, updated_at = now()
                """,
                [commit.adapter, commit.chain, commit.tip.map { String($0.height) }, commit.tip?.hash, blocks])
        }
    }

    /// The stored cursor of an adapter.
    public func cursor(adapter: String) async throws -> BlockRef? {
        try await pool.withConnection { conn in
            guard let row = try conn.query("SELECT height, block_hash FROM chain_cursors WHERE adapter = $1", [adapter]).first,
                let h = row.int("height"), let hash = row["block_hash"]
            else { return nil }
            return BlockRef(height: h, hash: hash)
        }
    }

    /// Upserts one observation through the state machine; appends an event and an outbox row
    /// for every state change or change of block. Safe against concurrent writers of the same
    /// transfer: the row is locked, or inserted with ON CONFLICT and then locked.
    static func apply(_ o: ChainObservation, conn: PGConnection, topic: String, logger: Logger) throws {
        let at = Timestamp.string(o.observedAt)
        let keyParams = [o.key.chain, o.key.txHash, String(o.key.outputIndex)]
        func lockRow() throws -> PGRow? {
            try conn.query(
                "SELECT id, state, block_hash FROM funding_observations WHERE chain = $1 AND tx_hash = $2 AND output_index = $3 FOR UPDATE",
                keyParams
            ).first
        }
        var existing = try lockRow()
        var insertedID: Int?
        if existing == nil {
            guard FundingStateMachine.isLegal(from: nil, to: o.target.state) else {
                logger.debug("ignoring observation for unknown transfer", metadata: ["transfer": "\(o.key)", "target": "\(o.target.state)"])
                return
            }
            insertedID = try conn.query(
                """
                INSERT INTO funding_observations (chain, network, asset, address, tx_hash, output_index, amount, state,
                    confirmations, block_height, block_hash, first_seen_at, confirmed_at, updated_at, state_since)
                VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11, $12::timestamptz,
                    CASE WHEN $8 = 'SEEN_CONFIRMED' THEN $12::timestamptz END, $12::timestamptz, $12::timestamptz)
                ON CONFLICT (chain, tx_hash, output_index) DO NOTHING
                RETURNING id
                """,
                [o.key.chain, o.network, o.asset, o.address, o.key.txHash, String(o.key.outputIndex), o.amount.description,
                 o.target.state.rawValue, String(o.confirmations), o.block.map { String($0.height) }, o.block?.hash, at]
            ).first?.int("id")
            if insertedID == nil { existing = try lockRow() }  // a concurrent writer inserted it first
        }
        let previous = existing?["state"].flatMap(FundingState.init(rawValue:))
        let legal = FundingStateMachine.isLegal(from: previous, to: o.target.state)
        let newState = legal ? o.target.state : previous!
        let reason = newState == .failedOrStuck ? (legal ? o.target.reason?.description : nil) : nil
        let replacedBy = legal ? o.target.reason?.replacedBy : nil
        let id: Int
        if let insertedID {
            id = insertedID
        } else if let existing, let existingID = existing.int("id") {
            id = existingID
            try conn.query(
                """
                UPDATE funding_observations SET state = $2,
                    state_since = CASE WHEN state <> $2 THEN $8::timestamptz ELSE state_since END,
                    reason = CASE WHEN $2 = 'FAILED_OR_STUCK' THEN COALESCE($3, reason) ELSE NULL END,
                    replaced_by = COALESCE($4, replaced_by), confirmations = $5, block_height = $6, block_hash = $7,
                    confirmed_at = CASE WHEN $2 = 'SEEN_CONFIRMED' AND confirmed_at IS NULL THEN $8::timestamptz ELSE confirmed_at END,
                    demoted_at_height = CASE WHEN $6::bigint IS NOT NULL THEN NULL ELSE demoted_at_height END,
                    updated_at = $8::timestamptz
                WHERE id = $1
                """,
                [String(id), newState.rawValue, reason, replacedBy, String(o.confirmations), o.block.map { String($0.height) },
                 o.block?.hash, at])
        } else {
            throw PostgresError.unexpectedResult("observation \(o.key) neither inserted nor found")
        }
        // A timeline step is a state change or a change of block (included, reorged out);
        // a repeated report of the same thing adds nothing.
        let blockChanged = insertedID != nil || existing?["block_hash"] != o.block?.hash
        guard previous != newState || blockChanged else { return }
        try appendEvent(
            conn: conn, observationID: id, kind: o.kind.rawValue, state: newState, previous: previous, reason: reason,
            ids: (nil, nil, nil), at: at, topic: topic, key: o.address)
    }

    /// Appends one timeline step of an observation (already updated in this transaction) and its
    /// outbox event, built from the stored row so every writer publishes the same shape.
    static func appendEvent(
        conn: PGConnection, observationID id: Int, kind: String, state: FundingState, previous: FundingState?,
        reason: String?, ids: (deposit: String?, nearTx: String?, snapshot: String?), at: String, topic: String, key: String
    ) throws {
        guard let row = try conn.query("SELECT \(columns) FROM funding_observations WHERE id = $1", [String(id)]).first else {
            throw PostgresError.unexpectedResult("observation \(id) vanished inside its transaction")
        }
        let o = ObservationRecord(row: row)
        let eventID = UUID().uuidString.lowercased()
        try conn.query(
            """
            INSERT INTO funding_observation_events (observation_id, kind, state, previous_state, reason, confirmations,
                block_height, block_hash, bridge_deposit_id, near_tx_hash, verifier_snapshot_id, event_id, at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::uuid, $13::timestamptz)
            """,
            [String(id), kind, state.rawValue, previous?.rawValue, reason, String(o.confirmations),
             o.blockHeight.map(String.init), o.blockHash, ids.deposit ?? o.bridgeDepositId, ids.nearTx ?? o.nearTxHash,
             ids.snapshot ?? o.verifierSnapshotId, eventID, at])
        let payload: JSONValue = [
            "schema": "unrip.funding_observation.v1", "event_id": .string(eventID), "occurred_at": .string(at),
            "observation_id": .int(Int64(id)), "chain": .string(o.chain), "network": .string(o.network),
            "asset": .string(o.asset), "address": .string(o.address), "tx_hash": .string(o.txHash),
            "output_index": .int(Int64(o.outputIndex)), "amount": .string(o.amount),
            "kind": .string(kind), "state": .string(state.rawValue),
            "previous_state": .optional(previous?.rawValue), "reason": .optional(reason),
            "replaced_by": .optional(o.replacedBy), "confirmations": .int(Int64(o.confirmations)),
            "block_height": .optional(o.blockHeight), "block_hash": .optional(o.blockHash),
            "bridge_deposit_id": .optional(ids.deposit ?? o.bridgeDepositId), "near_tx_hash": .optional(ids.nearTx ?? o.nearTxHash),
            "verifier_snapshot_id": .optional(ids.snapshot ?? o.verifierSnapshotId),
        ]
        try Outbox.enqueue(conn: conn, topic: topic, key: key, eventID: eventID, payload: payload)
    }
}
