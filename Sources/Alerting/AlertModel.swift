import Foundation
import WatchCore

/// The rules of DESIGN §8, by their published names.
public enum AlertRule: String, Sendable, CaseIterable {
    case staleReferencePrice = "stale_reference_price"
    case staleInventorySnapshot = "stale_inventory_snapshot"
    case fundingNotCredited = "funding_not_credited"
    case executionSubmissionFailed = "execution_submission_failed"
    case adapterUnhealthy = "adapter_unhealthy"
    /// The bridge handed out a new deposit address for an (account, chain): fires at the
    /// rotation, resolves after `[bridge] deposit_address_changed_resolve_s`.
    case depositAddressChanged = "deposit_address_changed"
    /// A watched deposit's mempool transaction was replaced by one paying no watched handle:
    /// latched, until `POST /alerts/<key>/resolve`.
    case fundingDoubleSpent = "funding_double_spent"
    /// The node's best block is older than `tip_stale_after_s`, or its height has not moved for that long.
    case chainStalled = "chain_stalled"
    /// The node reports it is still syncing (IBD, headers ahead, `eth_syncing`).
    case nodeSyncing = "node_syncing"
    /// Our cursor is more than `max_cursor_lag_blocks` behind the node's tip.
    case chainLagging = "chain_lagging"
    /// ZMQ is configured but silent for `zmq_silent_after_s` while the mempool moved.
    case zmqSilent = "zmq_silent"
    /// A block at or below a height seen finalized changed hash: latched.
    case finalityViolated = "finality_violated"
    /// Always firing while the host runs (`[alerts] watchdog`): a dead man's switch for the Alertmanager.
    case watchdog = "watchdog"

    /// Rules that stay firing until a person resolves them.
    public var isLatched: Bool { self == .fundingDoubleSpent || self == .finalityViolated }
}

/// How loud an alert is: the `severity` label of every alert (Alertmanager, Kafka, state).
public enum AlertSeverity: String, Sendable, CaseIterable {
    case critical, warning, info
}

extension AlertRule {
    /// The severity of the rule unless `[alerts.severity]` says otherwise.
    public var defaultSeverity: AlertSeverity {
        switch self {
        case .staleReferencePrice, .adapterUnhealthy, .fundingDoubleSpent, .chainStalled, .finalityViolated: .critical
        case .staleInventorySnapshot, .fundingNotCredited, .executionSubmissionFailed, .nodeSyncing, .chainLagging, .zmqSilent: .warning
        case .depositAddressChanged, .watchdog: .info
        }
    }
}

/// A rule's finding for one subject right now: the alert should be (or become) firing.
public struct AlertCondition: Sendable, Equatable {
    public var rule: AlertRule
    public var subject: String
    public var labels: [String: String]
    public var reason: String
    public var details: JSONValue

    public init(rule: AlertRule, subject: String, labels: [String: String] = [:], reason: String, details: JSONValue) {
        self.rule = rule
        self.subject = subject
        self.labels = labels
        self.reason = reason
        self.details = details
    }

    /// `rule:subject`, the alert's identity and its Kafka key.
    public var key: String { AlertCondition.key(rule, subject) }

    public static func key(_ rule: AlertRule, _ subject: String) -> String { "\(rule.rawValue):\(subject)" }
}

/// An alert as `alert_state` holds it: pending (inside `for_s`) or firing.
public struct StoredAlert: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, firing, resolved }
    public var condition: AlertCondition
    public var status: Status
    public var since: Date
    /// A firing alert whose condition went away: when (it resolves after `for_s`).
    public var clearingSince: Date?

    public var key: String { condition.key }
}

/// What one evaluation decided for one alert.
public enum AlertChange: Sendable, Equatable {
    /// The condition holds but `for_s` has not passed: recorded, not yet an event.
    case pending(AlertCondition, since: Date)
    /// A pending alert whose condition went away before it fired.
    case dropPending(key: String)
    /// Raise: an `alert_events` row, `alert_state` firing, an outbox event.
    case fire(AlertCondition, at: Date)
    /// Still firing; reason or details changed, or a clearing flap ended.
    case refresh(AlertCondition)
    /// Firing, but the condition went away: hysteresis starts.
    case startClearing(key: String, at: Date)
    /// Clear: an `alert_events` row, `alert_state` resolved, an outbox event.
    case resolve(StoredAlert, at: Date)

    public var isTransition: Bool {
        switch self {
        case .fire, .resolve: true
        default: false
        }
    }
}
