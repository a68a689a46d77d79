import Foundation
import WatchCore

extension FundingRepository {
    /// One timeline step of an observation, described by the row as stored after the step: the
    /// `funding_observation_events` row and the `unrip.funding_observation.v1` outbox event
    /// every writer (chain pipeline, reconciler, manual marking) publishes in the same shape.
    struct TimelineEvent {
        let record: ObservationRecord
        let kind: String
        let state: FundingState
        let previous: FundingState?
        let reason: String?
        var ids: (deposit: String?, nearTx: String?, snapshot: String?) = (nil, nil, nil)
        let at: String
        /// How a credit link was made, on the event that made it; figures such as a minimum.
        var match: String? = nil
        var details: JSONValue? = nil
        /// The Kafka message key: the handle's address.
        var key: String { record.address }
        let eventID = EventID.make()

        var depositID: String? { ids.deposit ?? record.bridgeDepositId }
        var nearTxHash: String? { ids.nearTx ?? record.nearTxHash }
        var snapshotID: String? { ids.snapshot ?? record.verifierSnapshotId }

        var payload: JSONValue {
            guard match != nil || details != nil || record.supersededBy != nil, case .object(var fields) = basePayload else { return basePayload }
            if let match { fields["match"] = .string(match) }
            if let by = record.supersededBy { fields["superseded_by"] = .string(by) }
            if let details { fields["details"] = details }
            return .object(fields)
        }

        var basePayload: JSONValue {
            let o = record
            return [
                "schema": "unrip.funding_observation.v1", "event_id": .string(eventID), "occurred_at": .string(at),
                "observation_id": .int(Int64(o.id)), "chain": .string(o.chain), "network": .string(o.network),
                "asset": .string(o.asset), "address": .string(o.address), "tx_hash": .string(o.txHash),
                "output_index": .int(Int64(o.outputIndex)), "amount": .string(o.amount),
                "kind": .string(kind), "state": .string(state.rawValue),
                "previous_state": .optional(previous?.rawValue), "reason": .optional(reason),
                "replaced_by": .optional(o.replacedBy), "confirmations": .int(Int64(o.confirmations)),
                "block_height": .optional(o.blockHeight), "block_hash": .optional(o.blockHash),
                "bridge_deposit_id": .optional(depositID), "near_tx_hash": .optional(nearTxHash),
                "verifier_snapshot_id": .optional(snapshotID),
            ]
        }
    }

    /// Appends timeline events and their outbox rows, in the order given: two statements,
    /// whatever the count.
    static func insertEvents(_ events: [TimelineEvent], conn: PGConnection, topic: String) throws {
        guard !events.isEmpty else { return }
        func column(_ value: (TimelineEvent) -> String?) -> String? { PGArray.literal(events.map(value)) }
        try conn.queryPrepared(
            """
            INSERT INTO funding_observation_events (observation_id, kind, state, previous_state, reason, confirmations,
                block_height, block_hash, bridge_deposit_id, near_tx_hash, verifier_snapshot_id, event_id, at, match, details)
            SELECT u_id, u_kind, u_state, u_previous, u_reason, u_confirmations, u_height, u_hash, u_deposit, u_near,
                   u_snapshot, u_event, u_at, u_match, u_details::jsonb
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[],
                        $9::text[], $10::text[], $11::text[], $12::uuid[], $13::timestamptz[], $14::text[], $15::text[]) WITH ORDINALITY
                 AS u(u_id, u_kind, u_state, u_previous, u_reason, u_confirmations, u_height, u_hash, u_deposit, u_near,
                      u_snapshot, u_event, u_at, u_match, u_details, u_ord)
            ORDER BY u_ord
            """,
            [
                column { String($0.record.id) }, column(\.kind), column(\.state.rawValue), column(\.previous?.rawValue),
                column(\.reason), column { String($0.record.confirmations) }, column { $0.record.blockHeight.map(String.init) },
                column(\.record.blockHash), column(\.depositID), column(\.nearTxHash), column(\.snapshotID), column(\.eventID),
                column(\.at), column(\.match), column { $0.details?.serialized() },
            ])
        try Outbox.enqueue(
            conn: conn, events.map { OutboxEntry(topic: topic, key: $0.key, eventID: $0.eventID, payload: $0.payload) })
    }
}
