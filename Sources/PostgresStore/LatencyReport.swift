import Foundation
import WatchCore

extension FundingRepository {
    /// p50/p90/p99 (seconds) of seen→confirmed, confirmed→credited and seen→credited per chain,
    /// over transfers first seen at or after `since`.
    public func latency(chain: String?, since: Date?) async throws -> JSONValue {
        let rows = try await pool.withConnection { conn in
            try conn.query(
                """
                WITH legs AS (
                    SELECT chain, 'seen_to_confirmed' AS leg, extract(epoch FROM confirmed_at - first_seen_at) AS s
                      FROM funding_observations WHERE confirmed_at IS NOT NULL
                       AND ($1::text IS NULL OR chain = $1) AND ($2::timestamptz IS NULL OR first_seen_at >= $2)
                    UNION ALL
                    SELECT chain, 'confirmed_to_credited', extract(epoch FROM credited_at - confirmed_at)
                      FROM funding_observations WHERE credited_at IS NOT NULL AND confirmed_at IS NOT NULL
                       AND ($1::text IS NULL OR chain = $1) AND ($2::timestamptz IS NULL OR first_seen_at >= $2)
                    UNION ALL
                    SELECT chain, 'seen_to_credited', extract(epoch FROM credited_at - first_seen_at)
                      FROM funding_observations WHERE credited_at IS NOT NULL
                       AND ($1::text IS NULL OR chain = $1) AND ($2::timestamptz IS NULL OR first_seen_at >= $2))
                SELECT chain, leg, count(*) AS n,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::text AS p50,
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY s)::text AS p90,
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY s)::text AS p99
                FROM legs GROUP BY chain, leg ORDER BY chain, leg
                """, [chain, since.map(Timestamp.string)])
        }
        var chains: [String: JSONValue] = [:]
        for row in rows {
            guard let c = row["chain"], let leg = row["leg"] else { continue }
            func seconds(_ key: String) -> JSONValue { row[key].flatMap(Double.init).map { .double(($0 * 1000).rounded() / 1000) } ?? .null }
            var legs = chains[c]?.objectValue ?? [:]
            legs[leg] = ["count": .int(Int64(row.int("n") ?? 0)), "p50_s": seconds("p50"), "p90_s": seconds("p90"), "p99_s": seconds("p99")]
            chains[c] = .object(legs)
        }
        return ["since": .optional(since.map(Timestamp.string)), "chains": .object(chains)]
    }
}
