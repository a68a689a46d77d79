import Foundation
import Synchronization
import WatchCore

/// A clock tests move by hand. `sleep` returns once the clock has been advanced past the deadline.
public final class TestClock: WatchClock {
    private let current: Mutex<Date>
    private let sleepsStarted = Mutex(0)
    private let sleeping = Mutex(0)

    /// How many sleeps have started on this clock: a test that waits for this to grow knows the
    /// code under test finished what it did before its next wait, however slowly it ran.
    public var sleeps: Int { sleepsStarted.withLock { $0 } }

    /// How many sleeps are under way now. Advance the clock only once the code under test is
    /// asleep: a sleep that starts after an advance counts its deadline from the new time and
    /// waits for the next advance.
    public var sleepers: Int { sleeping.withLock { $0 } }

    public init(_ start: Date = Date(timeIntervalSince1970: 1_780_000_000)) { current = Mutex(start) }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }

    public func sleep(for duration: Duration) async throws {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let deadline = now().addingTimeInterval(seconds)
        sleepsStarted.withLock { $0 += 1 }
        sleeping.withLock { $0 += 1 }
        defer { sleeping.withLock { $0 -= 1 } }
        while now() < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
