import JSONRPCClient
import WatchCore

/// A token contract watched for `Transfer` logs.
public struct GnosisToken: Sendable, Hashable {
    public var address: EVMAddress
    public var asset: String
    public var decimals: Int
}

/// The `[gnosis]` section (docs/gnosis.md lists every key).
public struct GnosisConfiguration: AdapterConfiguration {
    public var rpcURL: String
    public var chainId: Int
    public var network: String
    public var pollInterval: Duration
    public var confirmations: Int
    public var useFinalized: Bool
    public var startBlock: Int?
    public var maxBlockRange: Int
    public var maxConcurrency: Int
    public var rpcTimeout: Duration
    public var retry: RetryPolicy
    public var tokens: [GnosisToken]
    public var handles: [FundingHandle]
    public var policy: ChainPolicy
    /// `tip_stale_after_s` (60), `max_cursor_lag_blocks` (60), `watchdog_interval_ms`.
    public var watchdogPolicy = GnosisConfiguration.watchdogDefaults
    public var watchdog: WatchdogPolicy? { watchdogPolicy }
    public static let watchdogDefaults = WatchdogPolicy(tipStaleAfterSeconds: 60, maxCursorLagBlocks: 60)
    /// Blocks below the target that are reported one by one (with parent hashes) so reorgs are
    /// seen; everything deeper is caught up by log ranges. 0 with `use_finalized`.
    public var reorgWindow: Int

    public init(section: ConfigSection) {
        rpcURL = section.string("rpc_url", required: true, secret: true) ?? ""
        section.recordEffective("rpc_url", .string(URLRedaction.redact(rpcURL)))
        if !rpcURL.isEmpty, !(rpcURL.hasPrefix("http://") || rpcURL.hasPrefix("https://")) {
            section.problem("rpc_url", "\"\(URLRedaction.redact(rpcURL))\"", "expected an http:// or https:// JSON-RPC URL, e.g. https://rpc.gnosischain.com")
        }
        chainId = section.int("chain_id", default: 100, range: 1...Int(Int32.max))
        let defaultNetwork = [100: "mainnet", 10200: "chiado"][chainId] ?? "chain-\(chainId)"
        network = section.string("network", default: defaultNetwork) ?? defaultNetwork
        pollInterval = .milliseconds(section.int("poll_interval_ms", default: 5000, range: 10...600_000))
        confirmations = section.int("confirmations", default: 32, range: 1...10_000)
        useFinalized = section.bool("use_finalized", default: false)
        startBlock = section.has("start_block") ? section.int("start_block", default: 0, range: 0...(1 << 48)) : nil
        maxBlockRange = section.int("max_block_range", default: 2000, range: 1...1_000_000)
        maxConcurrency = section.int("max_concurrency", default: 4, range: 1...32)
        rpcTimeout = .milliseconds(section.int("rpc_timeout_ms", default: 15_000, range: 50...300_000))
        retry = RetryPolicy(
            attempts: section.int("retry_attempts", default: 6, range: 1...100),
            baseDelay: .milliseconds(section.int("retry_base_ms", default: 250, range: 1...60_000)),
            maxDelay: .milliseconds(section.int("retry_max_ms", default: 20_000, range: 1...600_000)))
        let allowBoth = section.bool("allow_eure_v1_and_v2", default: false)

        var tokens: [GnosisToken] = []
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
                    tokens.append(GnosisToken(address: address, asset: asset, decimals: decimals))
                } catch {
                    t.problem("address", "\"\(text)\"", "\(error)")
                }
            }
            if tokens.isEmpty {
                section.problem("tokens", nil, "at least one token is required, e.g. tokens = [{ address = \"\(EVM.eureV2)\", asset = \"EURe\", decimals = 18 }]")
            }
        } else {
            tokens = [GnosisToken(address: try! EVMAddress(EVM.eureV2), asset: "EURe", decimals: 18)]
        }
        section.recordEffective(
            "tokens", .array(tokens.map { ["address": .string($0.address.checksummed), "asset": .string($0.asset), "decimals": .int(Int64($0.decimals))] }))
        let v1 = try! EVMAddress(EVM.eureV1), v2 = try! EVMAddress(EVM.eureV2)
        if tokens.contains(where: { $0.address == v1 }), tokens.contains(where: { $0.address == v2 }), !allowBoth {
            section.problem(
                "tokens", "[EURe v1 \(EVM.eureV1), EURe v2 \(EVM.eureV2)]",
                "EURe v1 mirrors every transfer onto v2, so watching both counts each deposit twice; watch only v2 (\(EVM.eureV2)), or set allow_eure_v1_and_v2 = true if you really mean it")
        }
        self.tokens = tokens

        var handles: [FundingHandle] = []
        var seen: Set<EVMAddress> = []
        for h in section.tables("handles") {
            let text = h.string("address", required: true) ?? ""
            let asset = h.string("asset", default: tokens.first?.asset ?? "EURe") ?? "EURe"
            let label = h.string("label", default: "") ?? ""
            h.finish()
            guard !text.isEmpty else { continue }
            do {
                let address = try EVMAddress(text)
                if !seen.insert(address).inserted { h.problem("address", "\"\(text)\"", "handle listed twice; remove the duplicate") }
                if !tokens.contains(where: { $0.asset == asset }) {
                    h.problem("asset", "\"\(asset)\"", "no token with asset \"\(asset)\" in tokens; use one of \(Set(tokens.map(\.asset)).sorted())")
                }
                handles.append(FundingHandle(chain: GnosisAdapter.kind, network: network, asset: asset, address: text, label: label))
            } catch {
                h.problem("address", "\"\(text)\"", "\(error)")
            }
        }
        if handles.isEmpty, !section.has("handles"), !section.handlesMayComeFromBridge {
            section.problem("handles", nil, "at least one handle is required (or set [bridge] handles_from_bridge = true), e.g. handles = [{ address = \"0x…\", asset = \"EURe\", label = \"mm-1\" }]")
        }
        self.handles = handles

        watchdogPolicy = WatchdogPolicy(section: section, defaults: Self.watchdogDefaults)
        watchdogPolicy.lagFromFinalized = useFinalized
        if useFinalized {
            // Blocks are only reported once finalized, so inclusion is final: confirmed at once.
            policy = ChainPolicy(confirmations: 1, reorgGraceBlocks: 0, blockMemory: 16)
            reorgWindow = 0
        } else {
            policy = ChainPolicy(confirmations: confirmations, reorgGraceBlocks: max(6, confirmations / 4), blockMemory: max(128, confirmations + 64))
            reorgWindow = max(confirmations + 8, 40)
        }
    }

    public func makeProbe() throws -> (any ChainProbe)? { EVMProbe(configuration: self) }

    /// An EVM address (checked against its EIP-55 checksum when mixed-case), as written.
    public func canonicalAddress(_ text: String) throws -> String {
        _ = try EVMAddress(text)
        return text
    }
}
