import Reconciler
import Testing
import WatchCore

@Suite struct BridgeReplyFuzzTests {
    static let good: JSONValue = [
        "tx_hash": "abc", "mint_tx_hash": "m", "chain": "btc:mainnet", "near_token_id": "btc.omft.near", "decimals": 8,
        "amount": .number("123456789012345678901234567890"), "account_id": "solver.near", "address": "bc1q…", "status": "COMPLETED",
    ]

    @Test func exactAmountsInEveryEncoding() throws {
        #expect(try BridgeDeposit(json: Self.good).amount.description == "123456789012345678901234567890")
        for (raw, expected) in [(JSONValue.int(42), "42"), (.string("1000000000000000000"), "1000000000000000000")] {
            guard case .object(var o) = Self.good else { return }
            o["amount"] = raw
            #expect(try BridgeDeposit(json: .object(o)).amount.description == expected)
        }
    }

    /// Replaced, removed and retyped fields: each item parses or is rejected with a reason.
    @Test(arguments: 0..<10)
    func mutatedItemsAreRejectedCleanly(seed: UInt64) {
        var rng = seed &* 2_862_933_555_777_941_757 &+ 3_037_000_493
        func next(_ n: UInt64) -> UInt64 {
            rng = rng &* 2_862_933_555_777_941_757 &+ 3_037_000_493
            return (rng >> 29) % n
        }
        let junk: [JSONValue] = [.null, .bool(true), .int(-5), .double(1.5), .number("1e400"), .number("-3"), .string(""), .string("PENDINGX"), .array([]), .object([:]), .string(String(repeating: "9", count: 100))]
        guard case .object(let base) = Self.good else { return }
        for _ in 0..<300 {
            var o = base
            let keys = Array(base.keys)
            for _ in 0..<Int(next(4)) + 1 {
                let key = keys[Int(next(UInt64(keys.count)))]
                if next(3) == 0 { o[key] = nil } else { o[key] = junk[Int(next(UInt64(junk.count)))] }
            }
            do {
                let d = try BridgeDeposit(json: .object(o))
                #expect(!d.chain.isEmpty && !d.accountID.isEmpty)
            } catch {
                #expect(error.description.hasPrefix("malformed recent_deposits item"))
            }
        }
        #expect(throws: BridgeDeposit.Malformed.self) { try BridgeDeposit(json: .array([])) }
    }
}
