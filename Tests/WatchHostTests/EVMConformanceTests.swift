import EVMTesting
import Foundation
import Testing
import WatchCore
import UnripAdapters
import WatchHost
import WatchTesting

/// The adapter conformance suite for two EVM plugins loaded from one config, as the host loads
/// them, run side by side: `[gnosis]` (chain 100, EURe, 18 decimals) and `[evm.base]`
/// (chain 8453, a 6-decimal USDC), each against its own EVM node double.
@Suite struct EVMConformanceTests {
    static let usdc = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
    static let handle = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

    @Test func gnosisAndASecondEVMInstanceBothConform() async throws {
        let gnosisNode = EVMNodeDouble(chain: EVMChainModel(chainId: 100, tip: 1000))
        let baseNode = EVMNodeDouble(chain: EVMChainModel(chainId: 8453, tip: 20_000), defaultToken: Self.usdc)
        let gnosisURL = try await gnosisNode.start(), baseURL = try await baseNode.start()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-evm-conf-\(UUID().uuidString).toml").path
        try """
            [database]
            url = "postgresql://localhost/unrip"
            [gnosis]
            enabled = true
            rpc_url = "\(gnosisURL)"
            poll_interval_ms = 10
            confirmations = 3
            retry_base_ms = 1
            handles = [{ address = "\(Self.handle)" }]
            [evm.base]
            chain_id = 8453
            rpc_urls = ["\(baseURL)"]
            poll_interval_ms = 10
            confirmations = 4
            retry_base_ms = 1
            tokens = [{ address = "\(Self.usdc)", asset = "USDC", decimals = 6 }]
            handles = [{ address = "\(Self.handle)", asset = "USDC" }]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try HostConfig.load(path: path, environment: [:], registry: registeredAdapters)
        #expect(config.adapters.map(\.kind) == ["gnosis", "base"])

        func setup(_ name: String) throws -> AdapterConformance.Setup {
            let loaded = try #require(config.adapters.first { $0.kind == name })
            let handle = try #require(loaded.handles.first)
            #expect(handle.chain == name)
            return AdapterConformance.Setup(chain: loaded.kind, network: loaded.network, handle: handle, policy: loaded.policy, make: loaded.make)
        }
        let gnosis = try setup("gnosis"), base = try setup("base")
        async let gnosisFailures = AdapterConformance.run(gnosis, node: gnosisNode)
        async let baseFailures = AdapterConformance.run(base, node: baseNode)
        let (g, b) = try await (gnosisFailures, baseFailures)
        #expect(g.isEmpty, "gnosis: \(g)")
        #expect(b.isEmpty, "base: \(b)")
        // Each instance asked only its own node.
        #expect((gnosisNode.requestCounts["eth_getLogs"] ?? 0) > 0 && (baseNode.requestCounts["eth_getLogs"] ?? 0) > 0)
        await gnosisNode.stop()
        await baseNode.stop()
    }
}
