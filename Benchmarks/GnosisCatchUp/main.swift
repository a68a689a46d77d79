import Foundation
import EVMPlugin
import JSONRPCClient
import Logging
import WatchCore
import EVMTesting
import WatchTesting

// Gnosis catch-up benchmark (DESIGN §10, issue 4): the adapter's adaptive eth_getLogs catch-up
// over N blocks with sparse transfers, against a provider limited to 10,000 blocks / 10,000
// results (Infura wording), beside a naive fixed 1,000-block-window poller in the same run.
// Usage: gnosis-bench [blocks] [transfers]. Prints a table and one JSON line.

let args = CommandLine.arguments
let blocks = args.count > 1 ? Int(args[1]) ?? 1_000_000 : 1_000_000
let transferCount = args.count > 2 ? Int(args[2]) ?? 300 : 300
let handle = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

var chain = EVMChainModel(tip: 0, limits: .init(maxBlockRange: 10_000, maxResults: 10_000, style: .infura))
var rng = SystemRandomNumberGenerator()
let heights = (0..<transferCount).map { _ in Int.random(in: 1...blocks, using: &rng) }.sorted()
for h in heights {
    if h > chain.tip + 1 { chain.mine(h - chain.tip - 1) }
    _ = chain.transfer(token: EVM.eureV2, to: handle.lowercased(), amount: Amount(decimal: "1500000000000000000")!)
    chain.mine()
}
if chain.tip < blocks { chain.mine(blocks - chain.tip) }
let expected = Set(chain.minedTransfers.map(\.txHash))

let node = EVMNodeDouble(chain: chain)
let url = try await node.start()
let logger: Logger = {
    var logger = Logger(label: "gnosis-bench")
    logger.logLevel = .error
    return logger
}()

// 1. The adapter, end to end into the core's tracker (memory store): without the deep bloom
// check (the adaptive ranges alone), then with it (one header per deep block, batched).
struct AdapterRun {
    var counts: [String: Int]
    var time: Duration
    var found: Set<String>
    /// HTTP requests: a batch is one.
    var httpRequests: Int
}

func runAdapter(deepBloomCheck: Bool) async throws -> AdapterRun {
    let problems = ConfigProblems()
    let section = ConfigSection(
        path: "gnosis",
        table: [
            "rpc_url": .string(url), "start_block": .int(1), "poll_interval_ms": .int(10), "max_block_range": .int(1000),
            "deep_bloom_check": .bool(deepBloomCheck),
            "handles": .array([.table(["address": .string(handle), "asset": .string("EURe")])]),
        ], problems: problems)
    let configuration = EVMConfiguration(section: section)
    precondition(problems.all.isEmpty, "\(problems.all)")
    let store = MemoryChainStore()
    let pipeline = ChainPipeline(
        adapter: "gnosis", tracker: ChainTracker(chain: "gnosis", network: "mainnet", policy: configuration.policy), store: store,
        clock: SystemClock())
    let context = AdapterContext(
        name: "gnosis", chain: "gnosis", network: "mainnet", handles: configuration.handles, pipeline: pipeline, logger: logger,
        clock: SystemClock())
    let adapter = try EVMAdapter(configuration: configuration, context: context)
    node.resetCounts()
    let start = ContinuousClock.now
    let task = Task { try await adapter.run() }
    var lastShown = ContinuousClock.now
    while await pipeline.tip?.height ?? 0 < blocks {
        try await Task.sleep(for: .milliseconds(2))
        if ContinuousClock.now - lastShown > .seconds(10) {
            lastShown = ContinuousClock.now
            FileHandle.standardError.write(Data("  deep_bloom_check=\(deepBloomCheck): at block \(await pipeline.tip?.height ?? 0) of \(blocks)\n".utf8))
        }
    }
    let time = ContinuousClock.now - start
    task.cancel()
    _ = await task.result
    return AdapterRun(counts: node.requestCounts, time: time, found: Set(store.rows.keys.map(\.txHash)), httpRequests: node.requestTotal)
}

