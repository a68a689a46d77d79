import Foundation
import WatchCore

/// The handle lifecycle: bridge-given addresses, rotations, handles added and retired at
/// runtime. Nothing is deleted: a retired handle keeps its row and is watched for a while.
extension FundingRepository {
    public enum BridgeAddressChange: Sendable, Equatable {
        case unchanged
        case added
        case rotated(from: String)
    }

    /// Records the address `deposit_address` returned for (chain, account): a new one becomes the
    /// active handle (a config handle with the same address is adopted: it gets the account and
    /// keeps `source = config`), and the one it replaces is retired (reason `rotated`); the new
    /// row keeps the old address, with `alert_until = at + alertFor` for the `deposit_address_changed` alert.
    public func recordBridgeAddress(
        _ handle: FundingHandle, account: String, at: Date, alertFor: TimeInterval
    ) async throws -> BridgeAddressChange {
        let stamp = Timestamp.string(at), until = Timestamp.string(at.addingTimeInterval(alertFor))
        return try await pool.transaction { conn in
            let current = try conn.query(
                """
                SELECT id, address FROM funding_handles
                WHERE chain = $1 AND account_id = $2 AND active AND asset = $3 AND bridge IS DISTINCT FROM 'omni' FOR UPDATE
                """, [handle.chain, account, handle.asset])
            if current.contains(where: { $0["address"] == handle.address }) {
                try conn.query(
                    "UPDATE funding_handles SET last_refreshed_at = $3::timestamptz WHERE chain = $1 AND account_id = $2 AND address = $4",
                    [handle.chain, account, stamp, handle.address])
                return .unchanged
            }
            let old = current.first?["address"]
            if old != nil {
                try conn.query(
                    """
                    UPDATE funding_handles SET active = FALSE, retired_at = $3::timestamptz, retire_reason = 'rotated', updated_at = $3::timestamptz
                    WHERE chain = $1 AND account_id = $2 AND active AND asset = $4 AND bridge IS DISTINCT FROM 'omni'
                    """, [handle.chain, account, stamp, handle.asset])
            }
            try conn.query(
                """
                INSERT INTO funding_handles (chain, network, asset, address, label, source, active, account_id, last_refreshed_at,
                    replaced_address, alert_until, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, 'bridge', TRUE, $6, $7::timestamptz, $8, CASE WHEN $8::text IS NULL THEN NULL ELSE $9::timestamptz END,
                    $7::timestamptz, $7::timestamptz)
                ON CONFLICT (chain, network, address, asset) DO UPDATE SET active = TRUE, retired_at = NULL, retire_reason = NULL,
                    account_id = EXCLUDED.account_id, last_refreshed_at = EXCLUDED.last_refreshed_at,
                    replaced_address = COALESCE(EXCLUDED.replaced_address, funding_handles.replaced_address),
                    alert_until = COALESCE(EXCLUDED.alert_until, funding_handles.alert_until), updated_at = EXCLUDED.updated_at
                """, [handle.chain, handle.network, handle.asset, handle.address, handle.label, account, stamp, old, until])
            return old.map { .rotated(from: $0) } ?? .added
        }
    }

