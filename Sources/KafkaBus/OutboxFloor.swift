import Foundation

/// Where the relay's reads of the outbox start.
///
/// Rows published since the last vacuum still have entries in the unpublished index, and a
/// read from the start would step over all of them. Most reads therefore take only what is
/// new: rows above the highest id read so far. A row can still appear below that: its id was
/// taken before, its transaction committed after (another writer, or the other half of a
/// split commit). Such rows are found by a "gap" read from the oldest row seen unpublished
/// `lag` ago (a transaction that took less than `lag` from writing its row to committing is
/// always above that), every `gapInterval`; anything slower by the full read every
/// `rescanInterval`, and after a failure.
struct OutboxFloor {
    static let lag: TimeInterval = 2
    static let gapInterval: TimeInterval = 0.25
    static let rescanInterval: TimeInterval = 10

    enum Read: Equatable {
        /// Rows above the highest id read so far.
        case new(after: Int64)
        /// Rows above the lagged floor, for late commits below what was read.
        case gap(after: Int64)
        /// Every unpublished row.
        case full

        /// Rows with an id above this are read.
        var after: Int64 {
            switch self {
            case .new(let id), .gap(let id): id
            case .full: 0
            }
        }
    }

    private(set) var lagged: Int64 = 0
    private(set) var readUpTo: Int64 = 0
    private var samples: [(at: Date, oldest: Int64)] = []
    private var lastFullRead: Date
    private var lastGapRead: Date

    init(now: Date = Date()) {
        lastFullRead = now
        lastGapRead = now
    }

    /// The read to make now.
    func next(now: Date = Date()) -> Read {
        if now.timeIntervalSince(lastFullRead) >= Self.rescanInterval { return .full }
        if lagged < readUpTo, now.timeIntervalSince(lastGapRead) >= Self.gapInterval {
            return .gap(after: lagged)
        }
        return .new(after: max(lagged, readUpTo))
    }

    /// After `read` returned rows from `first` to `last` (ids), or none.
    mutating func record(_ read: Read, first: Int64?, last: Int64?, now: Date = Date()) {
        switch read {
        case .full:
            lagged = 0
            samples = []
            lastFullRead = now
            lastGapRead = now
        case .gap:
            lastGapRead = now
        case .new:
            break
        }
        if let last { readUpTo = max(readUpTo, last) }
        switch read {
        case .full, .gap:
            // Every committed row below the oldest one this read found (or, when it found
            // none, below the next to come) has been read: what appears there later committed late.
            samples.append((now, first ?? readUpTo + 1))
        case .new:
            break
        }
        var used = 0
        while used < samples.count, now.timeIntervalSince(samples[used].at) >= Self.lag {
            lagged = max(lagged, samples[used].oldest - 1)
            used += 1
        }
        samples.removeFirst(used)
    }

    /// After a failure: the next read is a full one.
    mutating func reset() {
        lastFullRead = .distantPast
    }
}
