import Foundation
import WatchCore

extension FundingRepository {
    /// p50/p90/p99 (seconds) of seen→confirmed, confirmed→credited and seen→credited per chain
    /// and per bridge (the bridge of each transfer's handle), over transfers first seen at or
    /// after `since`, of one chain and one bridge when asked.
    public func latency(chain: String?, since: Date?, bridge: String? = nil) async throws -> JSONValue {
        let rows = try await pool.withConnection { conn in
            try conn.query(
                """
                WITH base AS (
                    SELECT o.chain, o.first_seen_at, o.confirmed_at, o.credited_at,
                        COALESCE(\(CreditRepository.handleColumn("bridge", "o")), 'poa') AS bridge
                    FROM funding_observations o
                    WHERE ($1::text IS NULL OR o.chain = $1) AND ($2::timestamptz IS NULL OR o.first_seen_at >= $2)),
                legs AS (
                    SELECT chain, bridge, 'seen_to_confirmed' AS leg, extract(epoch FROM confirmed_at - first_seen_at) AS s
                      FROM base WHERE confirmed_at IS NOT NULL
                    UNION ALL
                    SELECT chain, bridge, 'confirmed_to_credited', extract(epoch FROM credited_at - confirmed_at)
                      FROM base WHERE credited_at IS NOT NULL AND confirmed_at IS NOT NULL
                    UNION ALL
                    SELECT chain, bridge, 'seen_to_credited', extract(epoch FROM credited_at - first_seen_at)
                      FROM base WHERE credited_at IS NOT NULL)
                SELECT chain, bridge, GROUPING(chain) AS by_bridge, leg, count(*) AS n,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::text AS p50,
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY s)::text AS p90,
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY s)::text AS p99
                FROM legs WHERE ($3::text IS NULL OR bridge = $3)
                GROUP BY GROUPING SETS ((chain, leg), (bridge, leg)) ORDER BY chain, bridge, leg
                """, [chain, since.map(Timestamp.string), bridge])
        }
        var chains: [String: JSONValue] = [:], bridges: [String: JSONValue] = [:]
        for row in rows {
            guard let leg = row["leg"] else { continue }
            func seconds(_ key: String) -> JSONValue { row[key].flatMap(Double.init).map { .double(($0 * 1000).rounded() / 1000) } ?? .null }
            let figures: JSONValue = ["count": .int(Int64(row.int("n") ?? 0)), "p50_s": seconds("p50"), "p90_s": seconds("p90"), "p99_s": seconds("p99")]
            if row.int("by_bridge") == 1, let b = row["bridge"] {
                var legs = bridges[b]?.objectValue ?? [:]
                legs[leg] = figures
                bridges[b] = .object(legs)
            } else if let c = row["chain"] {
                var legs = chains[c]?.objectValue ?? [:]
                legs[leg] = figures
                chains[c] = .object(legs)
            }
        }
        return ["since": .optional(since.map(Timestamp.string)), "bridge": .optional(bridge), "chains": .object(chains), "bridges": .object(bridges)]
    }
}
