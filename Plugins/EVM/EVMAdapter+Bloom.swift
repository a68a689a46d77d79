import JSONRPCClient
import Metrics
import WatchCore

extension EVMAdapter {
    /// Some nodes have answered `eth_getLogs` with nothing for ranges that hold logs
    /// (NethermindEth/nethermind#9178, #9305). Every header read near the tip carries its
    /// `logsBloom`: a block whose bloom may hold a watched transfer (token address, `Transfer`
    /// topic and a handle's topic) but got no log is asked again, by its hash: of another
    /// endpoint of `rpc_urls` that has the block when there is one, else of the same after a
    /// backoff. Returns the logs the second answer adds. Still nothing: a bloom false positive,
    /// counted; it costs one request.
    /// `filter` and `query` are the scanner's unless a narrower scan (the history rescan) gives its own.
    func recheckAgainstBloom(_ headers: [EVMBlock], logs: [EVMLog], filter: LogFilter? = nil, query: TransferBloomQuery? = nil) async throws -> [EVMLog] {
        let filter = filter ?? scanner.filter, query = query ?? bloomQuery
        let answered = Set(logs.map(\.blockNumber))
        let doubtful = headers.filter { header in
            guard !answered.contains(header.number), let bloom = header.logsBloom else { return false }
            return query.mayMatch(bloom)
        }
        guard !doubtful.isEmpty else { return [] }
        stats.update { $0.emptyLogsContradictedByBloom += doubtful.count }
        Counter(label: "unrip_evm_empty_logs_contradicted_by_bloom_total", dimensions: [("plugin", configuration.name)]).increment(by: doubtful.count)
        context.logger.notice(
            "eth_getLogs returned nothing for blocks whose logsBloom may hold a watched transfer; asking again",
            metadata: ["blocks": "\(doubtful.map(\.number))"])
        let first = client.pool.inUse
        var slept = false
        var found: [EVMLog] = []
        for header in doubtful {
            let other = client.pool.alternative(to: first, reaching: header.number)
            if other == nil, !slept {
                try await context.clock.sleep(for: configuration.retry.delay(retry: 0))
                slept = true
            }
            let again = try await client.logs(of: header, filter: filter, endpoint: other)
            if !again.isEmpty, other != nil { client.pool.contradicted(first) }
            if again.isEmpty {
                stats.update { $0.bloomFalsePositives += 1 }
                Counter(label: "unrip_evm_bloom_false_positives_total", dimensions: [("plugin", configuration.name)]).increment()
                context.logger.debug("bloom false positive", metadata: ["block": "\(header.number)"])
            }
            found += again
        }
        return found
    }
}
