import Foundation

/// The raise/clear state machine (pure): given the stored alerts and the conditions found now,
/// decides what changes. `for_s` works both ways, like Prometheus' `for` and
/// `keep_firing_for`: a condition must hold for `for_s` before the alert fires, and a firing
/// alert resolves only after its condition has been gone for `for_s` — a flap inside that
/// window neither clears nor re-raises it.
public enum AlertEngine {
    public static func decide(
        stored: [StoredAlert], conditions: [AlertCondition], evaluatedRules: Set<AlertRule>, now: Date, forSeconds: Double
    ) -> [AlertChange] {
        var changes: [AlertChange] = []
        let byKey = Dictionary(stored.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var seen: Set<String> = []
        for c in conditions where seen.insert(c.key).inserted {
            guard let s = byKey[c.key], s.status != .resolved else {
                changes.append(forSeconds <= 0 ? .fire(c, at: now) : .pending(c, since: now))
                continue
            }
            switch s.status {
            case .pending:
                if now.timeIntervalSince(s.since) >= forSeconds { changes.append(.fire(c, at: now)) }
            case .firing:
                if s.clearingSince != nil || s.condition != c { changes.append(.refresh(c)) }
            case .resolved:
                break
            }
        }
        for s in stored where !seen.contains(s.key) && evaluatedRules.contains(s.condition.rule) {
            switch s.status {
            case .pending:
                changes.append(.dropPending(key: s.key))
            case .firing:
                if let clearing = s.clearingSince {
                    if now.timeIntervalSince(clearing) >= forSeconds { changes.append(.resolve(s, at: now)) }
                } else if forSeconds <= 0 {
                    changes.append(.resolve(s, at: now))
                } else {
                    changes.append(.startClearing(key: s.key, at: now))
                }
            case .resolved:
                break
            }
        }
        return changes
    }
}
