import JSONRPCClient
import Logging
import WatchCore

/// The execution-API calls the adapter and `gnosis scan` make, decoded strictly, with
/// transient failures (429, 5xx, timeouts) retried with backoff and jitter. Every error is a
/// `JSONRPCError` (decode failures are `.malformed`) and is counted in `stats`.
struct EVMClient: Sendable {
    let rpc: JSONRPCClient
    let retry: RetryPolicy
    let stats: GnosisStats
    let logger: Logger
    let sleep: @Sendable (Duration) async throws -> Void

    /// The largest reply each method can legitimately return: quantities are tiny, a block
    /// header with its transaction hashes well under 4 MiB; `eth_getLogs` keeps the client's
    /// 64 MiB cap (providers bound it by count).
    static let replyCaps: [String: Int] = [
        "eth_chainId": 4 << 10, "eth_blockNumber": 4 << 10, "eth_syncing": 64 << 10, "eth_getBlockByNumber": 4 << 20,
        "eth_getLogs": 64 << 20,
    ]

    func call(_ method: String, _ params: [JSONValue]) async throws -> JSONValue {
        let stats = self.stats, logger = self.logger, rpc = self.rpc
        return try await retry.run(
            sleep: sleep,
            onRetry: { error, pause in
                stats.update { $0.retries += 1 }
                logger.debug("RPC call failed; retrying", metadata: ["method": "\(method)", "error": "\(error)", "pause": "\(pause)"])
            },
            {
                do {
                    return try await rpc.call(method, params, maxResponseBytes: Self.replyCaps[method] ?? (1 << 20))
                } catch let error as JSONRPCError {
                    stats.record(error)
                    throw error
                }
            })
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
    func logs(of block: EVMBlock, filter: LogFilter) async throws -> [EVMLog] {
        guard !filter.recipients.isEmpty else { return [] }
        let value = try await call("eth_getLogs", [filter.json(blockHash: block.hash)])
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
