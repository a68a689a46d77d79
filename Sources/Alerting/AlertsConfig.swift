import Foundation
import WatchCore

/// `[alerts]`: thresholds of every rule, the evaluation interval and `for_s`.
public struct AlertsConfig: Sendable, Equatable {
    public var enabled: Bool
    public var evalIntervalMs: Int
    /// Max age of the newest reference price of each pair seen; 0 turns the rule off.
    public var stalePriceMaxAgeSeconds: Int
    /// Max age of the newest inventory snapshot of each account seen; 0 turns the rule off.
    public var staleInventoryMaxAgeSeconds: Int
    /// chain → state → seconds a transfer may stay in that state before it is "not credited within policy".
    public var fundingBudgetSeconds: [String: [FundingState: Int]]
    /// Successes after the last failure that clear `execution_submission_failed`.
    public var executionFailureClearAfter: Int
    /// Or: seconds after the last failure that clear it (0 = only successes clear it).
    public var executionFailureClearAfterSeconds: Int
    /// Pending before firing, and gone before resolving (hysteresis).
    public var forSeconds: Int
    /// `[alerts.push]`: Alertmanager / webhook delivery of every raise and clear.
    public var push: AlertPushConfig
    /// `[alerts.severity]`: rule name → `critical`, `warning` or `info`, over each rule's default.
    public var severity: [AlertRule: AlertSeverity] = [:]
    /// `[alerts] watchdog`: the always-firing `watchdog` alert (a dead man's switch). On by
    /// default in a config file; off in a config built in code (tests, embedders) unless set.
    public var watchdog = false

    public func severity(of rule: AlertRule) -> AlertSeverity { severity[rule] ?? rule.defaultSeverity }

    public init(
        enabled: Bool = true, evalIntervalMs: Int = 5000, stalePriceMaxAgeSeconds: Int = 300,
        staleInventoryMaxAgeSeconds: Int = 900, fundingBudgetSeconds: [String: [FundingState: Int]] = [:],
        executionFailureClearAfter: Int = 3, executionFailureClearAfterSeconds: Int = 0, forSeconds: Int = 30,
        push: AlertPushConfig = AlertPushConfig()
    ) {
        self.enabled = enabled
        self.evalIntervalMs = evalIntervalMs
        self.stalePriceMaxAgeSeconds = stalePriceMaxAgeSeconds
        self.staleInventoryMaxAgeSeconds = staleInventoryMaxAgeSeconds
        self.fundingBudgetSeconds = fundingBudgetSeconds
        self.executionFailureClearAfter = executionFailureClearAfter
        self.executionFailureClearAfterSeconds = executionFailureClearAfterSeconds
        self.forSeconds = forSeconds
        self.push = push
    }

    /// States that have a time budget (the others are final or already stuck).
    public static let budgetedStates: [FundingState] = [.seenUnconfirmed, .seenConfirmed, .creditPending]

    /// Reads `[alerts]`; problems are recorded in the section, named by key.
    public init(section s: ConfigSection) {
        let d = AlertsConfig()
        enabled = s.bool("enabled", default: d.enabled)
        evalIntervalMs = s.int("eval_interval_ms", default: d.evalIntervalMs, range: 50...3_600_000)
        stalePriceMaxAgeSeconds = s.int("stale_price_max_age_s", default: d.stalePriceMaxAgeSeconds, range: 0...31_536_000)
        staleInventoryMaxAgeSeconds = s.int(
            "stale_inventory_max_age_s", default: d.staleInventoryMaxAgeSeconds, range: 0...31_536_000)
        executionFailureClearAfter = s.int("execution_failure_clear_after", default: d.executionFailureClearAfter, range: 1...1_000_000)
        executionFailureClearAfterSeconds = s.int(
            "execution_failure_clear_after_s", default: d.executionFailureClearAfterSeconds, range: 0...31_536_000)
        forSeconds = s.int("for_s", default: d.forSeconds, range: 0...86_400)
        watchdog = s.bool("watchdog", default: true)
        var budgets: [String: [FundingState: Int]] = [:]
        var effective: [String: JSONValue] = [:]
        if let table = s.table("funding_budget_s") {
            for chain in table.keys {
                guard let perState = table.table(chain) else { continue }
                var states: [FundingState: Int] = [:]
                for name in perState.keys {
                    guard let state = FundingState(rawValue: name), Self.budgetedStates.contains(state) else {
                        perState.problem(
                            name, nil,
                            "unknown state; budgets apply to \(Self.budgetedStates.map(\.rawValue).joined(separator: ", "))")
                        continue
                    }
                    states[state] = perState.int(name, default: 0, range: 1...31_536_000)
                }
                budgets[chain] = states
                effective[chain] = .object(perState.effective)
            }
        }
        s.recordEffective("funding_budget_s", .object(effective))
        fundingBudgetSeconds = budgets
        if let table = s.table("severity") {
            let levels = AlertSeverity.allCases.map(\.rawValue).joined(separator: ", ")
            for name in table.keys.sorted() {
                let text = table.string(name) ?? ""
                guard let rule = AlertRule(rawValue: name) else {
                    table.problem(name, nil, "unknown alert rule; rules are \(AlertRule.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                guard let level = AlertSeverity(rawValue: text) else {
                    table.problem(name, "\"\(text)\"", "expected one of \(levels)")
                    continue
                }
                severity[rule] = level
            }
            table.finish()
        }
        let chosen = severity
        s.recordEffective("severity", .object(Dictionary(uniqueKeysWithValues: AlertRule.allCases.map { ($0.rawValue, JSONValue.string((chosen[$0] ?? $0.defaultSeverity).rawValue)) })))
        let pushSection = s.overridableTable("push")
        push = AlertPushConfig(section: pushSection)
        pushSection.finish()
        s.recordEffective("push", .object(pushSection.effective))
    }
}
