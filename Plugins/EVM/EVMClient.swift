import JSONRPCClient
import Logging
import WatchCore

/// The execution-API calls the adapter and `gnosis scan` make, decoded strictly, with
/// transient failures (429, 5xx, timeouts) retried: on the next endpoint of `rpc_urls` at once
/// when there is one, else after the backoff (or the server's `Retry-After`, capped by
/// `retry_max_ms`). Every error is a `JSONRPCError` (decode failures are `.malformed`) and is
/// counted in `stats`.
struct EVMClient: Sendable {
    let pool: RPCEndpointPool
    let retry: RetryPolicy
    let stats: EVMStats
    let logger: Logger
    let sleep: @Sendable (Duration) async throws -> Void

    init(pool: RPCEndpointPool, retry: RetryPolicy, stats: EVMStats, logger: Logger, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.pool = pool
        self.retry = retry
        self.stats = stats
        self.logger = logger
        self.sleep = sleep
    }

    init(rpc: JSONRPCClient, retry: RetryPolicy, stats: EVMStats, logger: Logger, clock: any WatchClock = SystemClock()) {
        self.init(
            pool: RPCEndpointPool(clients: [rpc], clock: clock, retry: retry, maxHeadLag: .max), retry: retry, stats: stats, logger: logger,
            sleep: { try await clock.sleep(for: $0) })
    }

    /// The endpoint in use.
    var rpc: JSONRPCClient { pool.current }

    /// The largest reply each method can legitimately return: quantities are tiny, a block
    /// header with its transaction hashes well under 4 MiB; `eth_getLogs` keeps the client's
    /// 64 MiB cap (providers bound it by count).
    static let replyCaps: [String: Int] = [
        "eth_chainId": 4 << 10, "eth_blockNumber": 4 << 10, "eth_syncing": 64 << 10, "eth_getBlockByNumber": 4 << 20,
        "eth_getLogs": 64 << 20,
    ]

    /// `endpoint`, when given, takes the first try (then failover picks as usual).
    func call(_ method: String, _ params: [JSONValue], endpoint: Int? = nil) async throws -> JSONValue {
        let cap = Self.replyCaps[method] ?? (1 << 20)
        return try await withFailover(method, endpoint: endpoint) { rpc in
            let outcome = await rpc.outcome(method, params, maxResponseBytes: cap)
            return (outcome.result, outcome.retryAfter)
        }
    }

    /// Runs `attempt` on the endpoint the pool picks, retrying transient failures: on another
    /// endpoint at once when there is one, else after the backoff or `Retry-After`.
    func withFailover<T: Sendable>(
        _ method: String, endpoint: Int? = nil, _ attempt: (JSONRPCClient) async -> (Result<T, JSONRPCError>, Duration?)
    ) async throws -> T {
        var tries = 0
        var pinned = endpoint
        while true {
            try Task.checkCancellation()
            defer { pinned = nil }
            guard let index = pinned ?? pool.pick() else {
                // Every endpoint is benched: wait for the first to come back.
                tries += 1
                if tries >= retry.attempts { throw JSONRPCError.transport(.other("every RPC endpoint is failing; see rpc.endpoints in the plugin's state")) }
                try await sleep(retry.delay(retry: tries - 1))
                continue
            }
            let (result, retryAfter) = await attempt(pool.clients[index])
            switch result {
            case .success(let value):
                pool.succeeded(index)
                return value
            case .failure(let error):
                if error == .cancelled { throw error }
                stats.record(error)
                let next = pool.failed(index, error, retryAfter: retryAfter)
                tries += 1
                guard error.isTransient, tries < retry.attempts else { throw error }
                stats.update { $0.retries += 1 }
                logger.debug(
                    "RPC call failed; retrying", metadata: ["method": "\(method)", "error": "\(error)", "failover": "\(next.failover)", "pause": "\(next.pause)"])
                if !next.failover { try await sleep(next.pause) }
            }
        }
    }

    /// Runs a decoder, turning its failure into a counted `.malformed`.
    fileprivate func decode<T>(_ method: String, _ body: () throws(EVMDecode.Failure) -> T) throws(JSONRPCError) -> T {
        do {
            return try body()
        } catch {
            let e = JSONRPCError.malformed("\(method): \(error.description)")
            stats.record(e)
            throw e
        }
    }

    func chainId() async throws -> Int {
        let value = try await call("eth_chainId", [])
        return try decode("eth_chainId") { () throws(EVMDecode.Failure) in try EVMDecode.quantity(value, "chain id", max: Int(UInt32.max)) }
    }

    func blockNumber() async throws -> Int {
        let value = try await call("eth_blockNumber", [])
        return try decode("eth_blockNumber") { () throws(EVMDecode.Failure) in try EVMDecode.quantity(value, "block number") }
    }

