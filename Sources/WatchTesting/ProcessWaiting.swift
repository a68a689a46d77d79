import Foundation

extension Process {
    /// Waits for the process to end without holding a thread of Swift's concurrency pool. Tests
    /// run in parallel on that pool, which has one thread per core (two here): a test blocked in
    /// `waitUntilExit()` or `usleep` starves every other running test, and their time-outs
    /// fire for nothing. False when it still runs after `timeout`.
    public func exited(within timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}

/// Runs blocking work (a pipe read to its end, a child's whole run) on a thread of its own,
/// off the concurrency pool.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// Starts `process`, one start at a time in this test process: Foundation's `Process.run()` on
/// Linux was seen crashing (a bad read while it copied the child's arguments and environment)
/// when tests started processes on several threads at once.
public func spawn(_ process: Process) throws {
    try spawnLock.withLock { try process.run() }
}

private let spawnLock = NSLock()
