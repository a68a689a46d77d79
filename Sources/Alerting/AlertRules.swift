import Foundation
import PostgresStore
import WatchCore

/// The durable inputs the rules read, loaded in one transaction.
public struct AlertInputs: Sendable {
    public struct Price: Sendable {
        public var pair: String
        public var price: String
        public var source: String
        public var occurredAt: Date
    }
    public struct Snapshot: Sendable {
        public var accountID: String
        public var snapshotID: String
        public var occurredAt: Date
    }
    public struct Transfer: Sendable {
        public var id: Int
        public var chain: String
        public var network: String
        public var asset: String
        public var address: String
        public var txHash: String
        public var outputIndex: Int
        public var amount: String
        public var state: FundingState
        public var reason: String?
        /// When the transfer entered its current state.
        public var enteredStateAt: Date
        /// The bridge of the transfer's handle (`CreditBridge`).
        public var bridge: String = CreditBridge.poa
        /// What an operator can do to get the funds back, when the bridge has a refund path.
        public var refund: String? = nil
    }
    public struct ExecutionFailure: Sendable {
        public var quoteID: String
        public var requestID: String
        public var outcome: String
        public var error: JSONValue
        public var occurredAt: Date
        /// Successful submissions recorded after this failure.
        public var successesSince: Int
    }

    public var prices: [Price] = []
    public var snapshots: [Snapshot] = []
    public var transfers: [Transfer] = []
    public var lastFailure: ExecutionFailure?
    /// Deposit address rotations whose alert window is still open.
    public var rotations: [FundingRepository.Rotation] = []
    /// Latched alerts not yet resolved by a person (`alert_latches`).
    public var latches: [AlertCondition] = []

    public init() {}
}

/// Turns inputs into the conditions that hold now (which alerts should be firing).
public enum AlertRules {
    public static func conditions(
        _ inputs: AlertInputs, health: [(name: String, health: PluginHealth)]?, config: AlertsConfig, now: Date,
        watchdog: [WatchdogFinding]? = nil
    ) -> (conditions: [AlertCondition], evaluated: Set<AlertRule>) {
        var out: [AlertCondition] = inputs.latches
        var evaluated: Set<AlertRule> = [
            .staleReferencePrice, .staleInventorySnapshot, .fundingNotCredited, .executionSubmissionFailed, .depositAddressChanged,
            .fundingDoubleSpent, .finalityViolated, .watchdog,
        ]
        if config.watchdog {
            out.append(
                AlertCondition(
                    rule: .watchdog, subject: "host", labels: [:],
                    reason: "always firing while unrip-watch runs: if it stops arriving, the host is down",
                    details: ["note": "a dead man's switch: route it to a heartbeat receiver"]))
        }
        if let watchdog {
            evaluated.formUnion([.chainStalled, .nodeSyncing, .chainLagging, .zmqSilent])
            for f in watchdog where !f.latched {
                guard let rule = AlertRule(rawValue: f.rule) else { continue }
                out.append(AlertCondition(rule: rule, subject: f.subject, labels: ["chain": f.chain, "plugin": f.chain], reason: f.reason, details: f.details))
            }
        }
        out += staleInputConditions(inputs, config: config, now: now)
        out += inputs.transfers.compactMap { fundingCondition($0, config: config, now: now) }
        if let f = inputs.lastFailure, executionFailureHolds(f, config: config, now: now) { out.append(executionCondition(f, config: config)) }
        out += inputs.rotations.filter { now < $0.alertUntil }.map(rotationCondition)
        if let health {
            evaluated.insert(.adapterUnhealthy)
            out += health.compactMap { name, h in
                guard case .unhealthy(let why) = h else { return nil }
                return AlertCondition(
                    rule: .adapterUnhealthy, subject: name, labels: ["plugin": name],
                    reason: "plugin \(name) unhealthy: \(why)", details: ["plugin": .string(name), "health": .string(why)])
            }
        }
        // Every alert carries its rule's severity as a label (Alertmanager routing, Kafka, state).
        for i in out.indices { out[i].labels["severity"] = config.severity(of: out[i].rule).rawValue }
        return (out, evaluated)
    }

