import Foundation

/// Runs blocking work (a pipe read to its end, a child's whole run) on a thread of its own,
/// off the concurrency pool.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
