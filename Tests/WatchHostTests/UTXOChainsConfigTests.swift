import Foundation
import Reconciler
import Testing
import UnripAdapters
import WatchCore
import WatchHost

/// `[utxo.<name>]`: a Bitcoin-family chain is one config section, run by the same plugin as
/// `[bitcoin]`, with its parameter set picked by `chain` and joined to the bridge per (chain, asset).
@Suite struct UTXOChainsConfigTests: ConfigFileTests {
    /// Addresses litecoind 0.21.2.1 handed out on regtest (Fixtures/litecoin/regtest-addresses.json).
    static let ltcRegtest = "rltc1q0dslkc4zk6tjd0mas95hc0xaj9pe65kk0lcnne"
    static let ltcRegtestP2SH = "QZb7WAcxJfGqXEos9fVj2P1h4TcQRQwq8v"
    static let btcRegtest = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"

    @Test func litecoinBesideBitcoinIsOneSectionEach() throws {
        let config = try load("""
            [bitcoin]
            enabled = true
            network = "regtest"
            handles = [{ address = "\(Self.btcRegtest)" }]
            [utxo.litecoin]
            network = "regtest"
            rpc_user = "u"
            rpc_password = "p"
            handles = [{ address = "\(Self.ltcRegtest)", label = "ltc-1" }, { address = "\(Self.ltcRegtestP2SH)" }]
            [bridge]
            enabled = true
            accounts = ["mm.near"]
            [bridge.tokens.litecoin]
            LTC = "nep141:ltc.omft.near"
            [bridge.tokens.bitcoin]
            BTC = "nep141:btc.omft.near"
            """)
        #expect(config.adapters.map(\.kind) == ["bitcoin", "litecoin"])
        let litecoin = try #require(config.adapters.first { $0.kind == "litecoin" })
        #expect(litecoin.handles.map(\.chain) == ["litecoin", "litecoin"])
        #expect(litecoin.handles.map(\.asset) == ["LTC", "LTC"])
        #expect(litecoin.handles.map(\.address) == [Self.ltcRegtest, Self.ltcRegtestP2SH])
        #expect(litecoin.network == "regtest")
        #expect(config.reconciler?.chains["litecoin"] == "ltc:mainnet")
        #expect(config.reconciler?.chains["bitcoin"] == "btc:mainnet")
        // The default RPC port is Litecoin's regtest one, and the effective config says so.
        let effective = config.effective.objectValue?["utxo"]?.objectValue?["litecoin"]?.objectValue ?? [:]
        #expect(effective["rpc_url"] == "http://127.0.0.1:19443", "\(effective)")
        #expect(effective["chain"] == "litecoin")
        #expect(effective["rpc_password"] == "<redacted>")
    }

    @Test func anAddressOfAnotherChainOrNetworkIsRefusedNamingIt() throws {
        let found = try problems("""
            [utxo.litecoin]
            network = "regtest"
            handles = [{ address = "\(Self.btcRegtest)" }, { address = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9" }]
            [bitcoin]
            enabled = true
            network = "regtest"
            handles = [{ address = "\(Self.ltcRegtestP2SH)" }]
            """)
        let text = found.map(\.description)
        #expect(text.contains { $0.contains("utxo.litecoin.handles[0].address") && $0.contains("is for bitcoin regtest but the configured network is litecoin regtest") }, "\(text)")
        #expect(text.contains { $0.contains("utxo.litecoin.handles[1].address") && $0.contains("is for mainnet but the configured network is regtest") }, "\(text)")
        #expect(text.contains { $0.contains("bitcoin.handles[0].address") && $0.contains("is for litecoin testnet or litecoin regtest") }, "\(text)")
    }

    @Test func aChainIsNamedOrTakenFromTheSectionName() throws {
        let missing = try problems("""
            [utxo.lite]
            handles = [{ address = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9" }]
            """)
        #expect(missing.first?.key == "utxo.lite.chain", "\(missing)")
        #expect(missing.first?.description.contains("bitcoin, litecoin") == true)
        let unknown = try problems("""
            [utxo.doge]
            chain = "dogecoin"
            handles = [{ address = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9" }]
            """)
        #expect(unknown.map(\.key).contains("utxo.doge.chain"), "\(unknown)")
        let badNetwork = try problems("""
            [utxo.litecoin]
            network = "signet"
            handles = [{ address = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9" }]
            """)
        #expect(badNetwork.first { $0.key == "utxo.litecoin.network" }?.description.contains("mainnet, testnet, regtest") == true, "\(badNetwork)")
    }

    /// A further chain of the family is data: Litecoin's parameters with another prefix.
    @Test func addressParametersCanBeOverridden() throws {
        let config = try load("""
            [utxo.other]
            chain = "litecoin"
            bech32_hrp = "oth"
            p2pkh_version = 25
            p2sh_version = 30
            asset = "OTH"
            decimals = 8
            bridge_chain = "oth:mainnet"
            handles = [{ address = "oth1qw508d6qejxtdg4y5r3zarvary0c5xw7kc6layc" }]
            [bridge]
            enabled = true
            accounts = ["mm.near"]
            [bridge.tokens.other]
            OTH = "nep141:oth.omft.near"
            """)
        let other = try #require(config.adapters.first)
        #expect(other.kind == "other" && other.handles.first?.asset == "OTH")
        #expect(config.reconciler?.chains["other"] == "oth:mainnet")
        let clash = try problems("""
            [utxo.other]
            chain = "litecoin"
            p2pkh_version = 50
            handles = [{ address = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9" }]
            """)
        #expect(clash.map(\.key).contains("utxo.other.p2sh_version"), "\(clash)")
    }

    @Test func withoutATokenForLTCTheBridgeNamesTheKeyToAdd() throws {
        let found = try problems("""
            [utxo.litecoin]
            handles = [{ address = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9" }]
            [bridge]
            enabled = true
            accounts = ["mm.near"]
            """)
        #expect(found.map(\.key).contains("bridge.tokens.litecoin.LTC"), "\(found)")
    }

    /// A handle may name the intents account its deposits are credited to; it must be one the
    /// reconciler polls, and a NEAR account id.
    @Test func aHandlesAccountIsCheckedAgainstTheBridgesAccounts() throws {
        let config = try load("""
            [utxo.litecoin]
            handles = [{ address = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9", account = "mm.near" }]
            [bridge]
            enabled = true
            accounts = ["mm.near"]
            [bridge.tokens.litecoin]
            LTC = "nep141:ltc.omft.near"
            """)
        #expect(config.adapters.first?.handles.first?.account == "mm.near")
        let found = try problems("""
            [utxo.litecoin]
            handles = [{ address = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9", account = "other.near" },
                       { address = "\(Self.ltcRegtest)", account = "Not An Account" }]
            [bridge]
            enabled = true
            accounts = ["mm.near"]
            [bridge.tokens.litecoin]
            LTC = "nep141:ltc.omft.near"
            """)
        let text = found.map(\.description)
        #expect(text.contains { $0.contains("bridge.accounts") && $0.contains("other.near") }, "\(text)")
        #expect(text.contains { $0.contains("utxo.litecoin.handles[1].account") }, "\(text)")
    }
}