    /// The block at a height or tag (`latest`, `safe`, `finalized`); nil when the node has none.
    func block(_ tagOrHeight: String) async throws -> EVMBlock? {
        let value = try await call("eth_getBlockByNumber", [.string(tagOrHeight), false])
        let block = try decode("eth_getBlockByNumber") { () throws(EVMDecode.Failure) in try EVMDecode.block(value) }
        if let block, tagOrHeight.hasPrefix("0x"), EVMDecode.hex(block.number) != tagOrHeight {
            let e = JSONRPCError.malformed("eth_getBlockByNumber(\(tagOrHeight)) returned block \(block.number)")
            stats.record(e)
            throw e
        }
        return block
    }

    func block(at height: Int) async throws -> EVMBlock? { try await block(EVMDecode.hex(height)) }

    /// The raw `eth_getBlockByNumber` results for `heights`, in one JSON-RPC batch, in order.
    /// Throws what refused the batch (after failover and retries of transient failures).
    func batchedBlocks(at heights: [Int]) async throws -> [JSONValue] {
        let calls = heights.map { JSONRPCClient.BatchCall("eth_getBlockByNumber", [.string(EVMDecode.hex($0)), false]) }
        let cap = min(64 << 20, heights.count * (Self.replyCaps["eth_getBlockByNumber"] ?? (1 << 20)))
        return try await withFailover("eth_getBlockByNumber (batch of \(heights.count))") { rpc in
            let outcome = await rpc.batch(calls, maxResponseBytes: cap)
            return (outcome.result, outcome.retryAfter)
        }
    }

    /// Decodes `batchedBlocks`' results: each must be the header at its height (all at or
    /// below the head, so null is malformed).
    func decodeBlocks(_ values: [JSONValue], at heights: [Int]) throws -> [EVMBlock] {
        try zip(heights, values).map { height, value in
            let block = try decode("eth_getBlockByNumber") { () throws(EVMDecode.Failure) in try EVMDecode.block(value) }
            guard let block, block.number == height else {
                let e = JSONRPCError.malformed(
                    "eth_getBlockByNumber(\(EVMDecode.hex(height))) in a batch returned \(block.map { "block \($0.number)" } ?? "null below the head")")
                stats.record(e)
                throw e
            }
            return block
        }
    }

    /// `eth_getLogs` over `range`; every returned log must lie inside it.
    func logs(_ range: ClosedRange<Int>, filter: LogFilter) async throws -> [EVMLog] {
        // No handle yet (they come from the bridge): an empty recipient list would match every
        // transfer of the token, so nothing is asked.
        guard !filter.recipients.isEmpty else { return [] }
        let value = try await call("eth_getLogs", [filter.json(range)])
        let logs = try decode("eth_getLogs") { () throws(EVMDecode.Failure) in try EVMDecode.logs(value) }
        if let stray = logs.first(where: { !range.contains($0.blockNumber) }) {
            let e = JSONRPCError.malformed("eth_getLogs [\(range.lowerBound), \(range.upperBound)] returned a log of block \(stray.blockNumber)")
            stats.record(e)
            throw e
        }
        return logs
    }
}

extension EVMClient {
    /// `eth_getLogs` of exactly one block, by hash: atomic against reorgs.
    func logs(of block: EVMBlock, filter: LogFilter, endpoint: Int? = nil) async throws -> [EVMLog] {
        guard !filter.recipients.isEmpty else { return [] }
        let value = try await call("eth_getLogs", [filter.json(blockHash: block.hash)], endpoint: endpoint)
        let logs = try decode("eth_getLogs") { () throws(EVMDecode.Failure) in try EVMDecode.logs(value) }
        if let stray = logs.first(where: { $0.blockHash != block.hash || $0.blockNumber != block.number }) {
            let e = JSONRPCError.malformed("eth_getLogs(blockHash \(block.hash)) returned a log of block \(stray.blockNumber) \(stray.blockHash)")
            stats.record(e)
            throw e
        }
        return logs
    }
}

/// Which logs to ask for: `Transfer` on the tokens, to the handles (topic2).
struct LogFilter: Sendable {
    var tokens: [EVMAddress]
    var recipients: [EVMAddress]

    func json(_ range: ClosedRange<Int>) -> JSONValue {
        let address: JSONValue = tokens.count == 1 ? .string(tokens[0].lowercased) : .array(tokens.map { .string($0.lowercased) })
        let to: JSONValue = recipients.count == 1 ? .string(recipients[0].topic) : .array(recipients.map { .string($0.topic) })
        return [
            "fromBlock": .string(EVMDecode.hex(range.lowerBound)), "toBlock": .string(EVMDecode.hex(range.upperBound)),
            "address": address, "topics": [.string(EVM.transferTopic), .null, to],
        ]
    }

    func json(blockHash: String) -> JSONValue {
        var filter = json(0...0).objectValue ?? [:]
        filter["fromBlock"] = nil
        filter["toBlock"] = nil
        filter["blockHash"] = .string(blockHash)
        return .object(filter)
    }
}