let adaptive = try await runAdapter(deepBloomCheck: false)
let checked = try await runAdapter(deepBloomCheck: true)
let adaptiveCounts = adaptive.counts, adaptiveTime = adaptive.time, found = adaptive.found

// 2. The naive poller: fixed 1,000-block eth_getLogs windows, sequential.
node.resetCounts()
let rpc = JSONRPCClient(.init(url: url))
let naiveStart = ContinuousClock.now
var naiveFound: Set<String> = []
let topic = "0x" + String(repeating: "0", count: 24) + handle.lowercased().dropFirst(2)
var from = 1
while from <= blocks {
    let to = min(blocks, from + 999)
    let filter: JSONValue = [
        "fromBlock": .string("0x" + String(from, radix: 16)), "toBlock": .string("0x" + String(to, radix: 16)),
        "address": .string(EVM.eureV2.lowercased()), "topics": [.string(EVM.transferTopic), .null, .string(topic)],
    ]
    let logs = try await rpc.call("eth_getLogs", [filter])
    for log in logs.arrayValue ?? [] { if let tx = log["transactionHash"]?.stringValue { naiveFound.insert(tx) } }
    from = to + 1
}
let naiveTime = ContinuousClock.now - naiveStart
let naiveRequests = node.requestTotal
await node.stop()

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
let adaptiveTotal = adaptive.httpRequests
let adaptiveLogs = adaptiveCounts["eth_getLogs"] ?? 0
print("Gnosis catch-up: \(blocks) blocks, \(expected.count) transfers, provider limit 10,000 blocks / 10,000 results")
print("poller     requests  eth_getLogs  wall_s   transfers_found")
print(String(format: "adaptive   %8d  %11d  %6.2f   %d", adaptiveTotal, adaptiveLogs, seconds(adaptiveTime), found.count))
print(String(format: "naive-1000 %8d  %11d  %6.2f   %d", naiveRequests, naiveRequests, seconds(naiveTime), naiveFound.count))
print(String(format: "ratio (naive/adaptive): all requests %.1fx, eth_getLogs %.1fx; same transfers: %@", Double(naiveRequests) / Double(adaptiveTotal), Double(naiveRequests) / Double(max(1, adaptiveLogs)), found == expected && naiveFound == expected ? "yes" : "NO"))
let checkedBatches = checked.counts["(batch)"] ?? 0, checkedHeaders = checked.counts["(in batches)"] ?? 0
print(String(format: "with deep_bloom_check (default): %d HTTP requests (%d header batches for %d headers), %.2f s wall, %.1fx the wall without it; same transfers: %@",
    checked.httpRequests, checkedBatches, checkedHeaders, seconds(checked.time), seconds(checked.time) / max(0.001, seconds(adaptiveTime)),
    checked.found == expected ? "yes" : "NO"))
let json: JSONValue = [
    "benchmark": "gnosis_catchup", "blocks": .int(Int64(blocks)), "transfers": .int(Int64(expected.count)),
    "adaptive": ["requests": .int(Int64(adaptiveTotal)), "by_method": .object(adaptiveCounts.mapValues { .int(Int64($0)) }), "wall_s": .double(seconds(adaptiveTime)), "found": .int(Int64(found.count))],
    "naive_1000": ["requests": .int(Int64(naiveRequests)), "wall_s": .double(seconds(naiveTime)), "found": .int(Int64(naiveFound.count))],
    "deep_bloom_check": [
        "http_requests": .int(Int64(checked.httpRequests)), "header_batches": .int(Int64(checkedBatches)), "headers": .int(Int64(checkedHeaders)),
        "wall_s": .double(seconds(checked.time)), "found": .int(Int64(checked.found.count)),
    ],
    "same_transfers": .bool(found == expected && naiveFound == expected && checked.found == expected),
]
print(json.serialized())
