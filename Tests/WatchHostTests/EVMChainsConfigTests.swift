import Foundation
import Reconciler
import Testing
import WatchCore
import UnripAdapters
import WatchHost

/// `[evm.<name>]`: any EVM chain is one config section, run by the same plugin as `[gnosis]`,
/// and joined to the bridge per (chain, asset).
@Suite struct EVMChainsConfigTests {
    static let usdcBase = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
    static let usdcEthereum = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    static let handle = "0x1111111111111111111111111111111111111111"

    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-evm-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func base(_ extra: String = "") -> String {
        """
        [evm.base]
        chain_id = 8453
        rpc_urls = ["https://base.example/rpc?apikey=SECRET1", "https://mirror.example/v1/SECRET2abcdef0123456789"]
        tokens = [{ address = "\(Self.usdcBase)", asset = "USDC", decimals = 6 }]
        handles = [{ address = "\(Self.handle)", asset = "USDC", label = "mm-base" }]
        \(extra)
        """
    }

    /// `[gnosis]`, `[evm.base]` and `[evm.ethereum]`, each paying USDC (EURe on Gnosis) to one handle.
    func threeChains() -> String {
        """
        [gnosis]
        enabled = true
        rpc_url = "http://127.0.0.1:1"
        handles = [{ address = "\(Self.handle)" }]
        \(base())
        [evm.ethereum]
        chain_id = 1
        rpc_url = "http://127.0.0.1:2"
        tokens = [{ address = "\(Self.usdcEthereum)", asset = "USDC", decimals = 6 }]
        handles = [{ address = "\(Self.handle)", asset = "USDC" }]

        """
    }

    func load(_ text: String) throws -> HostConfig {
        try HostConfig.load(path: try write("[database]\nurl = \"postgresql://localhost/unrip\"\n" + text), environment: [:], registry: registeredAdapters)
    }

    func problems(_ text: String) throws -> [String] {
        do {
            _ = try load(text)
            return []
        } catch let error as ConfigErrors {
            return error.problems.map(\.key)
        }
    }

    @Test func anEVMSectionIsAPluginNamedByItsKeyBesideGnosis() throws {
        let config = try load(threeChains())
        #expect(config.adapters.map(\.kind) == ["gnosis", "base", "ethereum"])
        let baseAdapter = try #require(config.adapters.first { $0.kind == "base" })
        #expect(baseAdapter.handles.map(\.chain) == ["base"])
        #expect(baseAdapter.handles.map(\.asset) == ["USDC"])
        #expect(baseAdapter.bridgeChain == "eth:8453")
        #expect(baseAdapter.assets == ["USDC"])
        #expect(config.adapters.first { $0.kind == "gnosis" }?.handles.map(\.chain) == ["gnosis"])
        #expect(config.enabledPlugins.prefix(3) == ["gnosis", "base", "ethereum"])
        let shown = config.effective.serialized()
        #expect(!shown.contains("SECRET1") && !shown.contains("SECRET2"), "\(shown)")
        #expect(config.effective["evm"]?["base"]?["chain_id"]?.int64Value == 8453)
    }

    @Test func theBridgeMapsEachChainsAssetsToItsOwnTokens() throws {
        let config = try load(threeChains() + """
            [bridge]
            enabled = true
            accounts = ["mm.near"]
            [bridge.tokens.base]
            USDC = "nep141:base-0x833589fcd6edb6e08f4c7c32d4f71b54bda02913.omft.near"
            [bridge.tokens.ethereum]
            USDC = "nep141:eth-0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48.omft.near"
            """)
        let bridge = try #require(config.reconciler)
        #expect(bridge.chains["base"] == "eth:8453" && bridge.chains["ethereum"] == "eth:1" && bridge.chains["gnosis"] == "eth:100")
        #expect(bridge.token(chain: "base", asset: "USDC") == "nep141:base-0x833589fcd6edb6e08f4c7c32d4f71b54bda02913.omft.near")
        #expect(bridge.token(chain: "ethereum", asset: "USDC") == "nep141:eth-0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48.omft.near")
        // Chains without their own table keep the [bridge.tokens] defaults.
        #expect(bridge.token(chain: "gnosis", asset: "EURe") == "nep141:gnosis-0x420ca0f9b9b604ce0fd9c18ef134c705e5fa3430.omft.near")
        #expect(bridge.asset(ofToken: "eth-0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48.omft.near", bridgeChain: "eth:1") == "USDC")
        #expect(bridge.asset(ofToken: "eth-0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48.omft.near", bridgeChain: "eth:8453") == nil)
        #expect(config.effective["bridge"]?["chains"]?["base"]?.stringValue == "eth:8453")
    }

