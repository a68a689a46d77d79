import Foundation
import Reconciler
import Testing
import UnripAdapters
import WatchCore
import WatchHost

/// `[bridge.omni]` and Omni handles in config: read with their defaults, overridable from the
/// environment, and refused naming the key and the fix when they cannot work.
@Suite struct OmniConfigTests: ConfigFileTests {
    static let btc = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    static let bitcoin = """
        [bitcoin]
        enabled = true
        network = "regtest"
        handles = [{ address = "\(btc)" }]
        [bridge]
        enabled = true
        accounts = ["mm.near"]

        """

    @Test func theOmniSectionHasItsDefaultsAndTakesTheEnvironment() throws {
        let config = try load(Self.bitcoin + "[bridge.omni]\nmin_deposit_sats = 10000\nconfirmation_tiers = { \"1000000\" = 2, \"100000000\" = 6 }\n",
            environment: ["UNRIP_BRIDGE_OMNI_API_URL": "http://127.0.0.1:9"])
        let omni = try #require(config.reconciler?.omni)
        #expect(omni.apiURL == "http://127.0.0.1:9")
        #expect(omni.accounts == ["mm.near"])
        #expect(omni.token == "nep141:nbtc.bridge.near")
        #expect(omni.chain == "bitcoin")
        #expect(omni.minDepositSats == Amount(10_000))
        #expect(omni.confirmations(for: Amount(500_000)) == 2)
        #expect(omni.confirmations(for: Amount(50_000_000)) == 6)
        #expect(omni.confirmations(for: Amount(1_000_000)) == 6, "the contract's rule: the first limit above the amount")
        #expect(omni.confirmations(for: Amount(500_000_000)) == 6, "above every limit: the highest limit's tier")
        #expect(config.reconciler?.allTokenIDs.contains("nep141:nbtc.bridge.near") == true)
        #expect(config.effective["bridge"]?["omni"]?["api_url"] == "http://127.0.0.1:9", "the effective config shows the section")
        #expect(try load(Self.bitcoin + "[bridge.omni]\nenabled = false\n").reconciler?.omni == nil)
    }

    @Test func anOmniSectionThatCannotWorkIsRefusedNamingTheKey() throws {
        let bad = try problems(Self.bitcoin + "[bridge.omni]\napi_url = \"ftp://x\"\naccounts = [\"other.near\"]\nchain = \"dogecoin\"\ntoken = \"nbtc\"\n")
        #expect(bad.contains { $0.key == "bridge.omni.api_url" }, "\(bad)")
        #expect(bad.contains { $0.key == "bridge.omni.accounts" && $0.expected.contains("[bridge] accounts") }, "\(bad)")
        #expect(bad.contains { $0.key == "bridge.omni.chain" }, "\(bad)")
        #expect(bad.contains { $0.key == "bridge.omni.token" }, "\(bad)")
        let tiers = try problems(Self.bitcoin + "[bridge.omni]\nconfirmation_tiers = { \"1e6\" = 2 }\n")
        #expect(tiers.contains { $0.key == "bridge.omni.confirmation_tiers.1e6" }, "\(tiers)")
    }

    @Test func anOmniHandleNeedsTheSectionAndItsAccount() throws {
        let omniHandle = Self.bitcoin.replacingOccurrences(
            of: "handles = [{ address = \"\(Self.btc)\" }]", with: "handles = [{ address = \"\(Self.btc)\", bridge = \"omni\", account = \"mm.near\" }]")
        let withoutSection = try problems(omniHandle)
        #expect(withoutSection.contains { $0.key == "bridge.omni" }, "\(withoutSection)")
        let config = try load(omniHandle + "[bridge.omni]\n")
        #expect(config.adapters.first?.handles.first?.bridge == "omni")
        let noAccount = try problems(Self.bitcoin.replacingOccurrences(
            of: "handles = [{ address = \"\(Self.btc)\" }]", with: "handles = [{ address = \"\(Self.btc)\", bridge = \"omni\" }]") + "[bridge.omni]\n")
        #expect(noAccount.contains { $0.key.hasSuffix("handles[0].account") }, "\(noAccount)")
        let badBridge = try problems(Self.bitcoin.replacingOccurrences(
            of: "handles = [{ address = \"\(Self.btc)\" }]", with: "handles = [{ address = \"\(Self.btc)\", bridge = \"hot\" }]"))
        #expect(badBridge.contains { $0.key.hasSuffix("handles[0].bridge") }, "\(badBridge)")
    }
}
