import JSONRPCClient
import Metrics
import WatchCore

extension EVMAdapter {
    /// The deep bloom check (`deep_bloom_check`): a catch-up or rescan window's `eth_getLogs`
    /// answer is checked against its blocks' headers as `follow` checks the reorg window's.
    /// The headers are read in JSON-RPC batches of `header_batch_size`; in each, those whose
    /// bloom may match and for which no log came are asked again (`recheckAgainstBloom`)
    /// before the next batch is read, so memory holds one batch of headers at a time. Returns the
    /// window's logs with what the second answers added.
    func recheckDeepWindow(
        _ window: ClosedRange<Int>, logs: [EVMLog], filter: LogFilter? = nil, query: TransferBloomQuery? = nil
    ) async throws -> [EVMLog] {
        let filter = filter ?? scanner.filter, query = query ?? bloomQuery
        // No recipient: `eth_getLogs` was not asked (see `EVMClient.logs`), so nothing to doubt.
        guard configuration.deepBloomCheck, !filter.recipients.isEmpty else { return logs }
        var found = logs
        var start = window.lowerBound
        while start <= window.upperBound {
            let end = min(window.upperBound, start + stats.snapshot.headerBatchSize - 1)
            let headers = try await deepHeaders(Array(start...end))
            stats.update { $0.deepHeadersChecked += headers.count }
            Counter(label: "unrip_evm_deep_headers_checked_total", dimensions: [("plugin", configuration.name)]).increment(by: headers.count)
            found += try await recheckAgainstBloom(headers, logs: logs, filter: filter, query: query)
            start = end + 1
        }
        return found
    }

    /// The headers at `heights`, in one batch when the endpoint takes it. An endpoint that
    /// refuses a batch (an error that is not transient: a batch limit, batches not supported)
    /// gets halves of it, and `header_batch_size` drops to that half for every later batch,
    /// down to one call per header.
    func deepHeaders(_ heights: [Int]) async throws -> [EVMBlock] {
        guard heights.count > 1 else {
            guard let height = heights.first else { return [] }
            guard let block = try await client.block(at: height) else {
                throw JSONRPCError.malformed("eth_getBlockByNumber(\(EVMDecode.hex(height))) returned null below the head")
            }
            return [block]
        }
        let values: [JSONValue]
        do {
            values = try await client.batchedBlocks(at: heights)
        } catch let error as JSONRPCError where error != .cancelled && !error.isTransient {
            let half = (heights.count + 1) / 2
            lowerHeaderBatchSize(to: half, after: error)
            return try await deepHeaders(Array(heights.prefix(half))) + deepHeaders(Array(heights.dropFirst(half)))
        }
        return try client.decodeBlocks(values, at: heights)
    }

    private func lowerHeaderBatchSize(to size: Int, after error: JSONRPCError) {
        var lowered = false
        stats.update { c in
            if c.headerBatchSize > size {
                c.headerBatchSize = size
                lowered = true
            }
        }
        guard lowered else { return }
        context.logger.notice(
            "an RPC endpoint refused a batch of block headers; asking in smaller batches",
            metadata: ["plugin": "\(configuration.name)", "header_batch_size": "\(size)", "error": "\(Excerpt.of("\(error)"))"])
    }
}
