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
        replaced_by, superseded_by, double_spent_by, confirmations, block_height, block_hash, bridge_deposit_id, near_tx_hash, verifier_snapshot_id, credit_match,
        to_char(first_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS first_seen_at,
        to_char(confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS confirmed_at,
        to_char(credited_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS credited_at,
        to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at
        """

    /// `columns` and the intents account of the observation's handle (for what a person reads),
    /// its bridge, and what its linked bridge record says; read from `withLinkedDeposit`.
    static let columnsWithAccount = columns + ", " + CreditRepository.handleAccount("funding_observations") + " AS account_id, "
        + "COALESCE(" + CreditRepository.handleColumn("bridge", "funding_observations") + ", 'poa') AS handle_bridge, "
        + "linked.bridge_status, linked.bridge_amount, linked.bridge_fee"

    /// Observations with their linked bridge record, looked up once per row.
    static let withLinkedDeposit = """
        funding_observations LEFT JOIN LATERAL (
            SELECT d.status AS bridge_status, d.amount::text AS bridge_amount,
                COALESCE(d.raw->>'fee', d.raw->'utxo_meta'->>'protocol_fee') AS bridge_fee
            FROM bridge_deposits d WHERE d.deposit_id = funding_observations.bridge_deposit_id ORDER BY d.id LIMIT 1) linked ON TRUE
        """

    // MARK: - Handles

    /// Records the configured handles of `chain` as active, and marks config handles no longer listed inactive.
    public func syncHandles(chain: ChainName, _ handles: [FundingHandle]) async throws {
        try await pool.transaction { conn in
            for h in handles {
                try conn.query(
                    """
                    INSERT INTO funding_handles (chain, network, asset, address, label, source, active, account_id, bridge, deposit_msg)
                    VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8, $9)
                    ON CONFLICT (chain, network, address, asset)
                    DO UPDATE SET label = EXCLUDED.label, source = EXCLUDED.source, active = TRUE, account_id = COALESCE(EXCLUDED.account_id, funding_handles.account_id),
                        bridge = EXCLUDED.bridge,
                        deposit_msg = CASE WHEN EXCLUDED.bridge IS NULL THEN NULL ELSE COALESCE(EXCLUDED.deposit_msg, funding_handles.deposit_msg) END, updated_at = now()
                    """, [h.chain, h.network, h.asset, h.address, h.label, h.source, h.account, h.bridge, h.depositMessage])
            }
            let keep = handles.map { "\($0.network)|\($0.address)|\($0.asset)" }
            try conn.query(
                """
                UPDATE funding_handles SET active = FALSE, updated_at = now()
                WHERE chain = $1 AND source = 'config' AND active
                  AND NOT (network || '|' || address || '|' || asset = ANY($2::text[]))
                """, [chain, PGArray.literal(keep)])
        }
    }

    /// Handles with the pre-credit amount still pending per handle (never a spendable balance).
    public func listHandles() async throws -> [JSONValue] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT h.id, h.chain, h.network, h.asset, h.address, h.label, h.source, h.active, h.account_id, h.retire_reason,
                       h.replaced_address, h.rescan_from, COALESCE(h.bridge, 'poa') AS bridge, h.deposit_msg,
                       to_char(h.retired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS retired_at,
                       to_char(h.last_refreshed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_refreshed_at,
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
                    "id": .int(Int64(row.int("id") ?? 0)), "account_id": .optional(row["account_id"]),
                    "retired_at": .optional(row["retired_at"]), "retire_reason": .optional(row["retire_reason"]),
                    "last_refreshed_at": .optional(row["last_refreshed_at"]), "replaced_address": .optional(row["replaced_address"]),
                    "rescan_from": .optional(row.int("rescan_from")),
                    "bridge": .string(row["bridge"] ?? CreditBridge.poa), "deposit_msg": .optional(row["deposit_msg"]),
                ]
            }
        }
    }

    // MARK: - Observations

    public func listObservations(_ filter: ObservationFilter) async throws -> [ObservationRecord] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT \(Self.columnsWithAccount) FROM \(Self.withLinkedDeposit)
                WHERE ($1::text IS NULL OR chain = $1) AND ($2::text IS NULL OR address = $2)
                  AND ($3::text IS NULL OR state = $3)
                ORDER BY updated_at DESC, id DESC LIMIT $4
                """, [filter.chain, filter.address, filter.state?.rawValue, String(filter.limit)]
            ).map(ObservationRecord.init(row:))
        }
    }

    public func observation(id: Int) async throws -> ObservationRecord? {
        try await pool.withConnection { conn in
            try conn.query("SELECT \(Self.columnsWithAccount) FROM \(Self.withLinkedDeposit) WHERE id = $1", [String(id)])
                .first.map(ObservationRecord.init(row:))
        }
    }

    public func observation(_ key: TransferKey) async throws -> ObservationRecord? {
        try await pool.withConnection { conn in
            try conn.query(
                "SELECT \(Self.columnsWithAccount) FROM \(Self.withLinkedDeposit) WHERE chain = $1 AND tx_hash = $2 AND output_index = $3",
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
                       near_tx_hash, verifier_snapshot_id, event_id::text AS event_id, match, details::text AS details,
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

    /// Observations per part of a commit that moves no cursor, and the most parts written at once.
    static let parallelCommitThreshold = 256
    static let maxParallelCommits = 3

    public func commit(_ commit: TrackerCommit) async throws {
        let topic = observationsTopic
        let logger = self.logger
        // A large batch that only adds or updates transfers (mempool traffic: no cursor, no
        // demotion) is written by up to three transactions at once, split by handle address,
        // so each address's events stay in one transaction and in order. Should one of them
        // fail, the others' rows are durable: the pipeline reloads its tracker from the store
        // before its next batch, so it follows exactly what was written.
        let parts = min(Self.maxParallelCommits, commit.observations.count / Self.parallelCommitThreshold)
        if !commit.cursorMoved, commit.demotions.isEmpty, parts >= 2 {
            var split = [[ChainObservation]](repeating: [], count: parts)
            for o in commit.observations { split[Int(Self.stableHash(o.address) % UInt64(parts))].append(o) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for part in split where !part.isEmpty {
                    group.addTask {
                        try await pool.transaction { conn in try ObservationBatch.apply(part, conn: conn, topic: topic, logger: logger) }
                    }
                }
                try await group.waitForAll()
            }
            return
        }
        try await pool.transaction { conn in
            try ObservationBatch.apply(commit.observations, conn: conn, topic: topic, logger: logger)
            if !commit.demotions.isEmpty {
                let demotions = commit.demotions.sorted { ($0.key.txHash, $0.key.outputIndex) < ($1.key.txHash, $1.key.outputIndex) }
                try conn.query(
                    """
                    UPDATE funding_observations SET demoted_at_height = u_height
                    FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) AS u(u_chain, u_tx_hash, u_output_index, u_height)
                    WHERE chain = u_chain AND tx_hash = u_tx_hash AND output_index = u_output_index
                    """,
                    [
                        PGArray.literal(demotions.map(\.key.chain)), PGArray.literal(demotions.map(\.key.txHash)),
                        PGArray.literal(demotions.map { String($0.key.outputIndex) }),
                        PGArray.literal(demotions.map { $0.value.map(String.init) }),
                    ])
            }
            guard commit.cursorMoved else { return }
            let blocks = String(decoding: try JSONEncoder().encode(commit.recentBlocks), as: UTF8.self)
            try conn.queryPrepared(
                """
                INSERT INTO chain_cursors (adapter, chain, height, block_hash, recent_blocks, updated_at)
                VALUES ($1, $2, $3, $4, $5::jsonb, now())
                ON CONFLICT (adapter) DO UPDATE SET height = EXCLUDED.height, block_hash = EXCLUDED.block_hash,
                    recent_blocks = EXCLUDED.recent_blocks, updated_at = now()
                """,
                [commit.adapter, commit.chain, commit.tip.map { String($0.height) }, commit.tip?.hash, blocks])
        }
    }

    /// FNV-1a of the UTF-8 bytes: the same split in every process (Swift's `Hasher` is seeded).
    static func stableHash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
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

    /// Appends one timeline step of an observation (already updated in this transaction) and its
    /// outbox event, built from the stored row so every writer publishes the same shape.
    static func appendEvent(
        conn: PGConnection, observationID id: Int, kind: String, state: FundingState, previous: FundingState?,
        reason: String?, ids: (deposit: String?, nearTx: String?, snapshot: String?), at: String, topic: String,
        match: String? = nil, details: JSONValue? = nil
    ) throws {
        guard let row = try conn.query("SELECT \(columns) FROM funding_observations WHERE id = $1", [String(id)]).first else {
            throw PostgresError.unexpectedResult("observation \(id) vanished inside its transaction")
        }
        try insertEvents(
            [TimelineEvent(record: ObservationRecord(row: row), kind: kind, state: state, previous: previous, reason: reason, ids: ids, at: at, match: match, details: details)],
            conn: conn, topic: topic)
    }
}