    /// The handles an adapter of `chain` watches now: every active one, and retired ones for
    /// `retiredWatch` seconds after they were retired (senders pay old addresses).
    public func watchedHandles(chain: ChainName, retiredWatch: TimeInterval, now: Date) async throws -> [FundingHandle] {
        try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT chain, network, asset, address, label, source,
                    CASE WHEN rescan_done_at IS NULL THEN rescan_from END AS rescan_from
                FROM funding_handles
                WHERE chain = $1 AND (active OR (retired_at IS NOT NULL AND retired_at > $2::timestamptz))
                ORDER BY id
                """, [chain, Timestamp.string(now.addingTimeInterval(-retiredWatch))]
            ).map { row in
                FundingHandle(
                    chain: row["chain"] ?? chain, network: row["network"] ?? "", asset: row["asset"] ?? "",
                    address: row["address"] ?? "", label: row["label"] ?? "", source: row["source"] ?? "",
                    rescanFrom: row.int("rescan_from"))
            }
        }
    }

    /// Records that the history scan of a handle reached the cursor: it is not repeated.
    public func markRescanDone(_ handle: FundingHandle, at: Date) async throws {
        _ = try await pool.withConnection { conn in
            try conn.query(
                """
                UPDATE funding_handles SET rescan_done_at = $5::timestamptz, updated_at = $5::timestamptz
                WHERE chain = $1 AND network = $2 AND address = $3 AND asset = $4 AND rescan_done_at IS NULL
                """, [handle.chain, handle.network, handle.address, handle.asset, Timestamp.string(at)])
        }
    }

    /// What adding a handle at runtime did.
    public enum HandleAddition: Sendable, Equatable {
        case added(id: Int)
        /// The same address and asset were retired: watched again (label kept unless a new one was given).
        case reactivated(id: Int)
        /// The chain watches that address already (active, or retired within the watch window),
        /// or under another asset: nothing changed. An adapter keys handles by address, so two
        /// rows for one address would silently take each other's deposits.
        case conflict(id: Int, handle: FundingHandle, active: Bool)
    }

    /// Adds a handle at runtime (`source = api`), unless its chain already watches an address
    /// with the same `addressKey` (upper and lower case of one EVM address are one). Checked and
    /// written under a per-chain transaction lock, so two concurrent requests cannot both add.
    public func addHandle(
        _ handle: FundingHandle, rescanFrom: Int?, at: Date, retiredWatch: TimeInterval,
        addressKey: @escaping @Sendable (String) -> String
    ) async throws -> HandleAddition {
        let stamp = Timestamp.string(at), key = addressKey(handle.address)
        return try await pool.transaction { conn in
            try conn.query("SELECT pg_advisory_xact_lock(hashtextextended('unrip-watch handles ' || $1, 0))", [handle.chain])
            let rows = try conn.query(
                """
                SELECT id, network, asset, address, label, source, active,
                    (active OR (retired_at IS NOT NULL AND retired_at > $2::timestamptz)) AS watched
                FROM funding_handles WHERE chain = $1 ORDER BY id
                """, [handle.chain, Timestamp.string(at.addingTimeInterval(-retiredWatch))])
            // Every row of the address, in any spelling, before anything is written: a watched
            // one that is not this very handle retired is a conflict, wherever it stands.
            let matches = rows.filter { addressKey($0["address"] ?? "") == key }
            func isThisHandle(_ row: PGRow) -> Bool {
                row["address"] == handle.address && row["asset"] == handle.asset && row["network"] == handle.network
            }
            if let blocking = matches.first(where: { $0.bool("watched") == true && !(isThisHandle($0) && $0.bool("active") != true) }) {
                let existing = FundingHandle(
                    chain: handle.chain, network: blocking["network"] ?? "", asset: blocking["asset"] ?? "", address: blocking["address"] ?? "",
                    label: blocking["label"] ?? "", source: blocking["source"] ?? "")
                return .conflict(id: blocking.int("id") ?? 0, handle: existing, active: blocking.bool("active") == true)
            }
            if let retired = matches.first(where: isThisHandle), let id = retired.int("id") {
                try conn.query(
                    """
                    UPDATE funding_handles SET active = TRUE, retired_at = NULL, retire_reason = NULL,
                        label = COALESCE(NULLIF($2, ''), label), rescan_from = COALESCE($3::bigint, rescan_from),
                        rescan_done_at = CASE WHEN $3::bigint IS NULL THEN rescan_done_at END, updated_at = $4::timestamptz,
                        account_id = COALESCE($5, account_id), bridge = COALESCE($6, bridge), deposit_msg = COALESCE($7, deposit_msg)
                    WHERE id = $1
                    """, [String(id), handle.label, rescanFrom.map(String.init), stamp, handle.account, handle.bridge, handle.depositMessage])
                return .reactivated(id: id)
            }
            guard let row = try conn.query(
                """
                INSERT INTO funding_handles (chain, network, asset, address, label, source, active, rescan_from, created_at, updated_at, account_id,
                    bridge, deposit_msg)
                VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7::bigint, $8::timestamptz, $8::timestamptz, $9, $10, $11)
                RETURNING id
                """, [handle.chain, handle.network, handle.asset, handle.address, handle.label, handle.source, rescanFrom.map(String.init), stamp, handle.account,
                       handle.bridge, handle.depositMessage]
            ).first, let id = row.int("id")
            else { throw PostgresError.unexpectedResult("INSERT … RETURNING gave no row for a handle") }
            return .added(id: id)
        }
    }

    /// Retires handle `id` (kept, still watched for the retired window). Nil when there is no
    /// such handle; false when it was already retired.
    public func retireHandle(id: Int, reason: String, at: Date) async throws -> (chain: ChainName, retired: Bool)? {
        try await pool.withConnection { conn in
            guard let row = try conn.query("SELECT chain, active FROM funding_handles WHERE id = $1", [String(id)]).first else { return nil }
            let chain = row["chain"] ?? ""
            guard row.bool("active") == true else { return (chain, false) }
            try conn.query(
                """
                UPDATE funding_handles SET active = FALSE, retired_at = $2::timestamptz, retire_reason = $3, updated_at = $2::timestamptz
                WHERE id = $1
                """, [String(id), Timestamp.string(at), reason])
            return (chain, true)
        }
    }

    /// Rotations whose `deposit_address_changed` alert still holds at `now`.
    public struct Rotation: Sendable, Equatable {
        public var chain: String
        public var accountID: String
        public var oldAddress: String
        public var newAddress: String
        public var rotatedAt: Date
        public var alertUntil: Date
    }

    public static func rotations(_ conn: PGConnection, now: Date) throws -> [Rotation] {
        try conn.query(
            """
            SELECT chain, account_id, replaced_address, address, EXTRACT(EPOCH FROM updated_at)::float8 AS at,
                EXTRACT(EPOCH FROM alert_until)::float8 AS until
            FROM funding_handles
            WHERE account_id IS NOT NULL AND replaced_address IS NOT NULL AND alert_until > $1::timestamptz
            ORDER BY id
            """, [Timestamp.string(now)]
        ).map { row in
            Rotation(
                chain: row["chain"] ?? "", accountID: row["account_id"] ?? "", oldAddress: row["replaced_address"] ?? "",
                newAddress: row["address"] ?? "", rotatedAt: CreditRepository.epoch(row["at"]), alertUntil: CreditRepository.epoch(row["until"]))
        }
    }
}
