import Foundation

/// Where the relay's reads of the outbox start.
///
/// Rows published since the last vacuum still have entries in the unpublished index, and a
/// read from the start would step over all of them. A read starts instead just below the
/// oldest row a read saw unpublished `lag` ago. Rows below that can still appear — their ids
/// were taken before, their transactions committed after — but a transaction that took less
/// than `lag` from writing its outbox rows to committing is always above it. Every read takes
/// all that is visible above the floor in id order, so the rows of one transaction (one key's
/// events in one commit) go out together and in order. Anything slower than `lag` is found by
/// the full read every `rescanInterval`, and after a failure. Every writer here inserts its
/// outbox rows last, just before it commits (milliseconds), so half a second is ample.
struct OutboxFloor {
    static let lag: TimeInterval = 0.5
    static let rescanInterval: TimeInterval = 10

    /// Reads take rows with an id above this.
    private(set) var value: Int64 = 0
    /// The highest id any read returned.
    private var readUpTo: Int64 = 0
    private var samples: [(at: Date, oldest: Int64)] = []
    private var lastFullRead: Date

    init(now: Date) { lastFullRead = now }

    /// Where the next read starts (0: a full read).
    func next(now: Date) -> Int64 {
        now.timeIntervalSince(lastFullRead) >= Self.rescanInterval ? 0 : value
    }

    /// After a read from `after` that returned rows from `first` to `last` (ids), or none.
    mutating func record(after: Int64, first: Int64?, last: Int64?, now: Date) {
        if after == 0 {
            value = 0
            samples = []
            lastFullRead = now
        }
        if let last { readUpTo = max(readUpTo, last) }
        // Every committed row below the oldest one this read found (or, when it found none,
        // below the next to come) has been read: what appears there later committed late.
        samples.append((now, first ?? readUpTo + 1))
        var used = 0
        while used < samples.count, now.timeIntervalSince(samples[used].at) >= Self.lag {
            value = max(value, samples[used].oldest - 1)
            used += 1
        }
        samples.removeFirst(used)
    }

    /// After a failure: the next read is a full one, and the floor starts again from there.
    mutating func reset() {
        value = 0
        samples = []
        lastFullRead = .distantPast
    }
}
