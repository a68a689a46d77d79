import Foundation
import WatchCore

/// Omni Bridge handles: deposit addresses derived from a DepositMsg, stored with its exact bytes.
extension FundingRepository {
    /// An active Omni handle as stored.
    public struct OmniHandle: Sendable, Equatable {
        public var id: Int
        public var account: String?
        public var address: String
        public var asset: String
        public var source: String
        /// The DepositMsg bytes the address was derived from; nil for a config handle not yet checked.
        public var depositMessage: String?
    }

    /// The active Omni handles of `chain`, oldest first.
    public func omniHandles(chain: ChainName) async throws -> [OmniHandle] {
        try await pool.withConnection { conn in
            try conn.query(
                "SELECT id, account_id, address, asset, source, deposit_msg FROM funding_handles WHERE chain = $1 AND bridge = 'omni' AND active ORDER BY id",
                [chain]
            ).map { row in
                OmniHandle(
                    id: row.int("id") ?? 0, account: row["account_id"], address: row["address"] ?? "", asset: row["asset"] ?? "",
                    source: row["source"] ?? "", depositMessage: row["deposit_msg"])
            }
        }
    }

    public struct OmniAddressTaken: Error, CustomStringConvertible {
        public let address: String
        public var description: String { "address \(address) is already a handle of another bridge; it stays as it is" }
    }

    /// Records the address Omni gave for `handle.depositMessage` (source `omni`): added when new,
    /// else marked refreshed. An existing Omni row of the address keeps its source and its stored
    /// message (the first bytes stay the reference); a row of another bridge is never taken over
    /// (`OmniAddressTaken`). True when a row was added.
    @discardableResult
    public func recordOmniHandle(_ handle: FundingHandle, at: Date) async throws -> Bool {
        let stamp = Timestamp.string(at)
        return try await pool.withConnection { conn in
            let row = try conn.query(
                """
                INSERT INTO funding_handles (chain, network, asset, address, label, source, active, account_id, bridge, deposit_msg,
                    last_refreshed_at, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, 'omni', TRUE, $6, 'omni', $7, $8::timestamptz, $8::timestamptz, $8::timestamptz)
                ON CONFLICT (chain, network, address, asset) DO UPDATE SET last_refreshed_at = EXCLUDED.last_refreshed_at, active = TRUE,
                    retired_at = NULL, retire_reason = NULL, account_id = COALESCE(funding_handles.account_id, EXCLUDED.account_id),
                    deposit_msg = COALESCE(funding_handles.deposit_msg, EXCLUDED.deposit_msg)
                WHERE funding_handles.bridge = 'omni'
                RETURNING (xmax = 0) AS inserted
                """, [handle.chain, handle.network, handle.asset, handle.address, handle.label, handle.account, handle.depositMessage, stamp]
            ).first
            guard let row else { throw OmniAddressTaken(address: handle.address) }
            return row.bool("inserted") ?? false
        }
    }

    /// Stores the DepositMsg a config or HTTP Omni handle was checked with, when it had none.
    public func setDepositMessage(handleID: Int, _ message: String, at: Date) async throws {
        _ = try await pool.withConnection { conn in
            try conn.query(
                "UPDATE funding_handles SET deposit_msg = COALESCE(deposit_msg, $2), last_refreshed_at = $3::timestamptz WHERE id = $1",
                [String(handleID), message, Timestamp.string(at)])
        }
    }
}
