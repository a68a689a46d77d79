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
    /// The account whose balance rose.
    public var account: String?

    public init(snapshotID: String, asset: String, at: Date, rise: Amount, used: Amount = .zero, account: String? = nil) {
        self.snapshotID = snapshotID
        self.account = account
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
    /// The intents account its handle names; nil: any account's rise may credit it.
    public var account: String?

    public init(id: Int, asset: String, amount: Amount, firstSeenAt: Date, account: String? = nil) {
        self.id = id
        self.account = account
        self.asset = asset
        self.amount = amount
        self.firstSeenAt = firstSeenAt
    }
}

/// Allocates verifier balance rises to pending observations of the token, oldest first, each
/// unit of a rise used once: two deposits of 1 BTC and one rise of 1 BTC credit one. A rise of
/// one account credits only deposits to that account's handles, and those of handles that name
/// no account (matched as before accounts were known; the credit says so).
public enum VerifierAllocation {
    public struct Allocation: Sendable, Equatable, Hashable {
        public var observationID: Int
        public var snapshotID: String
        /// The account whose rise it was.
        public var account: String?

        public init(observationID: Int, snapshotID: String, account: String? = nil) {
            self.observationID = observationID
            self.snapshotID = snapshotID
            self.account = account
        }
    }

    public static func allocate(_ rises: [SnapshotRise], to pending: [AllocatableObservation]) -> [Allocation] {
        var waiting = pending.sorted { ($0.firstSeenAt, $0.id) < ($1.firstSeenAt, $1.id) }
        var out: [Allocation] = []
        for rise in rises.sorted(by: { ($0.at, $0.snapshotID) < ($1.at, $1.snapshotID) }) {
            guard var left = rise.rise.subtractingReportingOverflow(rise.used) else { continue }
            // The account's own deposits first; then those whose handle names no account.
            for accountless in [false, true] {
                var i = 0
                while i < waiting.count {
                    let o = waiting[i]
                    let eligible = accountless ? o.account == nil : o.account == rise.account
                    if eligible, o.asset == rise.asset, o.amount != .zero, o.firstSeenAt <= rise.at, let rest = left.subtractingReportingOverflow(o.amount) {
                        left = rest
                        out.append(Allocation(observationID: o.id, snapshotID: rise.snapshotID, account: rise.account))
                        waiting.remove(at: i)
                    } else {
                        i += 1
                    }
                }
            }
        }
        return out
    }
}
