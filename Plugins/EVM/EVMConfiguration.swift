import JSONRPCClient
import WatchCore

/// A token contract watched for `Transfer` logs.
public struct EVMToken: Sendable, Hashable {
    public var address: EVMAddress
    public var asset: String
    public var decimals: Int
}

/// The `[gnosis]` section, and each `[evm.<name>]` (docs/evm.md lists every key): one EVM
/// token-watching plugin. `[gnosis]` is the same plugin with Gnosis defaults (chain id 100,
/// EURe v2); an `[evm.<name>]` names its chain id and tokens.
public struct EVMConfiguration: AdapterConfiguration {
    /// The plugin and chain name (`gnosis`, `base`).
    public var name: String
    /// The config section it was read from, as written: `[gnosis]`, `[evm.base]`.
    public var section: String
    /// The first of `rpcURLs`.
    public var rpcURL: String
    /// `rpc_urls` (or `rpc_url`): tried in order, failing over (docs/evm.md).
    public var rpcURLs: [String]
    /// An endpoint whose head lags the best one's by more than this is not used.
    public var maxHeadLagBlocks: Int
    /// `bridge_chain`: the bridge's id for this chain (`eth:8453`); `eth:<chain_id>` for an
    /// `[evm.<name>]`, and `[bridge.chains]` decides for `[gnosis]` unless it is written.
    public var bridgeChain: String?
    public var chainId: Int
    public var network: String
    public var pollInterval: Duration
    public var confirmations: Int
    public var useFinalized: Bool
    public var startBlock: Int?
    public var maxBlockRange: Int
    public var maxConcurrency: Int
    /// `deep_bloom_check` (true): the empty `eth_getLogs` answers of deep catch-up and rescan
    /// windows are checked against their blocks' `logsBloom` too, at one header per block read
    /// in batches of `header_batch_size`.
    public var deepBloomCheck: Bool
    /// `header_batch_size` (100): headers per JSON-RPC batch for the deep bloom check.
    public var headerBatchSize: Int
    public var rpcTimeout: Duration
    public var retry: RetryPolicy
    public var tokens: [EVMToken]
    public var handles: [FundingHandle]
    public var policy: ChainPolicy
    /// `tip_stale_after_s` (60), `max_cursor_lag_blocks` (60), `watchdog_interval_ms`.
    public var watchdogPolicy = EVMConfiguration.watchdogDefaults
    public var watchdog: WatchdogPolicy? { watchdogPolicy }
    public static let watchdogDefaults = WatchdogPolicy(tipStaleAfterSeconds: 60, maxCursorLagBlocks: 60)
    /// Blocks below the target that are reported one by one (with parent hashes) so reorgs are
    /// seen; everything deeper is caught up by log ranges. 0 with `use_finalized`.
    public var reorgWindow: Int

    public init(section: ConfigSection) {
        name = section.pluginName
        let generic = section.family != nil
        self.section = section.family.map { "[\($0).\(section.pluginName)]" } ?? "[\(section.pluginName)]"
        rpcURLs = Self.endpoints(section)
        rpcURL = rpcURLs.first ?? ""
        if generic, !section.has("chain_id") {
            section.problem("chain_id", nil, "missing: the chain's EIP-155 id is required (checked against eth_chainId at start), e.g. chain_id = 8453 for Base")
        }
        chainId = section.int("chain_id", default: generic ? 1 : 100, range: 1...Int(Int32.max))
        maxHeadLagBlocks = section.int("max_head_lag_blocks", default: 10, range: 0...1_000_000)
        bridgeChain = section.string("bridge_chain", default: generic ? "eth:\(chainId)" : nil)
        if let chain = bridgeChain, !chain.contains(":") {
            section.problem("bridge_chain", "\"\(chain)\"", "expected the bridge's chain id, e.g. eth:8453 (the POA bridge's supported_tokens lists them)")
        }
        let defaultNetwork = Self.knownNetworks[chainId] ?? "chain-\(chainId)"
        network = section.string("network", default: defaultNetwork) ?? defaultNetwork
        pollInterval = .milliseconds(section.int("poll_interval_ms", default: 5000, range: 10...600_000))
        confirmations = section.int("confirmations", default: 32, range: 1...10_000)
        useFinalized = section.bool("use_finalized", default: false)
        startBlock = section.has("start_block") ? section.int("start_block", default: 0, range: 0...(1 << 48)) : nil
        maxBlockRange = section.int("max_block_range", default: 2000, range: 1...1_000_000)
        maxConcurrency = section.int("max_concurrency", default: 4, range: 1...32)
        deepBloomCheck = section.bool("deep_bloom_check", default: true)
        headerBatchSize = section.int("header_batch_size", default: 100, range: 1...1000)
        rpcTimeout = .milliseconds(section.int("rpc_timeout_ms", default: 15_000, range: 50...300_000))
        retry = RetryPolicy(
            attempts: section.int("retry_attempts", default: 6, range: 1...100),
            baseDelay: .milliseconds(section.int("retry_base_ms", default: 250, range: 1...60_000)),
            maxDelay: .milliseconds(section.int("retry_max_ms", default: 20_000, range: 1...600_000)))
        tokens = Self.readTokens(section, generic: generic)
        handles = Self.readHandles(section, tokens: tokens, chain: name, network: network)
        watchdogPolicy = WatchdogPolicy(section: section, defaults: Self.watchdogDefaults)
        watchdogPolicy.lagFromFinalized = useFinalized
        (policy, reorgWindow) = Self.trackingPolicy(confirmations: confirmations, useFinalized: useFinalized)
    }

