import Foundation

/// The one way tests wait for something to happen: poll `condition` in real time until it
/// holds or `timeout` passes. Real time only bounds how long a broken run takes; what the code
/// under test waits for goes through its injected clock, which `pumping` moves by `step`
/// whenever that code is asleep on it (its backoffs and poll intervals then pass at once).
public func waitUntil(
    _ timeout: Duration = .seconds(10), every: Duration = .milliseconds(10), pumping clock: TestClock? = nil, step: TimeInterval = 1,
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        if let clock, clock.sleepers > 0 { clock.advance(by: step) }
        try? await Task.sleep(for: every)
    }
    return try await condition()
}

/// A condition a test waited for that never came true.
public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public let seconds: Double
    public var description: String { "timed out after \(seconds) s waiting for: \(what)" }
}

/// `waitUntil`, throwing `TimedOut` (failing the test with `what`) when it does not hold.
public func eventually(
    _ what: String, timeout: Double = 20, every: Duration = .milliseconds(50), pumping clock: TestClock? = nil,
    _ condition: () async throws -> Bool
) async throws {
    guard try await waitUntil(.milliseconds(Int64(timeout * 1000)), every: every, pumping: clock, condition) else {
        throw TimedOut(what: what, seconds: timeout)
    }
}
