import Synchronization

/// Wakes waiters whenever something changed (a pause, a resume). Cancellation-aware.
public final class ChangeSignal: Sendable {
    private struct Waiters {
        var generation = 0
        var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }
    private let state = Mutex(Waiters())

    public init() {}

    public var generation: Int { state.withLock { $0.generation } }

    public func signal() {
        let toResume = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation += 1
            defer { s.waiting = [:] }
            return Array(s.waiting.values)
        }
        toResume.forEach { $0.resume() }
    }

    /// Returns once the generation moved past `seen`, or the task is cancelled.
    public func wait(after seen: Int) async {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.generation != seen || Task.isCancelled { return true }
                    s.waiting[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let c = state.withLock { $0.waiting.removeValue(forKey: id) }
            c?.resume()
        }
    }

    /// Returns once the generation moved past `seen`, `timeout` passed on `clock`, or the task
    /// is cancelled: a service's "until there is work or the poll interval passed".
    public func wait(after seen: Int, atMost timeout: Duration, clock: any WatchClock = SystemClock()) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.wait(after: seen) }
            group.addTask { try? await clock.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }
}