    /// `tokens`: each contract once, EURe v1 and v2 not both (unless allowed); `[gnosis]` defaults to EURe v2.
    static func readTokens(_ section: ConfigSection, generic: Bool) -> [EVMToken] {
        let allowBoth = section.bool("allow_eure_v1_and_v2", default: false)

        var tokens: [EVMToken] = []
        if section.has("tokens") {
            for t in section.tables("tokens") {
                let text = t.string("address", required: true) ?? ""
                let asset = t.string("asset", required: true) ?? ""
                let decimals = t.int("decimals", default: 18, range: 0...77)
                t.finish()
                guard !text.isEmpty else { continue }
                do {
                    let address = try EVMAddress(text)
                    if tokens.contains(where: { $0.address == address }) {
                        t.problem("address", "\"\(text)\"", "token listed twice; remove the duplicate")
                    }
                    tokens.append(EVMToken(address: address, asset: asset, decimals: decimals))
                } catch {
                    t.problem("address", "\"\(text)\"", "\(error)")
                }
            }
            if tokens.isEmpty {
                section.problem("tokens", nil, "at least one token is required, e.g. tokens = [{ address = \"\(EVM.eureV2)\", asset = \"EURe\", decimals = 18 }]")
            }
        } else if generic {
            section.problem("tokens", nil, "missing: an [evm.<name>] section names its tokens, e.g. tokens = [{ address = \"0x…\", asset = \"USDC\", decimals = 6 }]")
        } else {
            tokens = [EVMToken(address: try! EVMAddress(EVM.eureV2), asset: "EURe", decimals: 18)]
        }
        section.recordEffective(
            "tokens", .array(tokens.map { ["address": .string($0.address.checksummed), "asset": .string($0.asset), "decimals": .int(Int64($0.decimals))] }))
        let v1 = try! EVMAddress(EVM.eureV1), v2 = try! EVMAddress(EVM.eureV2)
        if tokens.contains(where: { $0.address == v1 }), tokens.contains(where: { $0.address == v2 }), !allowBoth {
            section.problem(
                "tokens", "[EURe v1 \(EVM.eureV1), EURe v2 \(EVM.eureV2)]",
                "EURe v1 mirrors every transfer onto v2, so watching both counts each deposit twice; watch only v2 (\(EVM.eureV2)), or set allow_eure_v1_and_v2 = true if you really mean it")
        }
        return tokens
    }

    /// `handles`: each address once, none a token contract or the zero address, each asset a watched token's.
    static func readHandles(_ section: ConfigSection, tokens: [EVMToken], chain name: String, network: String) -> [FundingHandle] {
        var handles: [FundingHandle] = []
        var seen: Set<EVMAddress> = []
        for h in section.tables("handles") {
            let text = h.string("address", required: true) ?? ""
            let asset = h.string("asset", default: tokens.first?.asset ?? "EURe") ?? "EURe"
            let label = h.string("label", default: "") ?? ""
            let account = HandleAccount.read(h)
            h.finish()
            guard !text.isEmpty else { continue }
            do {
                let address = try EVMAddress(text)
                if !seen.insert(address).inserted { h.problem("address", "\"\(text)\"", "handle listed twice; remove the duplicate") }
                if let refusal = Self.refusal(of: address, tokens: tokens) { h.problem("address", "\"\(text)\"", refusal) }
                if !tokens.contains(where: { $0.asset == asset }) {
                    h.problem("asset", "\"\(asset)\"", "no token with asset \"\(asset)\" in tokens; use one of \(Set(tokens.map(\.asset)).sorted())")
                }
                handles.append(FundingHandle(chain: name, network: network, asset: asset, address: text, label: label, account: account))
            } catch {
                h.problem("address", "\"\(text)\"", "\(error)")
            }
        }
        if handles.isEmpty, !section.has("handles"), !section.handlesMayComeFromBridge {
            section.problem("handles", nil, "at least one handle is required (or set [bridge] handles_from_bridge = true), e.g. handles = [{ address = \"0x…\", asset = \"EURe\", label = \"mm-1\" }]")
        }
        return handles
    }

