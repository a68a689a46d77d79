import Foundation
import Synchronization

/// When the input consumer is stuck, whatever the broker does: it holds no partition of the
/// input topics for longer than `limit` (a broker that never dropped a dead group member gives
/// a restarted host none), or messages wait on the broker and none was taken for `limit` (a
/// fetch that never comes back). Checked every few seconds on the injected clock.
struct InputStallCheck {
    let limit: TimeInterval
    /// How often the consumer is asked: a fifth of the limit, 1 to 5 s.
    var every: TimeInterval { min(5, max(1, limit / 5)) }
    private var lastCheck: Date
    private var unassignedSince: Date?
    /// The last time the consumer was seen moving: a record taken, or nothing waiting.
    private var movedAt: Date

    init(limit: TimeInterval, startedAt: Date) {
        self.limit = limit
        lastCheck = startedAt
        unassignedSince = startedAt
        movedAt = startedAt
    }

    func due(_ now: Date) -> Bool { now.timeIntervalSince(lastCheck) >= every }

    mutating func tookRecord(at now: Date) { movedAt = now }

    /// Starts the clocks again (after a recovery that keeps the consumer).
    mutating func restart(at now: Date) {
        movedAt = now
        unassignedSince = unassignedSince.map { _ in now }
    }

    /// What is wrong now, or nil. `waiting` counts the messages on the partition with the most
    /// (high watermark less position); it must reach `minimum` to count: a transactional
    /// producer leaves its commit marker at a partition's end, which no consumer ever takes, so
    /// one message "waiting" is normal there.
    mutating func observe(assigned: Int, waiting: Int64?, minimum: Int64 = 2, at now: Date) -> String? {
        lastCheck = now
        if assigned == 0 {
            let since = unassignedSince ?? now
            unassignedSince = since
            movedAt = now
            let held = now.timeIntervalSince(since)
            return held > limit ? "holds no partition of the input topics for \(Int(held)) s (the group assigned none)" : nil
        }
        unassignedSince = nil
        guard let waiting, waiting >= minimum else {
            if let waiting, waiting < minimum { movedAt = now }
            return nil
        }
        let still = now.timeIntervalSince(movedAt)
        return still > limit ? "\(waiting) message(s) wait on the broker and none was taken for \(Int(still)) s" : nil
    }
}

/// The input consumer gave up on a stuck consumer; the supervisor builds a fresh one.
struct InputStalled: Error, CustomStringConvertible {
    let description: String
}

/// What the input consumer knows of a stall across its rebuilds (the supervisor builds a fresh
/// consumer after one): the stall stays reported until a consumer shows progress, and a broker
/// found to starve idle pauses is not paused for again.
public final class InputStallMemory: Sendable {
    private let state = Mutex<(stalled: String?, idlePausesStopped: Bool)>((nil, false))

    public init() {}

    var stalled: String? { state.withLock { $0.stalled } }
    var idlePausesStopped: Bool { state.withLock { $0.idlePausesStopped } }

    func report(_ verdict: String) { state.withLock { $0.stalled = verdict } }
    /// A record was taken, or the consumer holds partitions with nothing waiting.
    func moved() { state.withLock { $0.stalled = nil } }
    func stopIdlePauses() { state.withLock { $0.idlePausesStopped = true } }
}
