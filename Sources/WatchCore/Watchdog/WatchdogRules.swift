import Foundation

/// One thing the watchdog found wrong with a chain right now: an alert rule's name, its
/// subject and figures. The alert pipeline turns findings into alerts; `latched` ones stay
/// firing until a person resolves them.
public struct WatchdogFinding: Sendable, Equatable {
    public var rule: String
    public var subject: String
    public var chain: String
    public var reason: String
    public var details: JSONValue
    public var latched: Bool

    public init(rule: String, subject: String, chain: String, reason: String, details: JSONValue, latched: Bool = false) {
        self.rule = rule
        self.subject = subject
        self.chain = chain
        self.reason = reason
        self.details = details
        self.latched = latched
    }
}

/// What the watchdog remembers of one chain between probes.
public struct WatchdogMemory: Sendable, Equatable {
    public var lastHeight: Int?
    /// Since when the node's height has been `lastHeight`.
    public var heightSince: Date?
    /// Finalized blocks seen, by height (the most recent `finalizedMemory`).
    public var finalized: [Int: String] = [:]
    public static let finalizedMemory = 64

    public init() {}

    /// The highest finalized height remembered: re-read each probe to see it change.
    public var highestFinalized: Int? { finalized.keys.max() }
}

/// The chain and node watchdogs (DESIGN §8), once for every adapter: pure, on the injected time.
public enum WatchdogRules {
    /// Findings for one probe. `recheck` is the node's hash now at the highest finalized height
    /// remembered before this probe (nil when there was none or the node did not answer).
    public static func assess(
        chain: String, vitals: NodeVitals, cursorHeight: Int?, signals: ChainSignals.Snapshot, policy: WatchdogPolicy,
        memory: inout WatchdogMemory, recheck: (height: Int, hash: String?)?, now: Date
    ) -> [WatchdogFinding] {
        var out: [WatchdogFinding] = []
        if memory.lastHeight != vitals.tipHeight {
            memory.lastHeight = vitals.tipHeight
            memory.heightSince = now
        }
        if let f = stalled(chain, vitals, policy, memory, now) { out.append(f) }
        if let why = vitals.syncing {
            out.append(
                WatchdogFinding(
                    rule: "node_syncing", subject: chain, chain: chain, reason: "the \(chain) node is syncing: \(why)",
                    details: ["tip_height": .int(Int64(vitals.tipHeight)), "headers": .optional(vitals.headers), "syncing": .string(why)]))
        }
        let reference = vitals.lagReference(policy)
        if let cursor = cursorHeight, reference - cursor > policy.maxCursorLagBlocks {
            let lag = reference - cursor
            let what = policy.lagFromFinalized ? "finalized block" : "tip"
            out.append(
                WatchdogFinding(
                    rule: "chain_lagging", subject: chain, chain: chain,
                    reason: "\(chain) cursor \(cursor) is \(lag) blocks behind the node's \(what) \(reference) (max \(policy.maxCursorLagBlocks))",
                    details: [
                        "tip_height": .int(Int64(vitals.tipHeight)), "cursor_height": .int(Int64(cursor)), "lag_blocks": .int(Int64(lag)),
                        "max_cursor_lag_blocks": .int(Int64(policy.maxCursorLagBlocks)), "measured_from": .string(what),
                    ]))
        }
        if let f = zmqSilent(chain, signals, policy, now) { out.append(f) }
        out += finality(chain, vitals, &memory, recheck)
        return out
    }

    static func stalled(_ chain: String, _ v: NodeVitals, _ policy: WatchdogPolicy, _ memory: WatchdogMemory, _ now: Date) -> WatchdogFinding? {
        let limit = Double(policy.tipStaleAfterSeconds)
        let tipAge = v.tipTime.map { now.timeIntervalSince($0) }
        let unchanged = memory.heightSince.map { now.timeIntervalSince($0) } ?? 0
        let old = (tipAge ?? 0) > limit
        guard old || unchanged > limit else { return nil }
        let why = old
            ? "the \(chain) node's best block \(v.tipHeight) is \(Int(tipAge ?? 0)) s old (tip_stale_after_s \(policy.tipStaleAfterSeconds))"
            : "the \(chain) node's height has stayed \(v.tipHeight) for \(Int(unchanged)) s (tip_stale_after_s \(policy.tipStaleAfterSeconds))"
        return WatchdogFinding(
            rule: "chain_stalled", subject: chain, chain: chain, reason: why,
            details: [
                "tip_height": .int(Int64(v.tipHeight)), "tip_hash": .optional(v.tipHash),
                "tip_time": v.tipTime.map { .string(Timestamp.string($0)) } ?? .null, "tip_age_s": tipAge.map { .int(Int64($0)) } ?? .null,
                "height_unchanged_s": .int(Int64(unchanged)), "tip_stale_after_s": .int(Int64(policy.tipStaleAfterSeconds)),
            ])
    }

    static func zmqSilent(_ chain: String, _ s: ChainSignals.Snapshot, _ policy: WatchdogPolicy, _ now: Date) -> WatchdogFinding? {
        guard let limit = policy.zmqSilentAfterSeconds, s.pushFeedConfigured, let since = s.lastPushMessageAt ?? s.listeningSince,
            let changed = s.mempoolChangedAt, changed > since, now.timeIntervalSince(since) > Double(limit)
        else { return nil }
        return WatchdogFinding(
            rule: "zmq_silent", subject: chain, chain: chain,
            reason: "no ZMQ message from the \(chain) node for \(Int(now.timeIntervalSince(since))) s while its mempool changed",
            details: [
                "last_zmq_message_at": s.lastPushMessageAt.map { .string(Timestamp.string($0)) } ?? .null,
                "listening_since": s.listeningSince.map { .string(Timestamp.string($0)) } ?? .null,
                "mempool_changed_at": .string(Timestamp.string(changed)), "zmq_silent_after_s": .int(Int64(limit)),
            ])
    }

    /// A block at or below a height seen finalized whose hash changed: latched.
    static func finality(_ chain: String, _ v: NodeVitals, _ memory: inout WatchdogMemory, _ recheck: (height: Int, hash: String?)?)
        -> [WatchdogFinding]
    {
        var out: [WatchdogFinding] = []
        func violation(_ height: Int, was: String, now: String) {
            out.append(
                WatchdogFinding(
                    rule: "finality_violated", subject: "\(chain):\(height)", chain: chain,
                    reason: "\(chain) block \(height) was finalized as \(was) and is now \(now)",
                    details: ["height": .int(Int64(height)), "finalized_hash": .string(was), "hash_now": .string(now)], latched: true))
        }
        if let recheck, let now = recheck.hash, let was = memory.finalized[recheck.height], was != now {
            violation(recheck.height, was: was, now: now)
            memory.finalized[recheck.height] = now
        }
        if let f = v.finalized {
            if let was = memory.finalized[f.height], was != f.hash, recheck?.height != f.height { violation(f.height, was: was, now: f.hash) }
            memory.finalized[f.height] = f.hash
            if memory.finalized.count > WatchdogMemory.finalizedMemory, let low = memory.finalized.keys.min() { memory.finalized[low] = nil }
        }
        return out
    }
}
