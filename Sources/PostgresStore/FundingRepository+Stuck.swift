import Foundation
import WatchCore

/// What a manual stuck marking did.
public enum StuckMarking: Sendable, Equatable {
    case marked(ObservationRecord)
    case notFound
    /// The state machine refuses it (a `CREDITED` transfer is final).
    case refused(IllegalFundingTransition)
}

extension FundingRepository {
    /// Marks observation `id` `FAILED_OR_STUCK` with reason `manual: <text>` through the state
    /// machine, appending an observation event and its outbox event in the same transaction.
    public func markStuck(id: Int, text: String, at: Date) async throws -> StuckMarking {
        let topic = observationsTopic
        return try await pool.transaction { conn -> StuckMarking in
            guard let row = try conn.query("SELECT \(Self.columns) FROM funding_observations WHERE id = $1 FOR UPDATE", [String(id)]).first
            else { return .notFound }
            let before = ObservationRecord(row: row)
            let previous = FundingState(rawValue: before.state)
            let reason = FundingReason.manual(text)
            do throws(IllegalFundingTransition) {
                _ = try FundingStateMachine.transition(from: previous, to: .failedOrStuck(reason))
            } catch {
                return .refused(error)
            }
            let atText = Timestamp.string(at)
            try conn.query(
                "UPDATE funding_observations SET state = 'FAILED_OR_STUCK', reason = $2, updated_at = $3::timestamptz WHERE id = $1",
                [String(id), reason.description, atText])
            let eventID = UUID().uuidString.lowercased()
            try conn.query(
                """
                INSERT INTO funding_observation_events (observation_id, kind, state, previous_state, reason, confirmations,
                    block_height, block_hash, event_id, at)
                VALUES ($1, 'manual_stuck', 'FAILED_OR_STUCK', $2, $3, $4, $5, $6, $7::uuid, $8::timestamptz)
                """,
                [String(id), before.state, reason.description, String(before.confirmations), before.blockHeight.map(String.init),
                 before.blockHash, eventID, atText])
            let payload: JSONValue = [
                "schema": "unrip.funding_observation.v1", "event_id": .string(eventID), "occurred_at": .string(atText),
                "observation_id": .int(Int64(id)), "chain": .string(before.chain), "network": .string(before.network),
                "asset": .string(before.asset), "address": .string(before.address), "tx_hash": .string(before.txHash),
                "output_index": .int(Int64(before.outputIndex)), "amount": .string(before.amount), "kind": "manual_stuck",
                "state": "FAILED_OR_STUCK", "previous_state": .optional(previous?.rawValue),
                "reason": .string(reason.description), "replaced_by": .optional(before.replacedBy),
                "confirmations": .int(Int64(before.confirmations)), "block_height": .optional(before.blockHeight),
                "block_hash": .optional(before.blockHash),
            ]
            try Outbox.enqueue(conn: conn, topic: topic, key: before.address, eventID: eventID, payload: payload)
            guard let after = try conn.query("SELECT \(Self.columns) FROM funding_observations WHERE id = $1", [String(id)]).first
            else { throw PostgresError.unexpectedResult("observation \(id) vanished") }
            return .marked(ObservationRecord(row: after))
        }
    }
}
