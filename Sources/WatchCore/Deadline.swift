import Synchronization

/// `body` did not finish within the time given.
public struct DeadlinePassed: Error, CustomStringConvertible {
    public let timeout: Duration
    public var description: String { "no answer within \(timeout)" }
}

/// Runs `body` and returns its result, or throws `DeadlinePassed` once `timeout` has passed on
/// `clock`, whichever comes first. Unlike a task group, it does not wait for a `body` stuck in
/// a call that ignores cancellation (a libpq query to a frozen server): that work is cancelled
/// and left to finish on its own, and the caller answers now.
public func withDeadline<T: Sendable>(
    _ timeout: Duration, clock: any WatchClock = SystemClock(), _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withCheckedThrowingContinuation { continuation in
        race.waiting.withLock { $0 = continuation }
        let work = Task {
            let outcome: Result<T, any Error>
            do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
            guard let c = race.take() else { return }
            race.tasks.withLock { $0.timer }?.cancel()
            c.resume(with: outcome)
        }
        let timer = Task {
            try? await clock.sleep(for: timeout)
            guard !Task.isCancelled, let c = race.take() else { return }
            race.tasks.withLock { $0.work }?.cancel()
            c.resume(throwing: DeadlinePassed(timeout: timeout))
        }
        race.tasks.withLock { $0 = (work, timer) }
    }
}

/// Who resumes the caller of `withDeadline`: the first of the work and the timer to finish.
private final class DeadlineRace<T: Sendable>: Sendable {
    let waiting = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let tasks = Mutex<(work: Task<Void, Never>?, timer: Task<Void, Never>?)>((nil, nil))

    func take() -> CheckedContinuation<T, any Error>? {
        waiting.withLock { w in
            defer { w = nil }
            return w
        }
    }
}
