import Foundation
import WatchCore

/// A bridge deposit as the reconciler weighs it.
public struct BridgeEvidence: Sendable, Equatable {
    public enum Status: String, Sendable {
        case pending = "PENDING", credited = "CREDITED", completed = "COMPLETED", failed = "FAILED"
    }
    public var depositID: String
    public var status: Status
    public var nearTxHash: String?

    public init(depositID: String, status: Status, nearTxHash: String?) {
        self.depositID = depositID
        self.status = status
        self.nearTxHash = nearTxHash
    }
}

/// Time budgets: how long a transfer may wait for each credit step before it is stuck.
public struct CreditPolicy: Sendable, Equatable {
    /// From `SEEN_CONFIRMED` to a bridge record.
    public var noBridgeRecord: TimeInterval
    /// From `CREDIT_PENDING` to credit.
    public var notCredited: TimeInterval

    public init(noBridgeRecord: TimeInterval, notCredited: TimeInterval) {
        self.noBridgeRecord = noBridgeRecord
        self.notCredited = notCredited
    }
}

/// What the reconciler knows about one observation at one moment.
public struct ReconcileInput: Sendable {
    public var state: FundingState
    public var reason: String?
    /// When the observation entered its current state.
    public var stateSince: Date
    public var bridge: BridgeEvidence?
    /// A verifier snapshot that reflects the deposit, when one does.
    public var verifierSnapshotID: String?
    public var now: Date
    /// The token's `min_deposit_amount`, when the transfer's amount is below it.
    public var belowMinimum: Amount?

    public init(state: FundingState, reason: String?, stateSince: Date, bridge: BridgeEvidence?, verifierSnapshotID: String?, now: Date, belowMinimum: Amount? = nil) {
        self.state = state
        self.reason = reason
        self.stateSince = stateSince
        self.bridge = bridge
        self.verifierSnapshotID = verifierSnapshotID
        self.now = now
        self.belowMinimum = belowMinimum
    }
}

/// The reconciler's rules, as a pure function: the next state for an observation, or nil.
/// Only bridge or verifier evidence leads to `CREDITED`; chain data alone never does.
public enum ReconcileDecision {
    public static func next(_ input: ReconcileInput, policy: CreditPolicy) -> FundingTarget? {
        guard input.state != .credited else { return nil }
        if let bridge = input.bridge, bridge.status == .credited || bridge.status == .completed {
            return .credited(.bridgeDeposit(id: bridge.depositID, nearTxHash: bridge.nearTxHash))
        }
        if let snapshot = input.verifierSnapshotID {
            return .credited(.verifierSnapshot(id: snapshot))
        }
        if input.belowMinimum != nil, Self.minimumApplies(to: input) { return .failedOrStuck(.belowMinimumDeposit) }
        let waited = input.now.timeIntervalSince(input.stateSince)
        if input.reason == FundingReason.belowMinimumDeposit.description { return nil }  // only a credit moves it on
        switch (input.state, input.bridge?.status) {
        case (_, .failed):
            return input.reason == FundingReason.bridgeFailed.description ? nil : .failedOrStuck(.bridgeFailed)
        case (.seenConfirmed, .pending):
            return .creditPending
        case (.failedOrStuck, .pending) where input.reason == FundingReason.noBridgeRecordWithinPolicy.description:
            return .creditPending  // the record arrived late
        case (.seenConfirmed, nil) where waited > policy.noBridgeRecord:
            return .failedOrStuck(.noBridgeRecordWithinPolicy)
        case (.creditPending, _) where waited > policy.notCredited:
            return .failedOrStuck(.notCreditedWithinPolicy)
        default:
            return nil
        }
    }

    /// Dust is marked as soon as it is confirmed (and a budget stuck transfer is renamed dust):
    /// not while unconfirmed, not once already marked, not after a bridge failure.
    static func minimumApplies(to input: ReconcileInput) -> Bool {
        switch input.state {
        case .seenConfirmed, .creditPending: return true
        case .failedOrStuck:
            return input.reason == FundingReason.noBridgeRecordWithinPolicy.description
                || input.reason == FundingReason.notCreditedWithinPolicy.description
        case .seenUnconfirmed, .credited: return false
        }
    }
}
