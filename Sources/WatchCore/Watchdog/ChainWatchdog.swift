import Foundation
import Logging
import Metrics

/// The chain and node watchdog (DESIGN §8): one service for every chain adapter, probing each
/// node on its own schedule (the injected clock) with the chain's probe, independently of the
/// adapter: a paused or failing adapter's chain keeps being read, so falling behind shows.
public final class ChainWatchdog: PluginService {
    public struct Chain: Sendable {
        public let name: String
        public let probe: any ChainProbe
        public let policy: WatchdogPolicy
        public let pipeline: ChainPipeline
        public let signals: ChainSignals
        /// False while another host runs the chain's adapter: this host's cursor does not move
        /// then, and is not judged.
        public let isActive: @Sendable () -> Bool

        public init(
            name: String, probe: any ChainProbe, policy: WatchdogPolicy, pipeline: ChainPipeline, signals: ChainSignals,
            isActive: @escaping @Sendable () -> Bool = { true }
        ) {
            self.isActive = isActive
            self.name = name
            self.probe = probe
            self.policy = policy
            self.pipeline = pipeline
            self.signals = signals
        }
    }

    public let chains: [Chain]
    public let board: WatchdogBoard
    let clock: any WatchClock
    let logger: Logger
    /// Signalled when a chain's findings change (the alert evaluator waits on it).
    let changed: ChangeSignal?

    /// Makes latched findings durable as the probe sees them (the alert store's latches): a
    /// finality violation seen once must survive a crash before the evaluator's next round.
    let latch: (@Sendable ([WatchdogFinding], Date) async throws -> Void)?

    public init(
        chains: [Chain], board: WatchdogBoard, clock: any WatchClock, changed: ChangeSignal? = nil, logger: Logger,
        latch: (@Sendable ([WatchdogFinding], Date) async throws -> Void)? = nil
    ) {
        self.latch = latch
        self.chains = chains
        self.board = board
        self.clock = clock
        self.changed = changed
        self.logger = logger
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for chain in chains {
                group.addTask { await self.watch(chain) }
            }
        }
    }

    private func watch(_ chain: Chain) async {
        var memory = WatchdogMemory()
        while !Task.isCancelled {
            await probe(chain, memory: &memory)
            do { try await clock.sleep(for: .milliseconds(chain.policy.intervalMs)) } catch { return }
        }
    }

    /// One probe of one chain: reads the node, judges, records the reading and the metrics. A
    /// node that does not answer keeps its last findings (a flapping RPC neither raises nor clears).
    public func probe(_ chain: Chain, memory: inout WatchdogMemory) async {
        let now = clock.now()
        let cursor = chain.isActive() ? await chain.pipeline.tip?.height : nil
        do {
            let vitals = try await chain.probe.vitals()
            var recheck: (height: Int, hash: String?)?
            if let height = memory.highestFinalized { recheck = (height, try await chain.probe.blockHash(at: height)) }
            let findings = WatchdogRules.assess(
                chain: chain.name, vitals: vitals, cursorHeight: cursor, signals: chain.signals.snapshot, policy: chain.policy,
                memory: &memory, recheck: recheck, now: now)
            let before = board.reading(chain.name)?.findings
            let latched = await durable(findings.filter(\.latched), at: now)
            board.record(chain.name, { r in
                r.vitals = vitals
                r.cursorHeight = cursor
                r.findings = findings
                r.probedAt = now
                r.lastError = nil
            }, policy: chain.policy, latched: latched)
            // Logged when a finding first appears (its figures change every probe).
            for f in findings where before?.contains(where: { $0.rule == f.rule && $0.subject == f.subject }) != true {
                logger.warning("watchdog: \(f.rule)", metadata: ["chain": "\(chain.name)", "reason": "\(f.reason)"])
            }
            if before != findings { changed?.signal() }
            recordMetrics(chain, vitals: vitals, cursor: cursor, now: now)
        } catch {
            board.record(chain.name, { r in
                r.cursorHeight = cursor
                r.lastError = Excerpt.of("\(error)")
                r.failedProbes += 1
            }, policy: chain.policy)
            Counter(label: "unrip_watchdog_probe_errors_total", dimensions: [("chain", chain.name)]).increment()
        }
    }

    /// Commits `findings` through `latch`; what could not be committed is returned, for the
    /// board to hand to the evaluator (which commits it on its next round, as before).
    private func durable(_ findings: [WatchdogFinding], at now: Date) async -> [WatchdogFinding] {
        guard !findings.isEmpty, let latch else { return findings }
        do {
            try await latch(findings, now)
            return []
        } catch {
            logger.warning("watchdog: could not record a latched finding yet; the alert evaluator will", metadata: ["error": "\(error)"])
            return findings
        }
    }

    private func recordMetrics(_ chain: Chain, vitals: NodeVitals, cursor: Int?, now: Date) {
        let labels = [("chain", chain.name)]
        Gauge(label: "unrip_chain_tip_height", dimensions: labels).record(vitals.tipHeight)
        if let cursor { Gauge(label: "unrip_chain_cursor_height", dimensions: labels).record(cursor) }
        if let t = vitals.tipTime { Gauge(label: "unrip_chain_tip_age_seconds", dimensions: labels).record(max(0, now.timeIntervalSince(t))) }
        let s = chain.signals.snapshot
        if s.pushFeedConfigured, let since = s.lastPushMessageAt ?? s.listeningSince {
            Gauge(label: "unrip_zmq_last_message_age_seconds", dimensions: labels).record(max(0, now.timeIntervalSince(since)))
        }
    }

    public func state() async -> JSONValue {
        var out: [String: JSONValue] = [:]
        for chain in chains {
            guard let r = board.reading(chain.name) else {
                out[chain.name] = ["probed_at": .null]
                continue
            }
            let v = r.vitals
            out[chain.name] = [
                "probed_at": r.probedAt.map { .string(Timestamp.string($0)) } ?? .null, "tip_height": .optional(v?.tipHeight),
                "tip_time": v?.tipTime.map { .string(Timestamp.string($0)) } ?? .null, "cursor_height": .optional(r.cursorHeight),
                "syncing": .optional(v?.syncing), "finalized_height": .optional(v?.finalized?.height),
                "findings": .array(r.findings.map { ["rule": .string($0.rule), "subject": .string($0.subject), "reason": .string($0.reason)] }),
                "last_error": .optional(r.lastError), "failed_probes": .int(Int64(r.failedProbes)),
                "tip_stale_after_s": .int(Int64(chain.policy.tipStaleAfterSeconds)),
                "max_cursor_lag_blocks": .int(Int64(chain.policy.maxCursorLagBlocks)),
                "zmq_silent_after_s": .optional(chain.policy.zmqSilentAfterSeconds), "interval_ms": .int(Int64(chain.policy.intervalMs)),
            ]
        }
        return .object(out)
    }
}
