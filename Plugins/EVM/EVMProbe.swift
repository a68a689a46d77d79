import Foundation
import JSONRPCClient
import Logging
import WatchCore

/// The watchdog's view of an EVM node: the `latest` block (height, hash, timestamp),
/// `eth_syncing`, and the `finalized` block when the node serves that tag.
struct EVMProbe: ChainProbe {
    let client: EVMClient

    init(configuration: EVMConfiguration) {
        let clients = configuration.rpcURLs.map { JSONRPCClient(.init(url: $0, version: .v2, timeout: configuration.rpcTimeout, concurrency: 2)) }
        // One try per endpoint per probe: the watchdog probes again on its own schedule.
        let retry = RetryPolicy(attempts: clients.count, baseDelay: configuration.retry.baseDelay, maxDelay: configuration.retry.maxDelay)
        client = EVMClient(
            pool: RPCEndpointPool(clients: clients, clock: SystemClock(), retry: retry, maxHeadLag: configuration.maxHeadLagBlocks),
            retry: retry, stats: EVMStats(), logger: Logger(label: "unrip.\(configuration.name).probe"), sleep: { _ in })
    }

    func vitals() async throws -> NodeVitals {
        let latest = try await client.call("eth_getBlockByNumber", ["latest", false])
        guard let block = try EVMDecode.block(latest) else { throw JSONRPCError.malformed("eth_getBlockByNumber(latest) returned null") }
        let time = latest["timestamp"].flatMap { try? EVMDecode.quantity($0, "block.timestamp", max: Int(Int32.max) * 4) }
        var syncing: String?
        let sync = try await client.call("eth_syncing", [])
        if sync != .bool(false) {
            let current = sync["currentBlock"].flatMap { try? EVMDecode.quantity($0, "currentBlock") }
            let highest = sync["highestBlock"].flatMap { try? EVMDecode.quantity($0, "highestBlock") }
            syncing = "eth_syncing: current \(current.map(String.init) ?? "?"), highest \(highest.map(String.init) ?? "?")"
        }
        // A node without the `finalized` tag (pre-merge, some providers) errors or answers null.
        let finalized = (try? await client.block("finalized")) ?? nil
        return NodeVitals(
            tipHeight: block.number, tipHash: block.hash, tipTime: time.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            syncing: syncing, finalized: finalized?.ref)
    }

    func blockHash(at height: Int) async throws -> String? { try await client.block(at: height)?.hash }
}