    /// How the tracker follows this chain: finalized blocks are final at once; otherwise
    /// `confirmations` deep, with a reorg window reported block by block.
    static func trackingPolicy(confirmations: Int, useFinalized: Bool) -> (ChainPolicy, reorgWindow: Int) {
        if useFinalized {
            // Blocks are only reported once finalized, so inclusion is final: confirmed at once.
            return (ChainPolicy(confirmations: 1, reorgGraceBlocks: 0, blockMemory: 16), 0)
        }
        return (ChainPolicy(confirmations: confirmations, reorgGraceBlocks: max(6, confirmations / 4), blockMemory: max(128, confirmations + 64)), max(confirmations + 8, 40))
    }

    public func makeProbe() throws -> (any ChainProbe)? { EVMProbe(configuration: self) }

    /// Networks of chain ids an operator is likely to use; others are `chain-<id>`.
    static let knownNetworks = [
        1: "mainnet", 10: "mainnet", 100: "mainnet", 137: "mainnet", 8453: "mainnet", 42161: "mainnet",
        10200: "chiado", 11155111: "sepolia", 84532: "sepolia", 421614: "sepolia",
    ]

    public var assets: [String] { Array(Set(tokens.map(\.asset))).sorted() }

    /// `rpc_urls = ["…", "…"]`, or the single `rpc_url` (both: refused, one must go).
    static func endpoints(_ section: ConfigSection) -> [String] {
        var urls: [String] = []
        if section.has("rpc_urls") {
            if section.has("rpc_url") {
                _ = section.string("rpc_url", secret: true)  // read, so it is not also reported as unknown
                section.problem("rpc_url", nil, "both rpc_url and rpc_urls are set; keep rpc_urls (the first is used, the others are failovers)")
            }
            urls = section.stringArray("rpc_urls")
            section.recordEffective("rpc_urls", .array(urls.map { .string(URLRedaction.redact($0)) }))
            if urls.isEmpty { section.problem("rpc_urls", "[]", "at least one JSON-RPC URL is required, e.g. rpc_urls = [\"https://mainnet.base.org\"]") }
            if Set(urls).count != urls.count { section.problem("rpc_urls", nil, "an endpoint is listed twice; remove the duplicate") }
        } else {
            let url = section.string("rpc_url", required: true, secret: true) ?? ""
            section.recordEffective("rpc_url", .string(URLRedaction.redact(url)))
            urls = url.isEmpty ? [] : [url]
        }
        for (i, url) in urls.enumerated() where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            let key = section.has("rpc_urls") ? "rpc_urls[\(i)]" : "rpc_url"
            section.problem(key, "\"\(URLRedaction.redact(url))\"", "expected an http:// or https:// JSON-RPC URL, e.g. https://rpc.gnosischain.com")
        }
        return urls
    }

    /// An EVM address (checked against its EIP-55 checksum when mixed-case), as written. The
    /// zero address and a watched token's own contract are refused: no deposit arrives there.
    public func canonicalAddress(_ text: String) throws -> String {
        if let refusal = Self.refusal(of: try EVMAddress(text), tokens: tokens) { throw HandleAddressRefused(refusal) }
        return text
    }

    /// Why `address` can be no handle: the zero address, or a watched token's contract.
    static func refusal(of address: EVMAddress, tokens: [EVMToken]) -> String? {
        if address.lowercased.dropFirst(2).allSatisfy({ $0 == "0" }) {
            return "the zero address receives no deposits (tokens sent there are burned); use the deposit address the bridge gave"
        }
        if let token = tokens.first(where: { $0.address == address }) {
            return "this is the \(token.asset) token contract itself, not a deposit address; use the deposit address the bridge gave"
        }
        return nil
    }

    /// Upper, lower and checksummed spellings of one address are one handle.
    public func addressKey(_ address: String) -> String { (try? EVMAddress(address).lowercased) ?? address }
}

/// Why an address is no handle, though it parses.
struct HandleAddressRefused: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
