import Foundation
import Logging
import Testing
import WatchCore
import EVMTesting
import WatchTesting

@testable import EVMPlugin

let handleA = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
let handleB = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
let stranger = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
let otherToken = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"

/// Builds `[gnosis]` sections the way the TOML loader would.
func gnosisSection(_ table: [String: ConfigValue], problems: ConfigProblems = ConfigProblems()) -> ConfigSection {
    ConfigSection(path: "gnosis", table: table, problems: problems)
}

func handlesValue(_ addresses: [String]) -> ConfigValue {
    .array(addresses.enumerated().map { i, a in .table(["address": .string(a), "asset": "EURe", "label": .string("mm-\(i)")]) })
}

/// The EVM node double and the plugin in the shared `AdapterHarness`.
final class GnosisHarness: Sendable {
    let node: EVMNodeDouble
    let adapterHarness: AdapterHarness
    let configuration: EVMConfiguration
    var store: MemoryChainStore { adapterHarness.store }
    var pipeline: ChainPipeline { adapterHarness.pipeline }
    var context: AdapterContext { adapterHarness.context }

    static func make(
        chain: EVMChainModel = EVMChainModel(tip: 1000), urlPath: String = "", overrides: [String: ConfigValue] = [:],
        handles: [String] = [handleA, handleB]
    ) async throws -> GnosisHarness {
        let node = EVMNodeDouble(chain: chain)
        let url = try await node.start() + urlPath
        var table: [String: ConfigValue] = [
            "enabled": true, "rpc_url": .string(url), "poll_interval_ms": 10, "confirmations": 3, "retry_base_ms": 1,
            "retry_max_ms": 20, "rpc_timeout_ms": 2000, "handles": handlesValue(handles),
        ]
        table.merge(overrides) { _, new in new }
        let problems = ConfigProblems()
        let configuration = EVMConfiguration(section: gnosisSection(table, problems: problems))
        #expect(problems.all.isEmpty, "\(problems.all)")
        return GnosisHarness(node: node, configuration: configuration)
    }

    init(node: EVMNodeDouble, configuration: EVMConfiguration) {
        self.node = node
        self.configuration = configuration
        adapterHarness = AdapterHarness(
            chain: "gnosis", network: configuration.network, policy: configuration.policy, handles: configuration.handles,
            logger: AdapterHarness.quietLogger("gnosis-test"))
    }

    func makeAdapter() throws -> EVMAdapter { try EVMAdapter(configuration: configuration, context: context) }

    @discardableResult
    func start() throws -> EVMAdapter {
        let adapter = try makeAdapter()
        adapterHarness.start(adapter)
        return adapter
    }

    func stop() async { await adapterHarness.stop() }

    func shutdown() async {
        await stop()
        await node.stop()
    }

    func row(_ tx: String) -> MemoryChainStore.Row? { adapterHarness.row(tx) }

    /// Waits until the cursor reaches the node's tip (or `height`).
    func synced(to height: Int? = nil, timeout: Duration = .seconds(20)) async -> Bool {
        await adapterHarness.synced(to: height ?? node.tip, timeout: timeout)
    }
}
