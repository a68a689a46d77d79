import WatchCore

/// A `funding_observations` row as the API serves it.
public struct ObservationRecord: Sendable, Equatable {
    public var id: Int
    public var chain: String
    public var network: String
    public var asset: String
    public var address: String
    public var txHash: String
    public var outputIndex: Int
    public var amount: String
    public var state: String
    public var reason: String?
    public var replacedBy: String?
    /// The fee bump that paid the same handle again, while this transfer is closed by it.
    public var supersededBy: String?
    /// The replacement that paid no watched handle (`funding_double_spent`).
    public var doubleSpentBy: String?
    public var confirmations: Int
    public var blockHeight: Int?
    public var blockHash: String?
    public var bridgeDepositId: String?
    public var nearTxHash: String?
    public var verifierSnapshotId: String?
    /// How the credit link was made (`tx_hash`, `address_amount`, `address_sum`, `verifier_delta`).
    public var creditMatch: String?
    public var firstSeenAt: String
    public var confirmedAt: String?
    public var creditedAt: String?
    public var updatedAt: String
    /// The intents account of the observation's handle (read with `FundingRepository.columnsWithAccount`).
    public var account: String? = nil
    /// The bridge of the observation's handle, and what its linked bridge record says: status,
    /// the amount the bridge credits and its fee (read with `columnsWithAccount`).
    public var bridge: String? = nil
    public var bridgeStatus: String? = nil
    public var bridgeAmount: String? = nil
    public var bridgeFee: String? = nil

    /// The row `ObservationBatch` just inserted for `o` under `id`, as it was written.
    init(id: Int, inserted o: ChainObservation) {
        let at = Timestamp.string(o.observedAt)
        self.id = id
        chain = o.key.chain
        network = o.network
        asset = o.asset
        address = o.address
        txHash = o.key.txHash
        outputIndex = o.key.outputIndex
        amount = o.amount.description
        state = o.target.state.rawValue
        reason = nil
        replacedBy = nil
        supersededBy = nil
        doubleSpentBy = nil
        confirmations = o.confirmations
        blockHeight = o.block?.height
        blockHash = o.block?.hash
        bridgeDepositId = nil
        nearTxHash = nil
        verifierSnapshotId = nil
        creditMatch = nil
        firstSeenAt = at
        confirmedAt = o.target.state == .seenConfirmed ? at : nil
        creditedAt = nil
        updatedAt = at
    }

    init(row: PGRow) {
        id = row.int("id") ?? 0
        chain = row["chain"] ?? ""
        network = row["network"] ?? ""
        asset = row["asset"] ?? ""
        address = row["address"] ?? ""
        txHash = row["tx_hash"] ?? ""
        outputIndex = row.int("output_index") ?? 0
        amount = row["amount"] ?? "0"
        state = row["state"] ?? ""
        reason = row["reason"]
        replacedBy = row["replaced_by"]
        supersededBy = row["superseded_by"]
        doubleSpentBy = row["double_spent_by"]
        confirmations = row.int("confirmations") ?? 0
        blockHeight = row.int("block_height")
        blockHash = row["block_hash"]
        bridgeDepositId = row["bridge_deposit_id"]
        account = row["account_id"]
        bridge = row["handle_bridge"]
        bridgeStatus = row["bridge_status"]
        bridgeAmount = row["bridge_amount"]
        bridgeFee = row["bridge_fee"]
        nearTxHash = row["near_tx_hash"]
        verifierSnapshotId = row["verifier_snapshot_id"]
        creditMatch = row["credit_match"]
        firstSeenAt = row["first_seen_at"] ?? ""
        confirmedAt = row["confirmed_at"]
        creditedAt = row["credited_at"]
        updatedAt = row["updated_at"] ?? ""
    }

    /// The API shape. `amount` is the chain amount in base units: pre-credit visibility,
    /// never a spendable balance.
    public var json: JSONValue {
        [
            "id": .int(Int64(id)), "chain": .string(chain), "network": .string(network), "asset": .string(asset),
            "address": .string(address), "tx_hash": .string(txHash), "output_index": .int(Int64(outputIndex)),
            "amount": .string(amount), "state": .string(state), "reason": .optional(reason), "account": .optional(account),
            "replaced_by": .optional(replacedBy), "superseded_by": .optional(supersededBy),
            "double_spent_by": .optional(doubleSpentBy), "confirmations": .int(Int64(confirmations)),
            "block_height": .optional(blockHeight), "block_hash": .optional(blockHash),
            "bridge_deposit_id": .optional(bridgeDepositId), "near_tx_hash": .optional(nearTxHash),
            "verifier_snapshot_id": .optional(verifierSnapshotId), "match": .optional(creditMatch), "first_seen_at": .string(firstSeenAt),
            "confirmed_at": .optional(confirmedAt), "credited_at": .optional(creditedAt),
            "updated_at": .string(updatedAt), "pending_credit": .bool(state != "CREDITED" && state != "FAILED_OR_STUCK"),
            "bridge": .optional(bridge), "bridge_status": .optional(bridgeStatus), "bridge_amount": .optional(bridgeAmount),
            "bridge_fee": .optional(bridgeFee),
        ]
    }
}

/// A `funding_observation_events` row: one step of a transfer's timeline.
public struct ObservationEventRecord: Sendable, Equatable {
    public var kind: String
    public var state: String
    public var previousState: String?
    public var reason: String?
    public var confirmations: Int
    public var blockHeight: Int?
    public var blockHash: String?
    public var bridgeDepositId: String?
    public var nearTxHash: String?
    public var verifierSnapshotId: String?
    public var eventId: String
    public var at: String
    /// How a credit link was made, on the event that made it.
    public var match: String?
    public var details: JSONValue?

    init(row: PGRow) {
        kind = row["kind"] ?? ""
        state = row["state"] ?? ""
        previousState = row["previous_state"]
        reason = row["reason"]
        confirmations = row.int("confirmations") ?? 0
        blockHeight = row.int("block_height")
        blockHash = row["block_hash"]
        bridgeDepositId = row["bridge_deposit_id"]
        nearTxHash = row["near_tx_hash"]
        verifierSnapshotId = row["verifier_snapshot_id"]
        eventId = row["event_id"] ?? ""
        at = row["at"] ?? ""
        match = row["match"]
        details = row["details"].flatMap { try? JSONValue.parse(Array($0.utf8)) }
    }

    public var json: JSONValue {
        [
            "kind": .string(kind), "state": .string(state), "previous_state": .optional(previousState),
            "reason": .optional(reason), "confirmations": .int(Int64(confirmations)),
            "block_height": .optional(blockHeight), "block_hash": .optional(blockHash),
            "bridge_deposit_id": .optional(bridgeDepositId), "near_tx_hash": .optional(nearTxHash),
            "verifier_snapshot_id": .optional(verifierSnapshotId), "event_id": .string(eventId), "at": .string(at),
            "match": .optional(match), "details": details ?? .null,
        ]
    }
}

/// Filters for listing observations.
public struct ObservationFilter: Sendable {
    public var chain: String?
    public var address: String?
    public var state: FundingState?
    public var limit: Int

    public init(chain: String? = nil, address: String? = nil, state: FundingState? = nil, limit: Int = 100) {
        self.chain = chain
        self.address = address
        self.state = state
        self.limit = limit
    }
}
