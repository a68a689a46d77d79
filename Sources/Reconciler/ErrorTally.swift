import Foundation

/// The errors one reader of the reconciler counted: how many, the last, and when (the
/// reconciler's `last_error` is the newest of its readers').
struct ErrorTally {
    var count = 0
    var last: String?
    var lastAt: Date?

    mutating func record(_ text: String, at: Date) {
        count += 1
        last = text
        lastAt = at
    }

    /// The text of the newest of `tallies`' last errors.
    static func newest(_ tallies: [ErrorTally]) -> String? {
        tallies.max { ($0.lastAt ?? .distantPast) < ($1.lastAt ?? .distantPast) }?.last
    }
}
