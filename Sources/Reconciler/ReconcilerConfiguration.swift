import WatchCore

/// The `[bridge]` config section: the POA bridge to poll, and the credit policy.
public struct ReconcilerConfiguration: Sendable {
    public var rpcURL: String
    public var accounts: [String]
    /// Chain name → bridge chain id (`bitcoin` → `btc:mainnet`, `gnosis` → `eth:100`).
    public var chains: [String: String]
    /// Asset → verifier token id, to find the snapshot that reflects a credit.
    public var tokens: [String: String]
    public var pollInterval: Duration
    public var pageSize: Int
    public var maxPages: Int
    public var policy: CreditPolicy
    public var timeout: Duration
    /// NEAR RPC to read verifier balances from directly (`mt_batch_balance_of`), when set.
    public var nearRPCURL: String?
    public var verifierContract: String

    public init(section: ConfigSection) {
        rpcURL = section.string("rpc_url", default: "https://bridge.chaindefuser.com/rpc") ?? ""
        if !(rpcURL.hasPrefix("http://") || rpcURL.hasPrefix("https://")) {
            section.problem("rpc_url", "\"\(rpcURL)\"", "expected the bridge's http(s) JSON-RPC URL, e.g. https://bridge.chaindefuser.com/rpc")
        }
        accounts = section.stringArray("accounts")
        if accounts.isEmpty { section.problem("accounts", nil, "at least one NEAR account is required, e.g. accounts = [\"solver.near\"]") }
        func stringTable(_ key: String, default def: [String: String]) -> [String: String] {
            guard let t = section.table(key) else {
                section.recordEffective(key, .object(def.mapValues(JSONValue.string)))
                return def
            }
            var out: [String: String] = [:]
            for k in t.keys { if let v = t.string(k) { out[k] = v } }
            t.finish()
            section.recordEffective(key, .object(out.mapValues(JSONValue.string)))
            return out
        }
        chains = stringTable("chains", default: ["bitcoin": "btc:mainnet", "gnosis": "eth:100"])
        tokens = stringTable(
            "tokens",
            default: ["BTC": "nep141:btc.omft.near", "EURe": "nep141:gnosis-0x420ca0f9b9b604ce0fd9c18ef134c705e5fa3430.omft.near"])
        pollInterval = .milliseconds(section.int("poll_interval_ms", default: 30_000, range: 100...3_600_000))
        pageSize = section.int("page_limit", default: 100, range: 1...100)
        maxPages = section.int("max_pages", default: 10, range: 1...1_000)
        policy = CreditPolicy(
            noBridgeRecord: Double(section.int("no_bridge_record_s", default: 7_200, range: 1...31_536_000)),
            notCredited: Double(section.int("credit_budget_s", default: 7_200, range: 1...31_536_000)))
        timeout = .seconds(section.int("timeout_s", default: 15, range: 1...600))
        nearRPCURL = section.string("near_rpc_url").flatMap { $0.isEmpty ? nil : $0 }
        if let url = nearRPCURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            section.problem("near_rpc_url", "\"\(url)\"", "expected a NEAR RPC http(s) URL, e.g. https://rpc.mainnet.near.org")
        }
        verifierContract = section.string("verifier_contract", default: "intents.near") ?? "intents.near"
    }
}
