import Foundation
import Testing
import WatchCore

@testable import EVMPlugin

@Suite struct GnosisConfigTests {
    func load(_ table: [String: ConfigValue]) -> (EVMConfiguration, [ConfigProblem]) {
        let problems = ConfigProblems()
        let section = gnosisSection(table, problems: problems)
        let configuration = EVMConfiguration(section: section)
        section.finish()
        return (configuration, problems.all)
    }

    let base: [String: ConfigValue] = ["rpc_url": "https://rpc.gnosischain.com", "handles": handlesValue([handleA])]

    @Test func defaultsWatchEUReV2OnMainnet() {
        let (c, problems) = load(base)
        #expect(problems.isEmpty)
        #expect(c.chainId == 100 && c.network == "mainnet")
        #expect(c.tokens.map(\.address.checksummed) == [EVM.eureV2])
        #expect(c.tokens[0].decimals == 18 && c.tokens[0].asset == "EURe")
        #expect(c.policy.confirmations == 32)
        #expect(c.handles.map(\.address) == [handleA])
    }

    @Test func eureV1AndV2TogetherAreRefusedUnlessAllowed() {
        var table = base
        table["tokens"] = .array([
            .table(["address": .string(EVM.eureV2), "asset": "EURe", "decimals": 18]),
            .table(["address": .string(EVM.eureV1), "asset": "EURe", "decimals": 18]),
        ])
        let (_, problems) = load(table)
        #expect(problems.count == 1)
        #expect(problems.first?.key == "gnosis.tokens")
        #expect(problems.first?.expected.contains("twice") == true)
        table["allow_eure_v1_and_v2"] = true
        #expect(load(table).1.isEmpty)
    }

    @Test func problemsNameTheKey() {
        var table = base
        table["rpc_url"] = "ftp://x"
        table["chain_id"] = "abc"
        table["confirmations"] = 0
        table["handles"] = .array([
            .table(["address": "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]),  // bad checksum
            .table(["address": "0x1234"]),
            .table(["address": .string(handleB), "asset": "USDC"]),
        ])
        table["pol_interval_ms"] = 5
        let keys = Set(load(table).1.map(\.key))
        #expect(keys == [
            "gnosis.rpc_url", "gnosis.chain_id", "gnosis.confirmations", "gnosis.handles[0].address", "gnosis.handles[1].address",
            "gnosis.handles[2].asset", "gnosis.pol_interval_ms",
        ])
        let checksum = load(table).1.first { $0.key == "gnosis.handles[0].address" }
        #expect(checksum?.expected.contains("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") == true)
        #expect(load(["rpc_url": "https://x"]).1.map(\.key) == ["gnosis.handles"])
        #expect(load(["handles": handlesValue([handleA])]).1.map(\.key) == ["gnosis.rpc_url"])
    }

    @Test func chiadoAndFinalizedPolicy() {
        var table = base
        table["chain_id"] = 10200
        table["use_finalized"] = true
        let (c, problems) = load(table)
        #expect(problems.isEmpty)
        #expect(c.network == "chiado")
        #expect(c.policy.confirmations == 1 && c.reorgWindow == 0)
    }
}
