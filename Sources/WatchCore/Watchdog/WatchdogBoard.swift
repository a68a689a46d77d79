import struct Foundation.Date
import Synchronization

/// The watchdog's latest reading of every chain: what the alert evaluator turns into alerts and
/// `/readyz` into reasons. Latched findings (a finality violation) wait here until the
/// evaluator has made them durable.
public final class WatchdogBoard: Sendable {
    public struct Reading: Sendable, Equatable {
        public var vitals: NodeVitals?
        public var cursorHeight: Int?
        public var policy: WatchdogPolicy
        public var findings: [WatchdogFinding] = []
        public var probedAt: Date?
        public var lastError: String?
        public var failedProbes = 0
    }

    private let state = Mutex<(readings: [String: Reading], latched: [WatchdogFinding])>(([:], []))

    public init() {}

    func record(_ chain: String, _ update: (inout Reading) -> Void, policy: WatchdogPolicy, latched: [WatchdogFinding] = []) {
        state.withLock { s in
            var reading = s.readings[chain] ?? Reading(policy: policy)
            update(&reading)
            s.readings[chain] = reading
            s.latched += latched
        }
    }

    public func reading(_ chain: String) -> Reading? { state.withLock { $0.readings[chain] } }

    /// Every chain's current (not latched) findings, by chain name.
    public var findings: [WatchdogFinding] {
        state.withLock { s in s.readings.keys.sorted().flatMap { s.readings[$0]!.findings.filter { !$0.latched } } }
    }

    /// Latched findings not yet made durable.
    public var latched: [WatchdogFinding] { state.withLock { $0.latched } }

    /// The evaluator committed these: they need not be handed over again.
    public func settle(_ done: [WatchdogFinding]) {
        state.withLock { s in s.latched.removeAll { f in done.contains(f) } }
    }

    /// Why `chain` is not ready: its node is syncing, or the cursor lags the tip too far.
    public func readinessProblems(_ chain: String) -> [String] {
        guard let r = reading(chain) else { return ["\(chain): the watchdog has not read the node yet"] }
        guard let v = r.vitals else { return ["\(chain): the watchdog cannot read the node: \(r.lastError ?? "no answer")"] }
        var out: [String] = []
        if let why = v.syncing { out.append("\(chain): node syncing (\(why))") }
        let reference = v.lagReference(r.policy)
        if let cursor = r.cursorHeight, reference - cursor > r.policy.maxCursorLagBlocks {
            out.append("\(chain): cursor \(cursor) is \(reference - cursor) blocks behind the node's \(r.policy.lagFromFinalized ? "finalized block" : "tip") \(reference) (max_cursor_lag_blocks \(r.policy.maxCursorLagBlocks))")
        } else if r.cursorHeight == nil {
            out.append("\(chain): no cursor yet")
        }
        return out
    }
}
