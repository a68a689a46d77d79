/// Retry with exponential backoff and full jitter, for transient failures only.
public struct RetryPolicy: Sendable {
    /// Total tries, the first included.
    public var attempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(attempts: Int = 6, baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(20)) {
        self.attempts = max(1, attempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The pause before retry number `retry` (0-based): uniformly random in [d/2, d] with
    /// d = min(maxDelay, baseDelay · 2^retry).
    public func delay(retry: Int) -> Duration {
        var d = baseDelay
        for _ in 0..<min(retry, 40) where d < maxDelay { d *= 2 }
        d = min(d, maxDelay)
        return d * Double.random(in: 0.5...1.0)
    }

    /// Runs `body`, retrying `JSONRPCError`s that are transient. `onRetry` sees each failure
    /// and the pause before the next try; the last failure is rethrown.
    public func run<T: Sendable>(
        sleep: @Sendable (Duration) async throws -> Void,
        onRetry: @Sendable (JSONRPCError, Duration) -> Void = { _, _ in },
        _ body: @Sendable () async throws -> T
    ) async throws -> T {
        var retry = 0
        while true {
            do {
                return try await body()
            } catch let error as JSONRPCError where error.isTransient && retry + 1 < attempts {
                let pause = delay(retry: retry)
                onRetry(error, pause)
                retry += 1
                try await sleep(pause)
            }
        }
    }
}
