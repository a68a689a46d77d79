import Foundation

/// Where the relay's reads of the outbox start. Rows published since the last vacuum still
/// have entries in the unpublished index, and a read from the start would step over all of
/// them. A row below the oldest one a read saw unpublished can still appear: its id was taken
/// before, its transaction committed after. So reads start at the oldest row seen unpublished
/// by a read at least `lag` ago: a transaction that took less than `lag` from writing its
/// outbox row to committing is always found by a read from there. Anything slower is found by
/// the full read every `rescanInterval`, and after a failure.
struct OutboxFloor {
    static let lag: TimeInterval = 2
    static let rescanInterval: TimeInterval = 10

    private(set) var value: Int64 = 0
    private(set) var publishedUpTo: Int64 = 0
    private var samples: [(at: Date, oldest: Int64)] = []
    private var lastFullRead: Date

    init(now: Date = Date()) { lastFullRead = now }

    /// After a read whose oldest row (or, when it found none, the next id to come) is `oldest`.
    mutating func read(_ oldest: Int64, now: Date = Date()) {
        if now.timeIntervalSince(lastFullRead) >= Self.rescanInterval {
            reset(now: now)
            return
        }
        samples.append((now, oldest))
        var used = 0
        while used < samples.count, now.timeIntervalSince(samples[used].at) >= Self.lag {
            value = max(value, samples[used].oldest - 1)
            used += 1
        }
        samples.removeFirst(used)
    }

    mutating func published(upTo id: Int64) { publishedUpTo = max(publishedUpTo, id) }

    /// The next read starts from the beginning.
    mutating func reset(now: Date = Date()) {
        value = 0
        samples = []
        lastFullRead = now
    }
}
