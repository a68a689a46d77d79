import Foundation
import Synchronization

/// One plugin's lease as the database holds it.
public struct PluginLeaseRow: Sendable, Equatable {
    public let plugin: String
    public let holder: String
    public let epoch: Int64
    public let expiresAt: Date
}

/// `plugin_leases`: take, renew and release a plugin's lease on the database's clock (`now()`).
/// A lease is taken when free, expired, or already ours; each change of holder bumps `epoch`.
public struct PluginLeaseStore: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// Takes or renews `plugin` for `holder` until `now() + seconds`. `held` says whether it is
    /// ours now; `row` is the lease as it stands (another holder's, unexpired, when not).
    public func acquire(_ plugin: String, holder: String, seconds: Int) async throws -> (held: Bool, row: PluginLeaseRow?) {
        try await pool.withConnection { conn in
            let taken = try conn.query(
                """
                INSERT INTO plugin_leases (plugin, holder, epoch, expires_at)
                VALUES ($1, $2, 1, now() + make_interval(secs => $3::int))
                ON CONFLICT (plugin) DO UPDATE SET
                    holder = EXCLUDED.holder,
                    epoch = CASE WHEN plugin_leases.holder = EXCLUDED.holder THEN plugin_leases.epoch ELSE plugin_leases.epoch + 1 END,
                    acquired_at = CASE WHEN plugin_leases.holder = EXCLUDED.holder THEN plugin_leases.acquired_at ELSE now() END,
                    expires_at = EXCLUDED.expires_at,
                    renewed_at = now()
                WHERE plugin_leases.holder = EXCLUDED.holder OR plugin_leases.expires_at <= now()
                RETURNING plugin, holder, epoch, extract(epoch FROM expires_at)::float8 AS expires
                """, [plugin, holder, String(seconds)]
            ).first.flatMap(Self.row)
            if let taken { return (true, taken) }
            let current = try conn.query(
                "SELECT plugin, holder, epoch, extract(epoch FROM expires_at)::float8 AS expires FROM plugin_leases WHERE plugin = $1",
                [plugin]
            ).first.flatMap(Self.row)
            return (false, current)
        }
    }

    /// Ends the lease now if `holder` still has it at `epoch` (a standby may take it at once).
    public func release(_ plugin: String, holder: String, epoch: Int64) async throws {
        try await pool.withConnection { conn in
            _ = try conn.query(
                "UPDATE plugin_leases SET expires_at = now() WHERE plugin = $1 AND holder = $2 AND epoch = $3",
                [plugin, holder, String(epoch)])
        }
    }

    /// Every lease, by plugin.
    public func all() async throws -> [PluginLeaseRow] {
        try await pool.withConnection { conn in
            try conn.query(
                "SELECT plugin, holder, epoch, extract(epoch FROM expires_at)::float8 AS expires FROM plugin_leases ORDER BY plugin"
            ).compactMap(Self.row)
        }
    }

    static func row(_ r: PGRow) -> PluginLeaseRow? {
        guard let plugin = r["plugin"], let holder = r["holder"], let epoch = r["epoch"].flatMap({ Int64($0) }),
            let expires = r["expires"].flatMap(Double.init)
        else { return nil }
        return PluginLeaseRow(plugin: plugin, holder: holder, epoch: epoch, expiresAt: Date(timeIntervalSince1970: expires))
    }
}

/// Thrown by a fenced commit whose plugin no longer holds its lease at the epoch it runs under.
public struct LeaseLost: Error, CustomStringConvertible {
    public let plugin: String
    public let epoch: Int64?
    public var description: String {
        "lease of \(plugin) lost\(epoch.map { " (epoch \($0))" } ?? ""): another host holds it; nothing was committed"
    }
}

/// The check a fenced pool runs in every transaction before COMMIT: this holder still holds
/// `plugin` at the epoch it acquired, unexpired by the database's clock. The row is
/// share-locked, so a takeover (an UPDATE of it) waits until this commit ends.
public final class PostgresFence: Sendable {
    public let plugin: String
    public let holder: String
    private let held = Mutex<Int64?>(nil)

    public init(plugin: String, holder: String) {
        self.plugin = plugin
        self.holder = holder
    }

    /// The epoch commits run under; nil (no lease) makes every fenced commit fail.
    public var epoch: Int64? {
        get { held.withLock { $0 } }
    }

    public func hold(_ epoch: Int64?) { held.withLock { $0 = epoch } }

    /// A transaction that wrote nothing (no transaction id assigned) passes: reads need no lease
    /// (a standby restores its trackers through the same pool).
    func check(_ conn: PGConnection) throws {
        let wrote = try conn.query("SELECT txid_current_if_assigned() IS NOT NULL AS wrote").first?.bool("wrote") ?? true
        guard wrote else { return }
        guard let epoch else { throw LeaseLost(plugin: plugin, epoch: nil) }
        let rows = try conn.query(
            """
            SELECT 1 FROM plugin_leases
            WHERE plugin = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp()
            FOR SHARE
            """, [plugin, holder, String(epoch)])
        guard !rows.isEmpty else { throw LeaseLost(plugin: plugin, epoch: epoch) }
    }
}
