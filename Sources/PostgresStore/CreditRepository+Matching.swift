import Foundation
import WatchCore

/// What the credit matcher reads: open observations with their stored links, the bridge
/// deposits not yet linked that may concern them, and verifier balance rises.
extension CreditRepository {
    /// An observation not yet credited, with the deposit it was linked to (if any) as stored now.
    public struct OpenObservation: Sendable {
        public var id: Int
        public var chain: String
        public var address: String
        public var asset: String
        public var amount: String
        public var txHash: String
        public var firstSeenAt: Date
        public var state: FundingState
        public var reason: String?
        public var stateSince: Date
        public var depositID: String?
        public var depositStatus: String?
        public var nearTxHash: String?
        /// The intents account of the observation's handle, when it names one.
        public var account: String? = nil
        /// The bridge of the observation's handle (`CreditBridge`); nil: POA.
        public var bridge: String? = nil
        public var outputIndex: Int = 0
        public var confirmations: Int = 0
    }

    /// Open observations of `chains` (not credited; replaced and evicted ones are closed),
    /// oldest first.
    public func openObservations(chains: [String]) async throws -> [OpenObservation] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT o.id, o.chain, o.address, o.asset, o.amount::text AS amount, o.tx_hash, o.state, o.reason,
                    EXTRACT(EPOCH FROM o.first_seen_at)::float8 AS first_seen, EXTRACT(EPOCH FROM o.state_since)::float8 AS since,
                    o.bridge_deposit_id, d.status AS deposit_status, COALESCE(d.near_tx_hash, o.near_tx_hash) AS near_tx_hash,
                    \(Self.handleAccount("o")) AS account_id, \(Self.handleColumn("bridge", "o")) AS bridge, o.output_index, o.confirmations
                FROM funding_observations o
                LEFT JOIN bridge_deposits d ON d.deposit_id = o.bridge_deposit_id
                WHERE o.chain = ANY($1::text[]) AND o.state <> 'CREDITED'
                  AND NOT (o.state = 'FAILED_OR_STUCK' AND o.reason IN ('replaced', 'evicted'))
                ORDER BY o.first_seen_at, o.id
                """, [PGArray.literal(chains)]
            ).compactMap { row -> OpenObservation? in
                guard let id = row.int("id"), let state = row["state"].flatMap(FundingState.init(rawValue:)) else { return nil }
                return OpenObservation(
                    id: id, chain: row["chain"] ?? "", address: row["address"] ?? "", asset: row["asset"] ?? "",
                    amount: row["amount"] ?? "0", txHash: row["tx_hash"] ?? "", firstSeenAt: Self.epoch(row["first_seen"]),
                    state: state, reason: row["reason"], stateSince: Self.epoch(row["since"]), depositID: row["bridge_deposit_id"],
                    depositStatus: row["deposit_status"], nearTxHash: row["near_tx_hash"], account: row["account_id"], bridge: row["bridge"],
                    outputIndex: row.int("output_index") ?? 0, confirmations: row.int("confirmations") ?? 0)
            }
        }
    }

    /// A stored bridge deposit no observation is linked to yet.
    public struct FreeDeposit: Sendable {
        public var order: Int
        public var chain: String
        public var depositID: String
        public var txHash: String?
        public var address: String?
        public var nearTokenID: String?
        public var amount: String
        public var status: String
        public var nearTxHash: String?
    }

    /// Deposits of `bridgeChains` that no observation is linked to and that share a tx hash or an
    /// address with an open observation (the only ones that can match), in the bridge's order.
    public func freeDeposits(bridgeChains: [String]) async throws -> [FreeDeposit] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                WITH open AS (
                    SELECT lower(tx_hash) AS tx, lower(address) AS address FROM funding_observations
                    WHERE state <> 'CREDITED' AND NOT (state = 'FAILED_OR_STUCK' AND reason IN ('replaced', 'evicted')))
                SELECT b.id, b.chain, b.deposit_id, NULLIF(b.tx_hash, '') AS tx_hash, b.address, b.raw->>'near_token_id' AS token,
                    b.amount::text AS amount, b.status, b.near_tx_hash
                FROM bridge_deposits b
                WHERE b.chain = ANY($1::text[]) AND b.amount IS NOT NULL
                  AND (lower(b.tx_hash) IN (SELECT tx FROM open) OR lower(b.address) IN (SELECT address FROM open))
                  AND NOT EXISTS (SELECT 1 FROM funding_observations u WHERE u.bridge_deposit_id = b.deposit_id)
                ORDER BY b.id
                """, [PGArray.literal(bridgeChains)]
            ).map { row in
                FreeDeposit(
                    order: row.int("id") ?? 0, chain: row["chain"] ?? "", depositID: row["deposit_id"] ?? "",
                    txHash: row["tx_hash"], address: row["address"], nearTokenID: row["token"], amount: row["amount"] ?? "0",
                    status: row["status"] ?? "", nearTxHash: row["near_tx_hash"])
            }
        }
    }

    /// A rise of an account's verifier balance of one asset's token, and how much of it
    /// observations credited earlier already took.
    public struct BalanceRise: Sendable {
        public var snapshotID: String
        /// The verifier token that rose.
        public var token: String
        public var at: Date
        public var rise: String
        /// What observations of the chains and assets routed to this token already took.
        public var used: String
        /// The account whose balance rose.
        public var account: String? = nil
    }

    /// The intents account of an observation's handle (alias `o`): the handle it was booked
    /// under, by its key (chain, network, address, asset: one index lookup). Adapters report the
    /// handle's own spelling of the address.
    static func handleAccount(_ o: String) -> String { handleColumn("account_id", o) }

    /// One column of an observation's handle (alias `o`), by the handle's key.
    public static func handleColumn(_ column: String, _ o: String) -> String {
        """
        (SELECT h.\(column) FROM funding_handles h
         WHERE h.chain = \(o).chain AND h.network = \(o).network AND h.address = \(o).address AND h.asset = \(o).asset)
        """
    }

    /// Which verifier token one asset of one chain is credited as.
    public struct TokenRoute: Sendable, Equatable {
        public var chain: String
        public var asset: String
        public var token: String

        public init(chain: String, asset: String, token: String) {
            self.chain = chain
            self.asset = asset
            self.token = token
        }
    }

    /// Rises between consecutive snapshots of each account, for the tokens of `routes`, at or
    /// after `since`, with what observations routed to each token already used of each.
    public func balanceRises(routes: [TokenRoute], since: Date) async throws -> [BalanceRise] {
        let params = [
            PGArray.literal(routes.map(\.chain)), PGArray.literal(routes.map(\.asset)), PGArray.literal(routes.map(\.token)),
            Timestamp.string(since),
        ]
        return try await pool.withConnection { conn in
            try conn.query(
                """
                WITH routes AS (
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS r(chain, asset, token)),
                deltas AS (
                    SELECT s.snapshot_id, s.occurred_at, s.account_id, t.token,
                        (s.balances->>t.token)::numeric - LAG((s.balances->>t.token)::numeric)
                            OVER (PARTITION BY s.account_id, t.token ORDER BY s.occurred_at, s.id) AS delta
                    FROM credit_snapshots s JOIN (SELECT DISTINCT token FROM routes) t ON s.balances ? t.token)
                SELECT x.snapshot_id, x.account_id, x.token, EXTRACT(EPOCH FROM x.occurred_at)::float8 AS at, x.delta::text AS rise,
                    (SELECT COALESCE(sum(u.amount), 0) FROM funding_observations u
                      WHERE u.verifier_snapshot_id = x.snapshot_id AND (u.verifier_token = x.token OR (u.verifier_token IS NULL
                        AND EXISTS (SELECT 1 FROM routes r WHERE r.chain = u.chain AND r.asset = u.asset AND r.token = x.token))))::text AS used
                FROM deltas x WHERE x.delta > 0 AND x.occurred_at >= $4::timestamptz
                ORDER BY x.occurred_at, x.snapshot_id
                """, params
            ).map { row in
                BalanceRise(
                    snapshotID: row["snapshot_id"] ?? "", token: row["token"] ?? "", at: Self.epoch(row["at"]),
                    rise: row["rise"] ?? "0", used: row["used"] ?? "0", account: row["account_id"])
            }
        }
    }

    /// Links an observation to a deposit without changing its state (a `bridge_linked` event):
    /// only when it has no link yet. Returns false when it already had one.
    @discardableResult
    public func link(observationID: Int, depositID: String, match: String, at: Date) async throws -> Bool {
        let topic = observationsTopic
        return try await pool.transaction { conn in
            guard let row = try conn.query(
                "UPDATE funding_observations SET bridge_deposit_id = $2, credit_match = $3 WHERE id = $1 AND bridge_deposit_id IS NULL RETURNING state, reason",
                [String(observationID), depositID, match]).first,
                let state = row["state"].flatMap(FundingState.init(rawValue:))
            else { return false }
            try FundingRepository.appendEvent(
                conn: conn, observationID: observationID, kind: "bridge_linked", state: state, previous: state, reason: row["reason"],
                ids: (depositID, nil, nil), at: Timestamp.string(at), topic: topic, match: match)
            return true
        }
    }

    static func epoch(_ text: String?) -> Date {
        Date(timeIntervalSince1970: text.flatMap(Double.init) ?? 0)
    }
}
