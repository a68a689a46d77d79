import Foundation

/// Where the relay's reads of the outbox start. Rows published since the last vacuum still
/// have entries in the unpublished index, and a read from the start would step over all of
/// them; reads start `margin` ids below the oldest row the last read saw unpublished instead.
/// A row whose transaction committed so late that it fell below that (its id was taken long
/// before it became visible) is found by the full read every `rescanInterval`, or after a
/// failure.
struct OutboxFloor {
    static let margin: Int64 = 10_000
    static let rescanInterval: TimeInterval = 10

    private(set) var value: Int64 = 0
    private(set) var publishedUpTo: Int64 = 0
    private var lastFullRead = Date()

    /// After a read whose oldest row (or, when it found none, the next id to come) is `oldest`.
    mutating func read(_ oldest: Int64) {
        if Date().timeIntervalSince(lastFullRead) >= Self.rescanInterval {
            reset()
            return
        }
        value = max(value, oldest - 1 - Self.margin)
    }

    mutating func published(upTo id: Int64) { publishedUpTo = max(publishedUpTo, id) }

    /// The next read starts from the beginning.
    mutating func reset() {
        value = 0
        lastFullRead = Date()
    }
}
