import JSONRPCClient
import Metrics
import WatchCore

/// The adapter's side of `rpc_urls`: each endpoint's chain id checked before it is used, and
/// every endpoint's head read at the start of a poll to pick the one to read it from.
extension EVMAdapter {
    /// Every endpoint's `eth_chainId` must equal `chain_id`: one that serves another chain is
    /// never used (and the plugin is unhealthy, naming it, until the config is fixed); start
    /// waits, retrying, until at least one endpoint is verified, and fails when none can be.
    func verifyChain() async throws {
        var attempt = 0
        while true {
            let mismatches = try await verifyEndpoints()
            let s = client.pool.state.withLock { $0.endpoints }
            if s.contains(where: { $0.verifiedChainID != nil }) {
                stats.update { $0.chainIdVerified = configuration.chainId }
                return
            }
            if s.allSatisfy({ $0.refused != nil }), let mismatch = mismatches.last { throw mismatch }
            attempt += 1
            try await context.clock.sleep(for: configuration.retry.delay(retry: min(attempt, 10)))
        }
    }

    var sectionName: String { configuration.section }

    /// Asks each endpoint not yet verified for its chain id, once; returns the refusals.
    @discardableResult
    func verifyEndpoints() async throws -> [ChainIdMismatch] {
        var mismatches: [ChainIdMismatch] = []
        let pending = client.pool.state.withLock { s in s.endpoints.indices.filter { s.endpoints[$0].verifiedChainID == nil && s.endpoints[$0].refused == nil } }
        for i in pending {
            let rpc = client.pool.clients[i]
            switch await rpc.outcome("eth_chainId", [], maxResponseBytes: 4 << 10).result {
            case .success(let value):
                guard let got = try? EVMDecode.quantity(value, "chain id", max: Int(UInt32.max)) else {
                    stats.record(.malformed("eth_chainId: not a quantity"))
                    continue
                }
                guard got == configuration.chainId else {
                    let mismatch = ChainIdMismatch(expected: configuration.chainId, got: got, url: rpc.redactedURL, section: sectionName)
                    client.pool.refuse(i, mismatch.description)
                    stats.update { $0.chainIdMismatch = mismatch.description }
                    context.logger.critical("RPC endpoint refused: it serves another chain", metadata: ["error": "\(mismatch)"])
                    if client.pool.isSingle { throw mismatch }
                    mismatches.append(mismatch)
                    continue
                }
                client.pool.verified(i, chainID: got)
            case .failure(let error):
                if error == .cancelled { throw CancellationError() }
                stats.record(error)
                stats.update { $0.retries += 1 }
                _ = client.pool.failed(i, error, retryAfter: nil)
                context.logger.warning("eth_chainId failed; retrying", metadata: ["rpc": "\(rpc.redactedURL)", "error": "\(error)"])
            }
        }
        return mismatches
    }

    /// The head to poll up to: the one endpoint's (with retries), or with several, the head of
    /// the first usable endpoint within `max_head_lag_blocks` of the best head any answered.
    func currentHead() async throws -> Int {
        let pool = client.pool
        if pool.isSingle {
            let head = try await client.blockNumber()
            // One endpoint is its own best head: lag 0, in use.
            Gauge(label: "unrip_evm_rpc_endpoint_lag_blocks", dimensions: [("plugin", configuration.name), ("endpoint", "0")]).record(0)
            Gauge(label: "unrip_evm_rpc_endpoint_in_use", dimensions: [("plugin", configuration.name)]).record(0)
            return head
        }
        try await verifyEndpoints()
        let before = pool.inUse
        let heads = await readHeads()
        guard let chosen = pool.choose(heads: heads) else {
            throw JSONRPCError.transport(.other("no usable RPC endpoint answered eth_blockNumber (see rpc.endpoints in /plugins/\(configuration.name)/state)"))
        }
        if chosen.index != before {
            Counter(label: "unrip_evm_rpc_failovers_total", dimensions: [("plugin", configuration.name)]).increment()
            context.logger.notice(
                "RPC failover", metadata: ["from": "\(pool.clients[before].redactedURL)", "to": "\(pool.clients[chosen.index].redactedURL)", "head": "\(chosen.head)"])
        }
        for (i, e) in pool.state.withLock({ $0.endpoints }).enumerated() {
            Gauge(label: "unrip_evm_rpc_endpoint_lag_blocks", dimensions: [("plugin", configuration.name), ("endpoint", String(i))])
                .record(Double(max(0, (pool.state.withLock { $0.best } ?? 0) - (e.head ?? 0))))
        }
        Gauge(label: "unrip_evm_rpc_endpoint_in_use", dimensions: [("plugin", configuration.name)]).record(Double(chosen.index))
        return chosen.head
    }

    /// `eth_blockNumber` of every verified endpoint, at once, one try each.
    func readHeads() async -> [Int: Int] {
        let pool = client.pool
        let now = context.clock.now()
        let asked = pool.state.withLock { s in
            s.endpoints.indices.filter { i in
                let e = s.endpoints[i]
                return e.verifiedChainID != nil && e.refused == nil && (e.benchedUntil.map { $0 <= now } ?? true)
            }
        }
        return await withTaskGroup(of: (Int, Int?).self) { group in
            for i in asked {
                group.addTask {
                    let outcome = await pool.clients[i].outcome("eth_blockNumber", [], maxResponseBytes: 4 << 10)
                    switch outcome.result {
                    case .success(let value):
                        guard let head = try? EVMDecode.quantity(value, "block number") else {
                            _ = pool.failed(i, .malformed("eth_blockNumber: not a quantity"), retryAfter: nil)
                            return (i, nil)
                        }
                        pool.succeeded(i)
                        return (i, head)
                    case .failure(let error):
                        stats.record(error)
                        _ = pool.failed(i, error, retryAfter: outcome.retryAfter)
                        return (i, nil)
                    }
                }
            }
            var heads: [Int: Int] = [:]
            for await (i, head) in group { if let head { heads[i] = head } }
            return heads
        }
    }
}
