import Foundation
import WatchCore

/// `notify_deposit` bookkeeping: which transfers to bridge-given handles the bridge was told of.
extension CreditRepository {
    /// One transaction paying one bridge-given handle, not yet notified.
    public struct Unnotified: Sendable, Equatable {
        public var chain: String
        public var address: String
        public var txHash: String
        public var observationIDs: [Int]
    }

    /// Open transfers of `chains` to handles the bridge handed out (source `bridge`, or a config
    /// handle the bridge also returned), never notified, grouped
    /// by (chain, address, tx hash), oldest first.
    public func unnotified(chains: [String], limit: Int = 100) async throws -> [Unnotified] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT o.chain, o.address, o.tx_hash, string_agg(o.id::text, ',' ORDER BY o.id) AS ids
                FROM funding_observations o
                WHERE o.chain = ANY($1::text[]) AND o.bridge_notified_at IS NULL
                  AND o.state IN ('SEEN_UNCONFIRMED', 'SEEN_CONFIRMED', 'CREDIT_PENDING')
                  AND EXISTS (SELECT 1 FROM funding_handles h
                              WHERE h.chain = o.chain AND h.address = o.address AND h.asset = o.asset
                                AND (h.source = 'bridge' OR h.last_refreshed_at IS NOT NULL) AND h.bridge IS DISTINCT FROM 'omni')
                GROUP BY o.chain, o.address, o.tx_hash
                ORDER BY min(o.id) LIMIT $2
                """, [PGArray.literal(chains), String(limit)]
            ).map { row in
                Unnotified(
                    chain: row["chain"] ?? "", address: row["address"] ?? "", txHash: row["tx_hash"] ?? "",
                    observationIDs: (row["ids"] ?? "").split(separator: ",").compactMap { Int($0) })
            }
        }
    }

    /// Records that the bridge was notified of these observations, each with a `bridge_notified`
    /// timeline event; an observation already marked is left alone (at most once per transfer).
    public func markNotified(_ ids: [Int], at: Date) async throws {
        let topic = observationsTopic
        let stamp = Timestamp.string(at)
        try await pool.transaction { conn in
            for id in ids {
                guard let row = try conn.query(
                    "UPDATE funding_observations SET bridge_notified_at = $2::timestamptz WHERE id = $1 AND bridge_notified_at IS NULL RETURNING state, reason",
                    [String(id), stamp]).first,
                    let state = row["state"].flatMap(FundingState.init(rawValue:))
                else { continue }
                try FundingRepository.appendEvent(
                    conn: conn, observationID: id, kind: "bridge_notified", state: state, previous: state, reason: row["reason"],
                    ids: (nil, nil, nil), at: stamp, topic: topic)
            }
        }
    }
}
