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
                """
                UPDATE funding_observations SET state = 'FAILED_OR_STUCK', reason = $2, updated_at = $3::timestamptz,
                    state_since = $3::timestamptz
                WHERE id = $1
                """, [String(id), reason.description, atText])
            try Self.appendEvent(
                conn: conn, observationID: id, kind: "manual_stuck", state: .failedOrStuck, previous: previous,
                reason: reason.description, ids: (nil, nil, nil), at: atText, topic: topic)
            guard let after = try conn.query("SELECT \(Self.columnsWithAccount) FROM \(Self.withLinkedDeposit) WHERE id = $1", [String(id)]).first
            else { throw PostgresError.unexpectedResult("observation \(id) vanished") }
            return .marked(ObservationRecord(row: after))
        }
    }
}
