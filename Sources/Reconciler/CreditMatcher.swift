import Foundation
import WatchCore

/// How an observation was linked to its credit, as stored (`credit_match`) and published
/// (`match` in its timeline event).
public enum CreditMatch: String, Sendable, CaseIterable {
    /// The bridge record names the transaction.
    case txHash = "tx_hash"
    /// No tx hash: the one open observation of the handle with exactly the deposit's amount.
    case addressAmount = "address_amount"
    /// No tx hash: several open observations of the handle whose amounts sum to the deposit
    /// (a balance-based deposit covering several UTXOs).
    case addressSum = "address_sum"
    /// A rise of the account's verifier balance, allocated oldest first.
    case verifierDelta = "verifier_delta"
}

/// An observation the matcher may link to a bridge deposit.
public struct MatchableObservation: Sendable, Equatable {
    public var id: Int
    /// The bridge's chain id for the observation's chain (`btc:mainnet`).
    public var bridgeChain: String
    public var address: String
    public var asset: String
    public var amount: Amount
    public var txHash: String
    public var firstSeenAt: Date
    /// Confirmed (not `SEEN_UNCONFIRMED`): only these are matched by address.
    public var confirmed: Bool
    /// The deposit it was linked to in an earlier round: a link is never moved.
    public var linkedDepositID: String?

    public init(id: Int, bridgeChain: String, address: String, asset: String, amount: Amount, txHash: String, firstSeenAt: Date, confirmed: Bool, linkedDepositID: String? = nil) {
        self.id = id
        self.bridgeChain = bridgeChain
        self.address = address
        self.asset = asset
        self.amount = amount
        self.txHash = txHash
        self.firstSeenAt = firstSeenAt
        self.confirmed = confirmed
        self.linkedDepositID = linkedDepositID
    }
}

/// A bridge deposit the matcher may link observations to.
public struct MatchableDeposit: Sendable, Equatable {
    public var id: String
    public var bridgeChain: String
    public var address: String?
    /// The asset its token maps to, when the token is one of `[bridge] tokens`.
    public var asset: String?
    public var txHash: String?
    public var amount: Amount
    /// The order the bridge reported it in (older first).
    public var order: Int

    public init(id: String, bridgeChain: String, address: String?, asset: String?, txHash: String?, amount: Amount, order: Int) {
        self.id = id
        self.bridgeChain = bridgeChain
        self.address = address
        self.asset = asset
        self.txHash = txHash
        self.amount = amount
        self.order = order
    }
}

public struct CreditLink: Sendable, Equatable, Hashable {
    public var observationID: Int
    public var depositID: String
    public var match: CreditMatch

    public init(observationID: Int, depositID: String, match: CreditMatch) {
        self.observationID = observationID
        self.depositID = depositID
        self.match = match
    }
}

/// Links bridge deposits to chain observations, one implementation for every chain, as a pure
/// function. Each observation is linked to at most one deposit; each deposit to the
/// observations whose amount (or sum) it equals, never to more: two equal transfers and one
/// bridge record link one (the oldest).
public enum CreditMatcher {
    public struct Result: Sendable, Equatable {
        public var links: [CreditLink] = []
        /// Deposits no free observation matched (none yet, or an amount nothing sums to).
        public var unmatched: [String] = []
    }

    /// At most this many candidates are searched for a sum (the oldest), and at most
    /// `searchBudget` steps: a peer cannot make the search large.
    static let sumCandidates = 24
    static let searchBudget = 200_000

    public static func link(_ observations: [MatchableObservation], _ deposits: [MatchableDeposit]) -> Result {
        let consumed = Set(observations.compactMap(\.linkedDepositID))
        var free = observations.filter { $0.linkedDepositID == nil }
            .sorted { ($0.firstSeenAt, $0.id) < ($1.firstSeenAt, $1.id) }
        var result = Result()
        let open = deposits.filter { !consumed.contains($0.id) }.sorted { $0.order < $1.order }
        // Tx-hash evidence first: it is the strongest, and must not lose its observation to an
        // address match of another deposit.
        for deposit in open where deposit.txHash != nil {
            take(byTxHash(deposit, free), deposit, .txHash, &free, &result)
        }
        for deposit in open where deposit.txHash == nil {
            let (chosen, match) = byAddress(deposit, free)
            take(chosen, deposit, match, &free, &result)
        }
        return result
    }

    static func take(_ chosen: [MatchableObservation], _ deposit: MatchableDeposit, _ match: CreditMatch, _ free: inout [MatchableObservation], _ result: inout Result) {
        guard !chosen.isEmpty else {
            result.unmatched.append(deposit.id)
            return
        }
        let ids = Set(chosen.map(\.id))
        free.removeAll { ids.contains($0.id) }
        result.links += chosen.map { CreditLink(observationID: $0.id, depositID: deposit.id, match: match) }
    }

    /// The observations of the deposit's transaction: the one with its amount, else all of them
    /// when they sum to it (one tx paying one handle twice). A tx hash with another amount links
    /// nothing: a deposit never credits more than it says.
    static func byTxHash(_ deposit: MatchableDeposit, _ free: [MatchableObservation]) -> [MatchableObservation] {
        guard let hash = deposit.txHash?.lowercased() else { return [] }
        var candidates = free.filter { $0.bridgeChain == deposit.bridgeChain && $0.txHash.lowercased() == hash }
        if let address = deposit.address?.lowercased() {
            let sameAddress = candidates.filter { $0.address.lowercased() == address }
            if !sameAddress.isEmpty { candidates = sameAddress }
        }
        if let exact = candidates.first(where: { $0.amount == deposit.amount }) { return [exact] }
        if candidates.count > 1, sum(candidates) == deposit.amount { return candidates }
        return []
    }

    /// Without a tx hash: the oldest confirmed observation of the handle with exactly the
    /// amount, else the oldest-first set of them whose amounts sum to it.
    static func byAddress(_ deposit: MatchableDeposit, _ free: [MatchableObservation]) -> ([MatchableObservation], CreditMatch) {
        guard let address = deposit.address?.lowercased() else { return ([], .addressAmount) }
        let candidates = free.filter {
            $0.confirmed && $0.bridgeChain == deposit.bridgeChain && $0.address.lowercased() == address
                && (deposit.asset == nil || deposit.asset == $0.asset)
        }
        if let exact = candidates.first(where: { $0.amount == deposit.amount }) { return ([exact], .addressAmount) }
        return (subsetSumming(to: deposit.amount, Array(candidates.prefix(sumCandidates))), .addressSum)
    }

    /// The subset (of two or more) summing exactly to `target` that uses the oldest
    /// observations: a depth-first search that tries including each one before skipping it.
    static func subsetSumming(to target: Amount, _ candidates: [MatchableObservation]) -> [MatchableObservation] {
        var steps = 0
        var chosen: [Int] = []
        func search(_ from: Int, _ total: Amount) -> Bool {
            if total == target { return chosen.count >= 2 }
            steps += 1
            guard steps < searchBudget, from < candidates.count else { return false }
            for i in from..<candidates.count {
                guard let next = total.addingReportingOverflow(candidates[i].amount), next <= target else { continue }
                chosen.append(i)
                if search(i + 1, next) { return true }
                chosen.removeLast()
                if steps >= searchBudget { return false }
            }
            return false
        }
        return search(0, .zero) ? chosen.map { candidates[$0] } : []
    }

    static func sum(_ observations: [MatchableObservation]) -> Amount? {
        var total = Amount.zero
        for o in observations {
            guard let next = total.addingReportingOverflow(o.amount) else { return nil }
            total = next
        }
        return total
    }
}
