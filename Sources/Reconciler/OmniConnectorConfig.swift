import Foundation
import WatchCore

/// What the BTC connector's `get_config` view says about deposits (reference/omni-bridge.md
/// §3, §7): the minimum below which nothing is minted, the confirmations by amount, the delta a
/// relayer off the whitelist adds, and the refund timelocks. Read at runtime: the sources give
/// no mainnet numbers.
public struct OmniConnectorConfig: Sendable, Equatable {
    public var minDepositAmount: Amount
    /// `confirmations_strategy`: satoshi upper limit → confirmations, sorted by limit.
    public var tiers: [Tier]
    public var confirmationsDelta: Int
    public var refundTimelock: Int?
    public var unsafeRefundTimelock: Int?

    public struct Tier: Sendable, Equatable {
        public var limit: Amount
        public var confirmations: Int
    }

    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
    }

    public init(json: JSONValue) throws(Malformed) {
        guard case .object(let o) = json else { throw Malformed(description: "get_config did not return an object") }
        guard let minimum = OmniBridgeClient.amount(o["min_deposit_amount"]) else {
            throw Malformed(description: "get_config: min_deposit_amount \(Excerpt.of(o["min_deposit_amount"]?.serialized() ?? "missing")) is not a decimal amount")
        }
        guard case .object(let strategy)? = o["confirmations_strategy"], !strategy.isEmpty, strategy.count <= 64 else {
            throw Malformed(description: "get_config: confirmations_strategy is not a non-empty map of satoshi limits to confirmations")
        }
        var tiers: [Tier] = []
        for (limit, value) in strategy {
            guard let bound = Amount(decimal: limit), let n = value.int64Value, (1...1_000).contains(n) else {
                throw Malformed(description: "get_config: confirmations_strategy entry \(Excerpt.of(limit)) = \(Excerpt.of(value.serialized())) is not limit → confirmations")
            }
            tiers.append(Tier(limit: bound, confirmations: Int(n)))
        }
        minDepositAmount = minimum
        self.tiers = tiers.sorted { $0.limit < $1.limit }
        confirmationsDelta = Int(o["confirmations_delta"]?.int64Value ?? 0)
        refundTimelock = o["refund_timelock_sec"]?.int64Value.map(Int.init)
        unsafeRefundTimelock = o["unsafe_refund_timelock_sec"]?.int64Value.map(Int.init)
    }

    /// The contract's `get_confirmations`: the tier of the first limit above the amount, else
    /// the highest limit's tier. (The whitelisted relayer adds no delta.)
    public func confirmations(for amount: Amount) -> Int {
        (tiers.first { $0.limit > amount } ?? tiers.last)?.confirmations ?? 2
    }

    public var json: JSONValue {
        [
            "min_deposit_amount": .string(minDepositAmount.description), "confirmations_delta": .int(Int64(confirmationsDelta)),
            "confirmations_strategy": .object(Dictionary(uniqueKeysWithValues: tiers.map { ($0.limit.description, JSONValue.int(Int64($0.confirmations))) })),
            "refund_timelock_sec": .optional(refundTimelock), "unsafe_refund_timelock_sec": .optional(unsafeRefundTimelock),
        ]
    }
}
