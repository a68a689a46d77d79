import Foundation
import Reconciler
import Testing
import WatchCore
import WatchTesting

@Suite struct CreditMatcherTests {
    let t0 = Date(timeIntervalSince1970: 1_780_000_000)

    func obs(_ id: Int, _ sats: UInt64, tx: String? = nil, age: Double = 0, confirmed: Bool = true, linked: String? = nil) -> MatchableObservation {
        obs(id, "bc1qa", sats, tx: tx, age: age, confirmed: confirmed, linked: linked)
    }

    func obs(_ id: Int, _ address: String, _ sats: UInt64, tx: String? = nil, age: Double = 0, confirmed: Bool = true, linked: String? = nil) -> MatchableObservation {
        MatchableObservation(
            id: id, bridgeChain: "btc:mainnet", address: address, asset: "BTC", amount: Amount(sats), txHash: tx ?? "tx\(id)",
            firstSeenAt: t0.addingTimeInterval(age), confirmed: confirmed, linkedDepositID: linked)
    }

    func deposit(_ id: String, _ sats: UInt64, tx: String? = nil, order: Int = 0) -> MatchableDeposit {
        deposit(id, "bc1qa", sats, tx: tx, order: order)
    }

    func deposit(_ id: String, _ address: String?, _ sats: UInt64, tx: String? = nil, order: Int = 0) -> MatchableDeposit {
        MatchableDeposit(id: id, bridgeChain: "btc:mainnet", address: address, asset: "BTC", txHash: tx, amount: Amount(sats), order: order)
    }

    @Test func txHashFirstCaseInsensitiveThenAmountThenSumOfOneTransaction() {
        let r = CreditMatcher.link([obs(1, 100, tx: "ABC"), obs(2, 100, tx: "def", age: 1)], [deposit("d1", 100, tx: "abc")])
        #expect(r.links == [CreditLink(observationID: 1, depositID: "d1", match: .txHash)])
        // One EVM tx paying two handles: two bridge records, each linked by tx hash + amount.
        let split = CreditMatcher.link(
            [obs(1, "0xa", 5, tx: "0xT"), obs(2, "0xb", 7, tx: "0xT")], [deposit("d7", nil, 7, tx: "0xt"), deposit("d5", nil, 5, tx: "0xt", order: 1)])
        #expect(Set(split.links) == [CreditLink(observationID: 2, depositID: "d7", match: .txHash), CreditLink(observationID: 1, depositID: "d5", match: .txHash)])
        // One tx paying one handle twice, reported as one deposit of the sum.
        let twice = CreditMatcher.link([obs(1, 3, tx: "t"), obs(2, 4, tx: "t")], [deposit("d", 7, tx: "t")])
        #expect(twice.links.map(\.observationID).sorted() == [1, 2])
        // A tx hash with another amount credits nothing: never more than the deposit says.
        let wrong = CreditMatcher.link([obs(1, 100, tx: "t")], [deposit("d", 99, tx: "t")])
        #expect(wrong.links.isEmpty && wrong.unmatched == ["d"])
    }

    @Test func withoutTxHashOneExactAmountTheOldestElseTheOldestSetSummingToIt() {
        // Two equal transfers and one bridge record: the oldest is credited, never both.
        let equal = CreditMatcher.link([obs(2, 50_000, age: 10), obs(1, 50_000, age: 5)], [deposit("d", 50_000)])
        #expect(equal.links == [CreditLink(observationID: 1, depositID: "d", match: .addressAmount)])
        // A balance-based deposit covering two UTXOs.
        let sum = CreditMatcher.link([obs(1, 30_000), obs(2, 70_000, age: 1), obs(3, 5, age: 2)], [deposit("d", 100_000)])
        #expect(Set(sum.links) == [CreditLink(observationID: 1, depositID: "d", match: .addressSum), CreditLink(observationID: 2, depositID: "d", match: .addressSum)])
        // Unconfirmed ones, other addresses and amounts nothing sums to are left alone.
        let none = CreditMatcher.link([obs(1, 100, confirmed: false), obs(2, "bc1qother", 100), obs(3, 40)], [deposit("d", 100)])
        #expect(none.links.isEmpty && none.unmatched == ["d"])
        // A stored link is never moved, and its deposit is not given to anyone else.
        let kept = CreditMatcher.link([obs(1, 100, linked: "d"), obs(2, 100, age: 1)], [deposit("d", 100)])
        #expect(kept.links.isEmpty)
        // Tx-hash evidence wins over an address match of another deposit.
        let order = CreditMatcher.link([obs(1, 100, tx: "t")], [deposit("byAddress", 100, order: 0), deposit("byTx", 100, tx: "t", order: 1)])
        #expect(order.links == [CreditLink(observationID: 1, depositID: "byTx", match: .txHash)] && order.unmatched == ["byAddress"])
    }