    @Test func aChainTheBridgeCouldNotReconcileIsRefusedNamingTheKey() throws {
        let noToken = try problems(base() + "\n[bridge]\nenabled = true\naccounts = [\"mm.near\"]")
        #expect(noToken == ["bridge.tokens.base.USDC"])
        let noChain = try problems("""
            [gnosis]
            enabled = true
            rpc_url = "http://127.0.0.1:1"
            handles = [{ address = "\(Self.handle)" }]
            [bridge]
            enabled = true
            accounts = ["mm.near"]
            [bridge.chains]
            bitcoin = "btc:mainnet"
            """)
        #expect(noChain == ["bridge.chains.gnosis"])
        let report = HostCommands.checkConfig(path: try write(base() + "\n[bridge]\nenabled = true\naccounts = [\"mm.near\"]"), environment: [:], registry: registeredAdapters)
        #expect(!report.ok)
        #expect(report.output.contains("[bridge.tokens.base]"), "\(report.output)")
    }

    @Test func anEVMSectionNamesItsChainIdAndTokensAndAFreeName() throws {
        #expect(try problems("[evm.base]\nrpc_url = \"http://x\"\ntokens = [{ address = \"\(Self.usdcBase)\", asset = \"USDC\" }]\nhandles = []") == ["evm.base.chain_id"])
        #expect(try problems("[evm.base]\nchain_id = 8453\nrpc_url = \"http://x\"\nhandles = []") == ["evm.base.tokens"])
        #expect(try problems("[gnosis]\nenabled = true\nrpc_url = \"http://x\"\nhandles = []\n" + base().replacingOccurrences(of: "[evm.base]", with: "[evm.gnosis]")) == ["evm.gnosis"])
        #expect(try problems(base().replacingOccurrences(of: "[evm.base]", with: "[evm.Base]")) == ["evm.Base"])
        #expect(try problems(base().replacingOccurrences(of: "[evm.base]", with: "[evm.reconciler]")) == ["evm.reconciler"])
        #expect(try problems(base("rpc_url = \"http://y\"")) == ["evm.base.rpc_url"])
        #expect(try problems(base("max_head_lag_blocks = -1")) == ["evm.base.max_head_lag_blocks"])
        #expect(try problems("[evm]\nbase = 1") == ["evm.base"])
        #expect(try problems(base("enabled = false")) == [])
        #expect(try load(base("enabled = false")).adapters.isEmpty)
    }

    /// Through the host's TOML loader and registry: the [gnosis] section is registered, the
    /// RPC URL's key is redacted in the effective config, and errors name the key.
    @Test func hostCheckConfigKnowsGnosis() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gnosis-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.toml").path
        try """
            [database]
            url = "postgresql://u:p@127.0.0.1/x"
            [gnosis]
            enabled = true
            rpc_url = "https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161"
            handles = [{ address = "\(Self.handle)", asset = "EURe", label = "mm" }]
            """.write(toFile: good, atomically: true, encoding: .utf8)
        let ok = HostCommands.checkConfig(path: good, environment: [:], registry: registeredAdapters)
        #expect(ok.ok, "\(ok.output)")
        #expect(ok.output.contains("enabled plugins: gnosis"))
        #expect(!ok.output.contains("9aa3d95b3bc440fa88ea12eaa4456161"))
        let bad = dir.appendingPathComponent("bad.toml").path
        try """
            [database]
            url = "postgresql://u:p@127.0.0.1/x"
            [gnosis]
            enabled = true
            rpc_url = "https://rpc.gnosischain.com"
            tokens = [{ address = "0xcB444e90D8198415266c6a2724b7900fb12FC56E", asset = "EURe" }, { address = "0x420CA0f9B9b604cE0fd9C18EF134C705e5Fa3430", asset = "EURe" }]
            handles = [{ address = "\(Self.handle)" }]
            """.write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = HostCommands.checkConfig(path: bad, environment: [:], registry: registeredAdapters)
        #expect(!refused.ok)
        #expect(refused.output.contains("gnosis.tokens"))
    }
}
