import Foundation
import WatchCore

/// The `[bridge]` config section: the POA bridge to poll, and the credit policy.
public struct ReconcilerConfiguration: Sendable {
    public var rpcURL: String
    public var accounts: [String]
    /// Chain name → bridge chain id (`bitcoin` → `btc:mainnet`, `gnosis` → `eth:100`).
    public var chains: [String: String]
    /// Asset → verifier token id, to find the snapshot that reflects a credit: the default for
    /// chains without their own table in `tokensByChain`.
    public var tokens: [String: String]
    /// `[bridge.tokens.<chain>]`: chain name → asset → verifier token id (USDC on `base` and
    /// USDC on `ethereum` are two tokens).
    public var tokensByChain: [String: [String: String]] = [:]
    /// Whether `[bridge.chains]` was written (else `chains` holds the defaults).
    public var chainsWritten = false
    public var pollInterval: Duration
    public var pageSize: Int
    public var maxPages: Int
    public var policy: CreditPolicy
    public var timeout: Duration
    /// NEAR RPC to read verifier balances from directly (`mt_batch_balance_of`), when set.
    public var nearRPCURL: String?
    public var verifierContract: String
    /// Take funding handles from `deposit_address(account, chain)` for every account and chain.
    public var handlesFromBridge: Bool
    public var depositAddressRefresh: TimeInterval
    /// How long a retired (rotated) handle is still watched: senders pay old addresses.
    public var retiredHandleWatch: TimeInterval
    /// How long the `deposit_address_changed` alert of a rotation fires.
    public var depositAddressChangedResolve: TimeInterval
    public var supportedTokensRefresh: TimeInterval
    /// Call `notify_deposit` once per transfer to a bridge-given handle.
    public var notifyDeposit: Bool
    /// Chain → the asset its bridge-given handles receive (`bitcoin` → `BTC`).
    public var handleAssets: [String: String]
    /// `[bridge.omni]`, when written and enabled: the Omni Bridge beside POA.
    public var omni: OmniConfiguration?

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
        chainsWritten = section.has("chains")
        chains = stringTable("chains", default: ["bitcoin": "btc:mainnet", "gnosis": "eth:100"])
        (tokens, tokensByChain) = Self.tokenTables(section)
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
        handlesFromBridge = section.bool("handles_from_bridge", default: false)
        depositAddressRefresh = Double(section.int("deposit_address_refresh_s", default: 600, range: 1...604_800))
        retiredHandleWatch = Double(section.int("retired_handle_watch_s", default: 2_592_000, range: 0...315_360_000))
        depositAddressChangedResolve = Double(section.int("deposit_address_changed_resolve_s", default: 86_400, range: 1...31_536_000))
        supportedTokensRefresh = Double(section.int("supported_tokens_refresh_s", default: 3_600, range: 1...604_800))
        notifyDeposit = section.bool("notify_deposit", default: false)
        handleAssets = stringTable("handle_assets", default: ["bitcoin": "BTC", "gnosis": "EURe"])
        if handlesFromBridge {
            for chain in chains.keys.sorted() where handleAssets[chain] == nil {
                section.problem("handle_assets", nil, "no asset for chain \"\(chain)\" of [bridge.chains]; add handle_assets.\(chain) = \"…\" (the asset its deposit address receives)")
            }
        }
        // `UNRIP_BRIDGE_OMNI_<KEY>` overrides its keys (the demo points api_url at its double).
        if section.has("omni") {
            let table = section.overridableTable("omni")
            let read = OmniConfiguration(section: table, bridgeAccounts: accounts)
            section.recordEffective("omni", .object(table.effective))
            omni = read.enabled ? read : nil
        }
    }

    /// The asset whose verifier token is `nearTokenID` on the chains the bridge calls
    /// `bridgeChain` (a deposit's `chain`).
    public func asset(ofToken nearTokenID: String?, bridgeChain: String) -> String? {
        guard let id = nearTokenID else { return nil }
        for chain in chains.keys.sorted() where chains[chain] == bridgeChain {
            if let hit = tokenTable(chain: chain).first(where: { $0.value == id || $0.value == "nep141:" + id }) { return hit.key }
        }
        return nil
    }

    /// The chain's asset → token table: its own `[bridge.tokens.<chain>]`, else the default.
    public func tokenTable(chain: String) -> [String: String] { tokensByChain[chain] ?? tokens }

    /// The verifier token of `asset` on `chain`.
    public func token(chain: String, asset: String) -> String? { tokenTable(chain: chain)[asset] }

    /// Every verifier token the reconciler reads balances of.
    public var allTokenIDs: [String] {
        Array(Set(tokens.values).union(tokensByChain.values.flatMap(\.values)).union(omni.map { [$0.token] } ?? [])).sorted()
    }

    /// (chain, asset, token) for every chain of `chains`: what the verifier allocation joins on.
    public var tokenRoutes: [(chain: String, asset: String, token: String)] {
        chains.keys.sorted().flatMap { chain in tokenTable(chain: chain).sorted { $0.key < $1.key }.map { (chain, $0.key, $0.value) } }
            + (omni.map { [($0.chain, $0.asset, $0.token)] } ?? [])
    }

    /// The chains whose observations the reconciler decides: POA's, and Omni's chain.
    public var reconciledChains: [String] {
        Array(Set(chains.keys).union(omni.map { [$0.chain] } ?? [])).sorted()
    }
}