    @Test func verifierRisesAreAllocatedOldestFirstEachUnitOnce() {
        let pending = [
            AllocatableObservation(id: 1, asset: "BTC", amount: Amount(100), firstSeenAt: t0),
            AllocatableObservation(id: 2, asset: "BTC", amount: Amount(100), firstSeenAt: t0.addingTimeInterval(1)),
            AllocatableObservation(id: 3, asset: "EURe", amount: Amount(5), firstSeenAt: t0),
        ]
        // Two deposits of 100 and one rise of 100: one (the oldest) is credited.
        let one = VerifierAllocation.allocate([SnapshotRise(snapshotID: "s1", asset: "BTC", at: t0.addingTimeInterval(9), rise: Amount(100))], to: pending)
        #expect(one == [.init(observationID: 1, snapshotID: "s1")])
        // What earlier rounds used of a rise is not used again.
        let used = VerifierAllocation.allocate([SnapshotRise(snapshotID: "s1", asset: "BTC", at: t0.addingTimeInterval(9), rise: Amount(200), used: Amount(100))], to: pending)
        #expect(used.count == 1)
        // A rise before the transfer was seen does not reflect it.
        #expect(VerifierAllocation.allocate([SnapshotRise(snapshotID: "s0", asset: "BTC", at: t0.addingTimeInterval(-1), rise: Amount(500))], to: pending).isEmpty)
    }

    /// Over random observations and deposits: no observation linked twice or re-linked, a
    /// deposit credits exactly its amount (never more), and every link has its evidence.
    @Test(arguments: 0..<200)
    func linksAlwaysHaveEvidenceAndNeverOverCredit(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        let amounts: [UInt64] = [1_000, 2_000, 3_000, 5_000, 10_000]
        var observations: [MatchableObservation] = []
        for id in 1...(pick(12) + 1) {
            observations.append(obs(id, "a\(pick(3))", amounts[pick(amounts.count)], tx: "t\(pick(8))", age: Double(pick(100)), confirmed: pick(4) != 0, linked: pick(6) == 0 ? "old\(id)" : nil))
        }
        var deposits: [MatchableDeposit] = []
        for n in 0..<(pick(8) + 1) {
            let withTx = pick(2) == 0
            let amount = pick(3) == 0 ? amounts[pick(amounts.count)] : amounts[pick(amounts.count)] + amounts[pick(amounts.count)]
            deposits.append(deposit("d\(n)", pick(5) == 0 ? nil : "a\(pick(3))", amount, tx: withTx ? "T\(pick(8))".lowercased() : nil, order: pick(50)))
        }
        if pick(3) == 0, let o = observations.first { deposits.append(deposit("old1", o.address, o.amount.uint64 ?? 0)) }
        let result = CreditMatcher.link(observations, deposits)
        let byID = Dictionary(uniqueKeysWithValues: observations.map { ($0.id, $0) })
        #expect(Set(result.links.map(\.observationID)).count == result.links.count, "an observation linked twice")
        let consumed = Set(observations.compactMap(\.linkedDepositID))
        for (depositID, links) in Dictionary(grouping: result.links, by: \.depositID) {
            let d = deposits.first { $0.id == depositID }!
            #expect(!consumed.contains(depositID), "a consumed deposit linked again")
            var total = Amount.zero
            for link in links {
                let o = byID[link.observationID]!
                #expect(o.linkedDepositID == nil, "a stored link moved")
                total = total.addingReportingOverflow(o.amount)!
                switch link.match {
                case .txHash: #expect(o.txHash.lowercased() == d.txHash?.lowercased())
                case .addressAmount, .addressSum:
                    #expect(d.txHash == nil && o.confirmed && o.address.lowercased() == d.address?.lowercased())
                case .verifierDelta: Issue.record("the bridge matcher made a verifier link")
                }
            }
            #expect(total == d.amount, "deposit \(depositID) of \(d.amount) credited \(total)")
            if links.first?.match == .addressSum { #expect(links.count >= 2) }
            if links.first?.match == .addressAmount { #expect(links.count == 1) }
        }
    }
}
