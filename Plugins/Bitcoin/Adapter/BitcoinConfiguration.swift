import Foundation
import JSONRPCClient
import WatchCore

/// The `[bitcoin]` config section, and each `[utxo.<name>]` (docs/utxo.md): one plugin
/// watching a Bitcoin-family chain. `[bitcoin]` is the built-in `bitcoin` instance; an
/// `[utxo.<name>]` picks a parameter set with `chain` and may override its address parameters.
public struct BitcoinConfiguration: AdapterConfiguration {
    /// The plugin and chain name (`bitcoin`, `litecoin`).
    public var name: String
    /// The config section as written: `[bitcoin]`, `[utxo.litecoin]`.
    public var section: String
    /// The chain's parameter set, after the section's overrides.
    public var chain: UTXOChainParameters
    /// How the configured network writes addresses.
    public var format: AddressFormat
    /// What the node must report as `getblockchaininfo.chain`.
    public var nodeChains: Set<String>
    public var network: String { format.network }
    /// The asset deposits are booked under (`BTC`, `LTC`) and its decimals.
    public var asset: String
    public var decimals: Int
    /// `bridge_chain`: the POA bridge's id of the chain (`ltc:mainnet`); for `[bitcoin]`,
    /// `[bridge.chains]` decides unless it is written.
    public var bridgeChain: String?
    public var assets: [String] { Array(Set([asset] + handles.map(\.asset))).sorted() }
    public var rpcURL: String
    public var rpcUser: String?
    public var rpcPassword: String?
    public var rpcCookieFile: String?
    public var rest: Bool
    public var zmqSequence: String?
    public var zmqRawTx: String?
    public var zmqRawBlock: String?
    public var startHeight: Int?
    public var pollInterval: Duration
    public var mempoolResyncInterval: Duration
    /// How long a watched transaction removed from the mempool (`sequence` R) waits for its
    /// replacement to show up before it counts as evicted.
    public var replacementGrace: Duration
    public var rpcTimeout: Duration
    public var handles: [FundingHandle]
    public var policy: ChainPolicy
    /// `tip_stale_after_s` (5400), `max_cursor_lag_blocks` (3), `zmq_silent_after_s` (600), `watchdog_interval_ms`.
    public var watchdogPolicy: WatchdogPolicy
    public var watchdog: WatchdogPolicy? { watchdogPolicy }

    public init(section: ConfigSection) {
        name = section.pluginName
        self.section = section.family.map { "[\($0).\(section.pluginName)]" } ?? "[\(section.pluginName)]"
        chain = Self.chainParameters(section)
        let networkText = section.string("network", default: "mainnet") ?? "mainnet"
        let known = chain.network(networkText) ?? chain.networks[0]
        if chain.network(networkText) == nil {
            section.problem("network", "\"\(networkText)\"", "expected one of \(chain.networks.map(\.name).joined(separator: ", ")) (the \(chain.name) networks)")
        }
        format = Self.addressFormat(section, base: known.format)
        nodeChains = known.nodeChains
        asset = section.string("asset", default: chain.asset) ?? chain.asset
        decimals = section.int("decimals", default: chain.decimals, range: 0...18)
        bridgeChain = section.string("bridge_chain", default: section.family == nil ? nil : chain.bridgeChain)
        if let id = bridgeChain, !id.contains(":") {
            section.problem("bridge_chain", "\"\(id)\"", "expected the bridge's chain id, e.g. \(chain.bridgeChain) (the POA bridge's supported_tokens lists them)")
        }
        let defaultPort = known.rpcPort
        rpcURL = section.string("rpc_url", default: "http://127.0.0.1:\(defaultPort)", secret: false) ?? ""
        if !(rpcURL.hasPrefix("http://") || rpcURL.hasPrefix("https://")) {
            section.problem("rpc_url", "\"\(rpcURL)\"", "expected an http:// or https:// URL of the node's RPC port")
        }
        section.recordEffective("rpc_url", .string(URLRedaction.redact(rpcURL)))
        rpcUser = section.string("rpc_user")
        rpcPassword = section.string("rpc_password", secret: true)
        rpcCookieFile = section.string("rpc_cookie_file")
        if rpcCookieFile != nil, rpcUser != nil {
            section.problem("rpc_cookie_file", nil, "set either rpc_user + rpc_password or rpc_cookie_file, not both")
        }
        if rpcUser != nil, rpcPassword == nil {
            section.problem("rpc_password", nil, "rpc_user is set: also set rpc_password (or \(section.environmentName("rpc_password") ?? "its environment override"))")
        }
        rest = section.bool("rest", default: false)
        func endpoint(_ key: String) -> String? {
            guard let value = section.string(key), !value.isEmpty else { return nil }
            if !(value.hasPrefix("tcp://") || value.hasPrefix("ipc://")) {
                section.problem(key, "\"\(value)\"", "expected a ZMQ endpoint such as tcp://127.0.0.1:28332")
            }
            return value
        }
        zmqSequence = endpoint("zmq_sequence")
        zmqRawTx = endpoint("zmq_rawtx")
        zmqRawBlock = endpoint("zmq_rawblock")
        let start = section.int("start_height", default: -1, range: -1...100_000_000)
        startHeight = start >= 0 ? start : nil
        pollInterval = .milliseconds(section.int("poll_interval_ms", default: 2_000, range: 10...600_000))
        mempoolResyncInterval = .seconds(section.int("mempool_resync_s", default: 60, range: 1...86_400))
        replacementGrace = .milliseconds(section.int("replacement_grace_ms", default: 2_000, range: 0...600_000))
        rpcTimeout = .seconds(section.int("rpc_timeout_s", default: 30, range: 1...600))
        policy = ChainPolicy(
            confirmations: section.int("confirmations", default: 3, range: 1...1_000),
            reorgGraceBlocks: section.int("reorg_grace_blocks", default: 6, range: 0...1_000))
        watchdogPolicy = WatchdogPolicy(section: section, defaults: Self.watchdogDefaults)

        handles = Self.readHandles(section, format: format, chain: name, asset: asset)
    }

