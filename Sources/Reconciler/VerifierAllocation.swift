import Foundation
import WatchCore

/// A rise of one account's verifier balance of one token between two consecutive snapshots.
public struct SnapshotRise: Sendable, Equatable {
    public var snapshotID: String
    /// What it is allocated by: the reconciler passes the verifier token id here (and in
    /// `AllocatableObservation.asset`), so one asset on two chains is two pools.
    public var asset: String
    public var at: Date
    public var rise: Amount
    /// What observations credited in earlier rounds already took from this rise.
    public var used: Amount

    public init(snapshotID: String, asset: String, at: Date, rise: Amount, used: Amount = .zero) {
        self.snapshotID = snapshotID
        self.asset = asset
        self.at = at
        self.rise = rise
        self.used = used
    }
}

/// An observation waiting for credit that a verifier rise may reflect.
public struct AllocatableObservation: Sendable, Equatable {
    public var id: Int
    public var asset: String
    public var amount: Amount
    public var firstSeenAt: Date

    public init(id: Int, asset: String, amount: Amount, firstSeenAt: Date) {
        self.id = id
        self.asset = asset
        self.amount = amount
        self.firstSeenAt = firstSeenAt
    }
}

/// Allocates verifier balance rises to pending observations of the token, oldest first, each
/// unit of a rise used once: two deposits of 1 BTC and one rise of 1 BTC credit one.
public enum VerifierAllocation {
    public struct Allocation: Sendable, Equatable, Hashable {
        public var observationID: Int
        public var snapshotID: String

        public init(observationID: Int, snapshotID: String) {
            self.observationID = observationID
            self.snapshotID = snapshotID
        }
    }

    public static func allocate(_ rises: [SnapshotRise], to pending: [AllocatableObservation]) -> [Allocation] {
        var waiting = pending.sorted { ($0.firstSeenAt, $0.id) < ($1.firstSeenAt, $1.id) }
        var out: [Allocation] = []
        for rise in rises.sorted(by: { ($0.at, $0.snapshotID) < ($1.at, $1.snapshotID) }) {
            guard var left = rise.rise.subtractingReportingOverflow(rise.used) else { continue }
            var i = 0
            while i < waiting.count {
                let o = waiting[i]
                if o.asset == rise.asset, o.amount != .zero, o.firstSeenAt <= rise.at, let rest = left.subtractingReportingOverflow(o.amount) {
                    left = rest
                    out.append(Allocation(observationID: o.id, snapshotID: rise.snapshotID))
                    waiting.remove(at: i)
                } else {
                    i += 1
                }
            }
        }
        return out
    }
}
