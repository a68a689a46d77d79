import Foundation

/// A condition a test waited for that never came true.
public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public let seconds: Double
    public var description: String { "timed out after \(seconds) s waiting for: \(what)" }
}

/// Polls `condition` every `every` until it holds; throws `TimedOut` (failing the test with
/// `what`) once `timeout` seconds passed.
public func eventually(
    _ what: String, timeout: Double = 20, every: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: every)
    }
    throw TimedOut(what: what, seconds: timeout)
}