    /// `handles`: each address checked against the network's format, stored in canonical form.
    static func readHandles(_ section: ConfigSection, format: AddressFormat, chain: String, asset defaultAsset: String) -> [FundingHandle] {
        var handles: [FundingHandle] = []
        let handleSections = section.tables("handles")
        for h in handleSections {
            let written = h.string("address", required: true) ?? ""
            let asset = h.string("asset", default: defaultAsset) ?? defaultAsset
            let label = h.string("label", default: "") ?? ""
            let account = HandleAccount.read(h)
            let (bridge, message) = CreditBridge.read(h, account: account)
            h.finish()
            guard !written.isEmpty else { continue }
            do {
                let script = try AddressCodec.scriptPubKey(for: written, format: format)
                // Stored and matched in canonical form (bech32 lower case), whatever the case written.
                let canonical = AddressCodec.address(forScript: script, format: format) ?? written
                handles.append(FundingHandle(chain: chain, network: format.network, asset: asset, address: canonical, label: label, account: account, bridge: bridge, depositMessage: message))
            } catch {
                h.problem("address", "\"\(written)\"", "\(error)")
            }
        }
        if handleSections.isEmpty, !section.handlesMayComeFromBridge {
            let example = AddressCodec.address(forScript: [0x00, 0x14] + [UInt8](repeating: 0, count: 20), format: format).map { String($0.prefix(8)) + "…" } ?? "…"
            section.problem("handles", nil, "at least one handle is required (or set [bridge] handles_from_bridge = true): handles = [{ address = \"\(example)\", asset = \"\(defaultAsset)\", label = \"…\" }]")
        }
        return handles
    }

    /// `chain`: a built-in parameter set; `[bitcoin]` is always `bitcoin`, an `[utxo.<name>]`
    /// defaults to the set named like it (`[utxo.litecoin]`).
    static func chainParameters(_ section: ConfigSection) -> UTXOChainParameters {
        let names = UTXOChainParameters.builtIn.map(\.name)
        guard section.family != nil else { return .bitcoin }
        let fallback = names.contains(section.pluginName) ? section.pluginName : nil
        guard let text = section.string("chain", default: fallback) else {
            section.problem("chain", nil, "missing: the parameter set of [\(section.family ?? "utxo").\(section.pluginName)], one of \(names.joined(separator: ", ")) (docs/utxo.md)")
            return .bitcoin
        }
        guard let found = UTXOChainParameters.named(text) else {
            section.problem("chain", "\"\(text)\"", "expected one of \(names.joined(separator: ", ")); another chain of the family is one of them with bech32_hrp, p2pkh_version and p2sh_version set (docs/utxo.md)")
            return .bitcoin
        }
        return found
    }

    /// The network's address format with the section's overrides: `bech32_hrp`,
    /// `p2pkh_version`, `p2sh_version` (written) and `p2sh_legacy_version` (also read).
    static func addressFormat(_ section: ConfigSection, base: AddressFormat) -> AddressFormat {
        var format = base
        if let hrp = section.string("bech32_hrp") {
            if hrp.isEmpty || hrp.count > 20 || !hrp.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) }) {
                section.problem("bech32_hrp", "\"\(hrp)\"", "expected the lower-case bech32 prefix of the chain's segwit addresses, e.g. ltc")
            } else {
                format.bech32HRP = hrp
            }
        }
        if section.has("p2pkh_version") { format.p2pkhVersion = UInt8(section.int("p2pkh_version", default: Int(base.p2pkhVersion), range: 0...255)) }
        if section.has("p2sh_version") { format.p2shVersions = [UInt8(section.int("p2sh_version", default: Int(base.p2shVersion), range: 0...255))] }
        if section.has("p2sh_legacy_version") {
            format.p2shVersions.append(UInt8(section.int("p2sh_legacy_version", default: 5, range: 0...255)))
        }
        if format.p2shVersions.contains(format.p2pkhVersion) {
            section.problem("p2sh_version", "\(format.p2shVersions)", "a P2SH version equals the P2PKH version \(format.p2pkhVersion): one address would mean two scripts")
        }
        return format
    }

    public static let watchdogDefaults = WatchdogPolicy(tipStaleAfterSeconds: 5400, maxCursorLagBlocks: 3, zmqSilentAfterSeconds: 600)

    public func makeProbe() throws -> (any ChainProbe)? { BitcoinProbe(node: try RPCBitcoinNode(configuration: self)) }

    /// An address of this chain and network in the form handles are matched in (bech32 lower case).
    public func canonicalAddress(_ text: String) throws -> String {
        let script = try AddressCodec.scriptPubKey(for: text, format: format)
        return AddressCodec.address(forScript: script, format: format) ?? text
    }

    /// Which ZMQ topics are subscribed, for `/state`.
    public var zmqTopics: [String] {
        [("sequence", zmqSequence), ("rawtx", zmqRawTx), ("rawblock", zmqRawBlock)].compactMap { $0.1 == nil ? nil : $0.0 }
    }
}
