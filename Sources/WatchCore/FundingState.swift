/// Where an inbound transfer stands between "sent" and "spendable" (DESIGN §5).
///
/// None of these states means spendable: `CREDITED` records that the bridge or verifier
/// said so, and only their evidence can put a transfer there.
public enum FundingState: String, Sendable, CaseIterable, Codable {
    case seenUnconfirmed = "SEEN_UNCONFIRMED"
    case seenConfirmed = "SEEN_CONFIRMED"
    case creditPending = "CREDIT_PENDING"
    case credited = "CREDITED"
    case failedOrStuck = "FAILED_OR_STUCK"

    /// Still waiting on the chain or the bridge: confirmations keep being tracked.
    public var isOpen: Bool { self == .seenUnconfirmed || self == .seenConfirmed || self == .creditPending }
}

/// Why a transfer is `FAILED_OR_STUCK` (or why it was demoted).
public enum FundingReason: Sendable, Hashable, CustomStringConvertible {
    case reorgedOut
    case replaced(by: String?)
    case evicted
    case bridgeFailed
    case noBridgeRecordWithinPolicy
    case notCreditedWithinPolicy
    /// Below the token's `min_deposit_amount` (bridge `supported_tokens`): dust the bridge does
    /// not credit the normal way.
    case belowMinimumDeposit
    case manual(String)

    /// The stored text of every `manual` reason begins with it.
    public static let manualPrefix = "manual: "

    /// The stored and published text: `reorged_out`, `replaced`, `manual: <text>`, …
    public var description: String {
        switch self {
        case .reorgedOut: "reorged_out"
        case .replaced: "replaced"
        case .evicted: "evicted"
        case .bridgeFailed: "bridge_failed"
        case .noBridgeRecordWithinPolicy: "no_bridge_record_within_policy"
        case .notCreditedWithinPolicy: "not_credited_within_policy"
        case .belowMinimumDeposit: "below_minimum_deposit"
        case .manual(let text): "manual: \(text)"
        }
    }

    /// The replacing transaction, when the reason is a replacement and the node named it.
    public var replacedBy: String? {
        if case .replaced(let by) = self { return by }
        return nil
    }

    /// Parses the stored text form back.
    public init?(stored text: String, replacedBy: String? = nil) {
        switch text {
        case "reorged_out": self = .reorgedOut
        case "replaced": self = .replaced(by: replacedBy)
        case "evicted": self = .evicted
        case "bridge_failed": self = .bridgeFailed
        case "no_bridge_record_within_policy": self = .noBridgeRecordWithinPolicy
        case "not_credited_within_policy": self = .notCreditedWithinPolicy
        case "below_minimum_deposit": self = .belowMinimumDeposit
        default:
            guard text.hasPrefix("manual: ") else { return nil }
            self = .manual(String(text.dropFirst("manual: ".count)))
        }
    }
}

/// The proof that lets a transfer become `CREDITED`: a bridge deposit record reported
/// complete, or a verifier snapshot that reflects the deposit. There is no other way in.
public enum CreditEvidence: Sendable, Hashable {
    case bridgeDeposit(id: String, nearTxHash: String?)
    case verifierSnapshot(id: String)
}

/// What a transfer can be asked to become.
public enum FundingTarget: Sendable, Hashable {
    case seenUnconfirmed
    case seenConfirmed
    case creditPending
    case credited(CreditEvidence)
    case failedOrStuck(FundingReason)

    public var state: FundingState {
        switch self {
        case .seenUnconfirmed: .seenUnconfirmed
        case .seenConfirmed: .seenConfirmed
        case .creditPending: .creditPending
        case .credited: .credited
        case .failedOrStuck: .failedOrStuck
        }
    }

    public var reason: FundingReason? {
        if case .failedOrStuck(let reason) = self { return reason }
        return nil
    }
}

/// A transition the state machine refuses.
public struct IllegalFundingTransition: Error, Equatable, CustomStringConvertible {
    public let from: FundingState?
    public let to: FundingState
    public init(from: FundingState?, to: FundingState) {
        self.from = from
        self.to = to
    }
    public var description: String {
        "illegal funding transition \(from?.rawValue ?? "(new)") → \(to.rawValue)"
    }
}

/// The funding state machine of DESIGN §5. Every state change anywhere goes through `transition`.
public enum FundingStateMachine {
    /// Legal moves. Reorgs demote; late credit after stuck is allowed; `CREDITED` is final.
    static func allows(from: FundingState?, to: FundingState) -> Bool {
        switch (from, to) {
        case (nil, .seenUnconfirmed), (nil, .seenConfirmed):
            return true
        case (.seenUnconfirmed, .seenConfirmed), (.seenUnconfirmed, .creditPending),
            (.seenUnconfirmed, .credited), (.seenUnconfirmed, .failedOrStuck):
            return true
        case (.seenConfirmed, .seenUnconfirmed), (.seenConfirmed, .creditPending),
            (.seenConfirmed, .credited), (.seenConfirmed, .failedOrStuck):
            return true
        case (.creditPending, .seenUnconfirmed), (.creditPending, .credited), (.creditPending, .failedOrStuck):
            return true
        case (.failedOrStuck, .seenUnconfirmed), (.failedOrStuck, .seenConfirmed),
            (.failedOrStuck, .creditPending), (.failedOrStuck, .credited):
            return true
        default:
            return false
        }
    }

    /// Validates `from → target`. Staying in the same state is not a transition and is refused
    /// here (callers treat it as an update of chain fields), except that a stuck transfer
    /// may change its reason.
    public static func transition(from: FundingState?, to target: FundingTarget) throws(IllegalFundingTransition)
        -> FundingState
    {
        let to = target.state
        if from == .failedOrStuck, to == .failedOrStuck { return to }
        guard allows(from: from, to: to) else { throw IllegalFundingTransition(from: from, to: to) }
        return to
    }

    /// True when `from → to` is legal.
    public static func isLegal(from: FundingState?, to: FundingState) -> Bool {
        (from == .failedOrStuck && to == .failedOrStuck) || allows(from: from, to: to)
    }
}
