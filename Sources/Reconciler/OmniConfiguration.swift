import Foundation
import WatchCore

/// The `[bridge.omni]` config section: the Omni Bridge (nBTC), the second bridge BTC takes into
/// NEAR Intents. Its numbers that the sources do not settle (the minimum, the confirmation
/// tiers, which statuses mean failure) are configured here, never assumed.
public struct OmniConfiguration: Sendable {
    public var enabled: Bool
    /// The Omni Bridge API (`/api/v3/utxo/get_user_deposit_address`, `/api/v4/transfers/…`).
    public var apiURL: String
    /// The intents accounts an Omni deposit address is made for (default: `[bridge] accounts`).
    public var accounts: [String]
    /// The UTXO chain (a chain section's name) the deposit addresses are watched on.
    public var chain: String
    /// The asset those handles receive on `chain`.
    public var asset: String
    /// The verifier token Omni credits (`nep141:nbtc.bridge.near`).
    public var token: String
    /// The account nBTC is minted to for NEAR Intents (`recipient_id` of the DepositMsg).
    public var verifier: String
    /// A BTC refund address put in every DepositMsg this service makes (2-day refund timelock
    /// instead of 14); nil: none.
    public var refundAddress: String?
    /// The BTC connector contract, named in the refund path of a stuck transfer's alert.
    public var connector: String
    /// How often Omni is read (at most once per reconciler round).
    public var pollInterval: TimeInterval
    public var timeout: Duration
    /// At most this many transfer lookups per round (the API's rate limits are not documented).
    public var maxLookupsPerRound: Int
    /// From the confirmations Omni requires to an Omni record, and from `CREDIT_PENDING` to the
    /// verifier credit.
    public var policy: CreditPolicy
    /// `min_deposit_amount` in sats, when configured: an output below it is never minted.
    public var minDepositSats: Amount?
    /// Confirmations Omni waits for, by amount, as the contract reads its
    /// `confirmations_strategy`: the tier of the first limit (sats) above the amount, the highest
    /// limit's tier above them all; `requiredConfirmations` without tiers.
    public var confirmationTiers: [(upTo: Amount, confirmations: Int)]
    public var requiredConfirmations: Int
    /// How often the connector's `get_config` is read (with `[bridge] near_rpc_url`): its
    /// minimum and tiers take the place of the configured ones.
    public var connectorConfigRefresh: TimeInterval
    /// How often every Omni handle's address is asked for again with its stored message (and an
    /// account without one gets its handle); at every start too.
    public var addressCheck: TimeInterval
    /// Statuses that mean the transfer failed (none is documented; every other is non-terminal).
    public var failedStatuses: [String]

    public static let defaultAPIURL = "https://mainnet.api.bridge.nearone.org"

    public init(section: ConfigSection, bridgeAccounts: [String]) {
        enabled = section.bool("enabled", default: true)
        apiURL = section.string("api_url", default: Self.defaultAPIURL) ?? Self.defaultAPIURL
        if !(apiURL.hasPrefix("http://") || apiURL.hasPrefix("https://")) {
            section.problem("api_url", "\"\(apiURL)\"", "expected the Omni Bridge API's http(s) URL, e.g. \(Self.defaultAPIURL)")
        }
        accounts = section.has("accounts") ? section.stringArray("accounts") : bridgeAccounts
        for account in accounts where !HandleAccount.isValid(account) {
            section.problem("accounts", "\"\(account)\"", "a NEAR account id such as \"solver.near\"")
        }
        chain = section.string("chain", default: "bitcoin") ?? "bitcoin"
        asset = section.string("asset", default: "BTC") ?? "BTC"
        token = section.string("token", default: "nep141:nbtc.bridge.near") ?? ""
        if !token.hasPrefix("nep141:") { section.problem("token", "\"\(token)\"", "a verifier token id such as \"nep141:nbtc.bridge.near\"") }
        verifier = section.string("verifier", default: "intents.near") ?? "intents.near"
        refundAddress = section.string("refund_address").flatMap { $0.isEmpty ? nil : $0 }
        connector = section.string("connector", default: "btc-connector.bridge.near") ?? ""
        pollInterval = Double(section.int("poll_interval_ms", default: 15_000, range: 100...3_600_000)) / 1_000
        timeout = .seconds(section.int("timeout_s", default: 15, range: 1...600))
        maxLookupsPerRound = section.int("max_lookups_per_round", default: 50, range: 1...10_000)
        policy = CreditPolicy(
            noBridgeRecord: Double(section.int("no_record_s", default: 7_200, range: 1...31_536_000)),
            notCredited: Double(section.int("credit_budget_s", default: 7_200, range: 1...31_536_000)))
        minDepositSats = Self.readAmount(section, "min_deposit_sats")
        requiredConfirmations = section.int("required_confirmations", default: 2, range: 1...1_000)
        confirmationTiers = Self.readTiers(section)
        connectorConfigRefresh = Double(section.int("connector_config_refresh_s", default: 3_600, range: 10...604_800))
        addressCheck = Double(section.int("address_check_s", default: 3_600, range: 10...604_800))
        failedStatuses = section.stringArray("failed_statuses", default: ["Failed"])
        section.finish()
    }

    /// The confirmations Omni waits for before an output of `amount` can be finalised.
    public func confirmations(for amount: Amount) -> Int {
        (confirmationTiers.first { amount < $0.upTo } ?? confirmationTiers.last)?.confirmations ?? requiredConfirmations
    }

    static func readAmount(_ section: ConfigSection, _ key: String) -> Amount? {
        guard section.has(key) else { return nil }
        let value = section.int(key, default: 0, range: 0...Int.max)
        return Amount(decimal: String(value))
    }

    /// `confirmation_tiers = { "1000000" = 2, "100000000" = 6 }`: satoshi limit → confirmations.
    static func readTiers(_ section: ConfigSection) -> [(upTo: Amount, confirmations: Int)] {
        guard let table = section.table("confirmation_tiers") else { return [] }
        var tiers: [(upTo: Amount, confirmations: Int)] = []
        for key in table.keys {
            guard let bound = Amount(decimal: key) else {
                table.problem(key, key, "an upper bound in sats (digits only), e.g. \"1000000\" = 2")
                continue
            }
            tiers.append((bound, table.int(key, default: 2, range: 1...1_000)))
        }
        table.finish()
        return tiers.sorted { $0.upTo < $1.upTo }
    }
}