    /// Reference prices and inventory snapshots older than their bound.
    static func staleInputConditions(_ inputs: AlertInputs, config: AlertsConfig, now: Date) -> [AlertCondition] {
        var out: [AlertCondition] = []
        let maxPrice = Double(config.stalePriceMaxAgeSeconds)
        for p in inputs.prices where maxPrice > 0 && now.timeIntervalSince(p.occurredAt) > maxPrice {
            out.append(
                AlertCondition(
                    rule: .staleReferencePrice, subject: p.pair, labels: ["pair": p.pair],
                    reason: "no reference price for \(p.pair) within \(config.stalePriceMaxAgeSeconds) s",
                    details: [
                        "pair": .string(p.pair), "last_price": .string(p.price), "last_source": .string(p.source),
                        "last_occurred_at": .string(Timestamp.string(p.occurredAt)),
                        "max_age_s": .int(Int64(config.stalePriceMaxAgeSeconds)),
                    ]))
        }
        let maxInventory = Double(config.staleInventoryMaxAgeSeconds)
        for s in inputs.snapshots where maxInventory > 0 && now.timeIntervalSince(s.occurredAt) > maxInventory {
            out.append(
                AlertCondition(
                    rule: .staleInventorySnapshot, subject: s.accountID, labels: ["account_id": s.accountID],
                    reason: "no inventory snapshot for \(s.accountID) within \(config.staleInventoryMaxAgeSeconds) s",
                    details: [
                        "account_id": .string(s.accountID), "last_snapshot_id": .string(s.snapshotID),
                        "last_occurred_at": .string(Timestamp.string(s.occurredAt)),
                        "max_age_s": .int(Int64(config.staleInventoryMaxAgeSeconds)),
                    ]))
        }
        return out
    }

    static func executionCondition(_ f: AlertInputs.ExecutionFailure, config: AlertsConfig) -> AlertCondition {
        return AlertCondition(
            rule: .executionSubmissionFailed, subject: "solver_relay", labels: ["outcome": f.outcome],
            reason: "quote_response submission failed (\(f.outcome)) for quote \(f.quoteID)",
            details: [
                "quote_id": .string(f.quoteID), "request_id": .string(f.requestID), "outcome": .string(f.outcome),
                "error": f.error, "failed_at": .string(Timestamp.string(f.occurredAt)),
                "successes_since": .int(Int64(f.successesSince)),
                "clear_after_successes": .int(Int64(config.executionFailureClearAfter)),
            ])
    }

    static func rotationCondition(_ r: FundingRepository.Rotation) -> AlertCondition {
        return AlertCondition(
            rule: .depositAddressChanged, subject: "\(r.chain):\(r.accountID)", labels: ["chain": r.chain, "account_id": r.accountID],
            reason: "the bridge rotated the \(r.chain) deposit address of \(r.accountID): \(r.oldAddress) → \(r.newAddress) (the old one stays watched)",
            details: [
                "chain": .string(r.chain), "account_id": .string(r.accountID), "old_address": .string(r.oldAddress),
                "new_address": .string(r.newAddress), "rotated_at": .string(Timestamp.string(r.rotatedAt)),
                "resolves_at": .string(Timestamp.string(r.alertUntil)),
            ])
    }

    static func fundingCondition(_ t: AlertInputs.Transfer, config: AlertsConfig, now: Date) -> AlertCondition? {
        let reason: String
        var details: [String: JSONValue] = [
            "observation_id": .int(Int64(t.id)), "chain": .string(t.chain), "network": .string(t.network),
            "asset": .string(t.asset), "handle": .string(t.address), "tx_hash": .string(t.txHash),
            "output_index": .int(Int64(t.outputIndex)), "pending_precredit": .string(t.amount),
            "state": .string(t.state.rawValue), "entered_state_at": .string(Timestamp.string(t.enteredStateAt)),
        ]
        details["bridge"] = .string(t.bridge)
        if t.state == .failedOrStuck {
            reason = "transfer \(t.txHash):\(t.outputIndex) is FAILED_OR_STUCK: \(t.reason ?? "no reason")" + (t.refund.map { " (\(t.bridge): \($0))" } ?? "")
            details["stuck_reason"] = .optional(t.reason)
            if let refund = t.refund { details["refund"] = .string(refund) }
        } else {
            // An Omni transfer may wait many blocks for the confirmations Omni requires: its
            // reconciler budgets ([bridge.omni] no_record_s, credit_budget_s, counted once they are
            // met) decide, and a transfer they find stuck alerts as FAILED_OR_STUCK.
            if t.bridge == CreditBridge.omni, t.state == .seenConfirmed || t.state == .creditPending { return nil }
            guard let budget = config.fundingBudgetSeconds[t.chain]?[t.state],
                now.timeIntervalSince(t.enteredStateAt) > Double(budget)
            else { return nil }
            reason = "transfer \(t.txHash):\(t.outputIndex) in \(t.state.rawValue) beyond its \(budget) s budget"
            details["budget_s"] = .int(Int64(budget))
        }
        return AlertCondition(
            rule: .fundingNotCredited, subject: "\(t.chain):\(t.txHash):\(t.outputIndex)",
            labels: ["chain": t.chain, "state": t.state.rawValue, "handle": t.address, "bridge": t.bridge], reason: reason,
            details: .object(details))
    }

    static func executionFailureHolds(_ f: AlertInputs.ExecutionFailure, config: AlertsConfig, now: Date) -> Bool {
        guard f.successesSince < config.executionFailureClearAfter else { return false }
        let window = config.executionFailureClearAfterSeconds
        return window <= 0 || now.timeIntervalSince(f.occurredAt) < Double(window)
    }
}
