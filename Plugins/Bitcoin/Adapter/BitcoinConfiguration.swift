import Foundation
import JSONRPCClient
import WatchCore

/// The `[bitcoin]` config section.
public struct BitcoinConfiguration: AdapterConfiguration {
    public var bitcoinNetwork: BitcoinNetwork
    public var network: String { bitcoinNetwork.rawValue }
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
        let networkText = section.string("network", default: "mainnet") ?? "mainnet"
        bitcoinNetwork = BitcoinNetwork(rawValue: networkText) ?? .mainnet
        if BitcoinNetwork(rawValue: networkText) == nil {
            section.problem("network", "\"\(networkText)\"", "expected one of mainnet, testnet, signet, regtest")
        }
        let defaultPort = [BitcoinNetwork.mainnet: 8332, .testnet: 18332, .signet: 38332, .regtest: 18443][bitcoinNetwork]!
        rpcURL = section.string("rpc_url", default: "http://127.0.0.1:\(defaultPort)", secret: false) ?? ""
        if !(rpcURL.hasPrefix("http://") || rpcURL.hasPrefix("https://")) {
            section.problem("rpc_url", "\"\(rpcURL)\"", "expected an http:// or https:// URL of bitcoind's RPC port")
        }
        section.recordEffective("rpc_url", .string(URLRedaction.redact(rpcURL)))
        rpcUser = section.string("rpc_user")
        rpcPassword = section.string("rpc_password", secret: true)
        rpcCookieFile = section.string("rpc_cookie_file")
        if rpcCookieFile != nil, rpcUser != nil {
            section.problem("rpc_cookie_file", nil, "set either rpc_user + rpc_password or rpc_cookie_file, not both")
        }
        if rpcUser != nil, rpcPassword == nil {
            section.problem("rpc_password", nil, "rpc_user is set: also set rpc_password (or UNRIP_BITCOIN_RPC_PASSWORD)")
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

        var handles: [FundingHandle] = []
        let network = bitcoinNetwork.rawValue
        let handleSections = section.tables("handles")
        for h in handleSections {
            let written = h.string("address", required: true) ?? ""
            let asset = h.string("asset", default: "BTC") ?? "BTC"
            let label = h.string("label", default: "") ?? ""
            h.finish()
            guard !written.isEmpty else { continue }
            do {
                let script = try AddressCodec.scriptPubKey(for: written, network: bitcoinNetwork)
                // Stored and matched in canonical form (bech32 lower case), whatever the case written.
                let canonical = AddressCodec.address(forScript: script, network: bitcoinNetwork) ?? written
                handles.append(FundingHandle(chain: "bitcoin", network: network, asset: asset, address: canonical, label: label))
            } catch {
                h.problem("address", "\"\(written)\"", "\(error)")
            }
        }
        if handleSections.isEmpty, !section.handlesMayComeFromBridge {
            section.problem("handles", nil, "at least one handle is required (or set [bridge] handles_from_bridge = true): handles = [{ address = \"bc1q…\", asset = \"BTC\", label = \"…\" }]")
        }
        self.handles = handles
    }

    public static let watchdogDefaults = WatchdogPolicy(tipStaleAfterSeconds: 5400, maxCursorLagBlocks: 3, zmqSilentAfterSeconds: 600)

    public func makeProbe() throws -> (any ChainProbe)? { BitcoinProbe(node: try RPCBitcoinNode(configuration: self)) }

    /// A Bitcoin address of this network in the form handles are matched in (bech32 lower case).
    public func canonicalAddress(_ text: String) throws -> String {
        let script = try AddressCodec.scriptPubKey(for: text, network: bitcoinNetwork)
        return AddressCodec.address(forScript: script, network: bitcoinNetwork) ?? text
    }

    /// Which ZMQ topics are subscribed, for `/state`.
    public var zmqTopics: [String] {
        [("sequence", zmqSequence), ("rawtx", zmqRawTx), ("rawblock", zmqRawBlock)].compactMap { $0.1 == nil ? nil : $0.0 }
    }
}
