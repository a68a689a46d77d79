import Foundation
import JSONRPCClient
import Logging
import WatchCore

/// Gnosis chain adapter: ERC-20 `Transfer` logs (EURe by default) to the funding handles,
/// through JSON-RPC polling (DESIGN §4, issue 4).
///
/// Each poll: check the cursor's block hash against the node and report `blockDisconnected`
/// while it differs (walk back); then catch up to the target (`latest`, or `finalized` with
/// `use_finalized`). Blocks deeper than the reorg window are covered by adaptive
/// `eth_getLogs` ranges and reported as `blockScanned` (only blocks with transfers, and each
/// range's last block); the last `reorgWindow` blocks are reported one by one with their parent
/// hash, so the core sees every reorg it can still act on. Native xDAI is not watched.
public struct EVMAdapter: ChainAdapter {
    /// The plugin kind; `[gnosis]` is its built-in instance, each `[evm.<name>]` another.
    public static let kind = "evm"
    public static let nativeCoinNote =
        "not watched: only ERC-20 Transfer logs of the configured tokens are; native coin transfers (ETH, xDAI) emit no logs"
    public static let nativeXDAINote =
        "not watched: only ERC-20 Transfer logs of the configured tokens are; native xDAI transfers emit no logs"

    public typealias Configuration = EVMConfiguration

    let configuration: Configuration
    let context: AdapterContext
    let client: EVMClient
    let scanner: LogScanner
    /// The scanner's filter as bloom bits, for `recheckAgainstBloom`.
    let bloomQuery: TransferBloomQuery
    let stats: EVMStats
    let rescanProgress = EVMRescanProgress()
    /// Handles by lower-case address.
    let handles: [EVMAddress: FundingHandle]
    let tokens: [EVMAddress: EVMToken]

    public struct ChainIdMismatch: Error, CustomStringConvertible {
        public var expected: Int
        public var got: Int
        public var url: String
        /// The section: `[gnosis]`, `[evm.base]`.
        public var section = "[gnosis]"
        public var description: String {
            "chain id mismatch: \(url) serves chain \(got), but \(section) chain_id is \(expected) (100 = Gnosis mainnet, 10200 = Chiado, 1 = Ethereum, 8453 = Base, 42161 = Arbitrum); point the RPC URL at the right network or fix chain_id"
        }
    }

    public init(configuration: Configuration, context: AdapterContext) throws {
        self.configuration = configuration
        self.context = context
        let clients = configuration.rpcURLs.map {
            JSONRPCClient(.init(url: $0, version: .v2, timeout: configuration.rpcTimeout, concurrency: configuration.maxConcurrency))
        }
        let clock = context.clock
        stats = EVMStats(clock: clock)
        let pool = RPCEndpointPool(
            clients: clients, clock: clock, retry: configuration.retry, maxHeadLag: configuration.maxHeadLagBlocks, chainID: configuration.chainId)
        client = EVMClient(pool: pool, retry: configuration.retry, stats: stats, logger: context.logger, sleep: { try await clock.sleep(for: $0) })
        var handles: [EVMAddress: FundingHandle] = [:]
        for h in context.handles {
            if let address = try? EVMAddress(h.address) { handles[address] = h }
        }
        self.handles = handles
        tokens = Dictionary(configuration.tokens.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        scanner = LogScanner(
            client: client, filter: LogFilter(tokens: configuration.tokens.map(\.address), recipients: handles.keys.sorted { $0.lowercased < $1.lowercased }),
            initialRange: configuration.maxBlockRange, concurrency: configuration.maxConcurrency, logger: context.logger)
        bloomQuery = TransferBloomQuery(scanner.filter)
        stats.update { $0.headerBatchSize = configuration.headerBatchSize }
    }

    // MARK: - Run

    public func run() async throws {
        let logger = context.logger
        logger.info(
            "EVM adapter starting",
            metadata: [
                "plugin": "\(configuration.name)", "rpc_urls": "\(client.pool.clients.map(\.redactedURL))", "chain_id": "\(configuration.chainId)",
                "handles": "\(handles.count)",
            ])
        try await verifyChain()
        var rescanned = !context.handles.contains { $0.rescanFrom != nil }
        while !Task.isCancelled {
            var pause = configuration.pollInterval
            do {
                try await poll()
                if !rescanned {
                    try await rescanHistory()
                    rescanned = true
                }
                stats.update {
                    $0.polls += 1
                    $0.consecutiveFailures = 0
                }
            } catch is CancellationError {
                return
            } catch JSONRPCError.cancelled {
                return
            } catch {
                let failures = stats.counters.withLock { c -> Int in
                    c.polls += 1
                    c.failedPolls += 1
                    c.consecutiveFailures += 1
                    return c.consecutiveFailures
                }
                stats.note("\(error)")
                pause = min(configuration.retry.delay(retry: failures - 1), max(configuration.pollInterval, configuration.retry.maxDelay))
                logger.warning("EVM poll failed; retrying", metadata: ["error": "\(error)", "failures": "\(failures)", "pause": "\(pause)"])
            }
            if Task.isCancelled { return }
            try await context.clock.sleep(for: pause)
        }
    }

    /// One poll: walk back past reorgs, then catch up to the target.
    func poll() async throws {
        let pipeline = context.pipeline
        let head = try await currentHead()
        var target = head
        if configuration.useFinalized {
            guard let finalized = try await client.block("finalized") else {
                throw JSONRPCError.malformed("eth_getBlockByNumber(finalized) returned null")
            }
            target = min(head, finalized.number)
            stats.update { $0.finalized = finalized.number }
        }
        stats.update {
            $0.head = head
            $0.target = target
        }
        // The poll reads up to `target`: a failover mid-poll goes only to an endpoint reaching it.
        client.pool.setFloor(target)
        defer { client.pool.setFloor(nil) }

        guard var cursor = await pipeline.tip else {
            // First start: the cursor goes just below `start_block` (or the target), whose logs are then scanned.
            try await initializeCursor(at: max(0, min(configuration.startBlock ?? target, target) - 1))
            return
        }
        guard cursor.height <= head else {
            context.logger.debug("node is behind the cursor; waiting", metadata: ["head": "\(head)", "cursor": "\(cursor.height)"])
            return
        }
        // Walk back while the node's block at the cursor is not ours.
        var walkedBack = false
        while true {
            guard let block = try await client.block(at: cursor.height) else { return }
            if block.hash == cursor.hash { break }
            if !walkedBack {
                stats.update { $0.reorgs += 1 }
                context.logger.notice("reorg: cursor block replaced", metadata: ["height": "\(cursor.height)", "ours": "\(cursor.hash)", "node": "\(block.hash)"])
            }
            walkedBack = true
            try await pipeline.submit([.blockDisconnected(cursor)])
            stats.update { $0.blocksDisconnected += 1 }
            guard let previous = await pipeline.tip else {
                // Walked back past everything we remember: restart just below.
                try await initializeCursor(at: max(0, cursor.height - 1))
                return
            }
            cursor = previous
        }
        guard target > cursor.height else { return }

        let deepEnd = target - configuration.reorgWindow
        if deepEnd > cursor.height {
            try await catchUp(cursor.height + 1...deepEnd, finalTarget: target)
            guard let tip = await pipeline.tip else { return }
            cursor = tip
        }
        if target > cursor.height {
            try await follow(cursor.height + 1...target)
        }
        stats.update { $0.catchUp = nil }
    }

    /// Sets the cursor to the node's block at `height` (scanning resumes above it).
    func initializeCursor(at height: Int) async throws {
        guard let block = try await client.block(at: height) else {
            throw JSONRPCError.malformed("eth_getBlockByNumber(\(height)) returned null below the head")
        }
        try await context.pipeline.submit([.blockScanned(block.ref, transfers: [])])
        context.logger.info("cursor initialized", metadata: ["height": "\(height)", "hash": "\(block.hash)"])
    }

    // MARK: - Catch-up and follow

    /// How often a catch-up commits a cursor with no transfer to carry it: blocks, or seconds.
    static let checkpointBlocks = 100_000
    static let checkpointInterval: TimeInterval = 5

    /// Deep blocks: adaptive log ranges. Blocks with transfers are reported as soon as their
    /// window arrives (their hash comes with the logs); the cursor is otherwise moved by one
    /// header per checkpoint (every `checkpointBlocks` blocks or `checkpointInterval` seconds)
    /// and at the end of the range, so most windows cost one request.
    func catchUp(_ range: ClosedRange<Int>, finalTarget: Int) async throws {
        let now = context.clock.now()
        stats.update {
            if $0.catchUp == nil {
                $0.catchUp = .init(startHeight: range.lowerBound - 1, startedAt: now, height: range.lowerBound - 1, target: finalTarget, lastLog: now)
            }
            $0.catchUp?.target = finalTarget
        }
        var committed = (height: range.lowerBound - 1, at: context.clock.now())
        try await scanner.scan(range, recheck: { window, logs in try await recheckDeepWindow(window, logs: logs) }) { window, logs in
            let byBlock = try matchedTransfers(logs)
            var reports: [ChainReport] = byBlock.map { .blockScanned($0.block, transfers: $0.transfers) }
            var reached = byBlock.last?.block.height ?? committed.height
            let due = window.upperBound == range.upperBound || window.upperBound - committed.height >= Self.checkpointBlocks
                || context.clock.now().timeIntervalSince(committed.at) >= Self.checkpointInterval
            if due, reached != window.upperBound {
                guard let end = try await client.block(at: window.upperBound) else {
                    throw JSONRPCError.malformed("eth_getBlockByNumber(\(window.upperBound)) returned null below the head")
                }
                reports.append(.blockScanned(end.ref, transfers: []))
                reached = window.upperBound
            }
            if !reports.isEmpty {
                try await context.pipeline.submit(reports)
                committed = (reached, context.clock.now())
            }
            stats.update { $0.transfersReported += byBlock.reduce(0) { $0 + $1.transfers.count } }
            progress(window.upperBound)
        }
    }

    /// Near the target: every block with its parent hash, and its logs read so that a reorg
    /// racing the reads cannot hide a transfer: one block is read by `blockHash` (atomic);
    /// a longer range by numbers, then its last header is read again and must be unchanged
    /// (headers chain by parent hash, so the whole range is), and every log must carry the
    /// hash of its block's header.
    func follow(_ range: ClosedRange<Int>) async throws {
        let headers = try await blocks(range)
        for (parent, child) in zip(headers, headers.dropFirst()) where child.parentHash != parent.hash {
            throw ChainMovedDuringRead(description: "block \(child.number) does not extend \(parent.number) (reorg in progress); re-reading")
        }
        var logs: [EVMLog] = []
        if headers.count == 1 {
            logs = try await client.logs(of: headers[0], filter: scanner.filter)
        } else {
            try await scanner.scan(range) { _, window in logs += window }
            guard let last = headers.last, try await client.block(at: last.number)?.hash == last.hash else {
                throw ChainMovedDuringRead(description: "block \(range.upperBound) changed while its range was read (reorg in progress); re-reading")
            }
        }
        logs += try await recheckAgainstBloom(headers, logs: logs)
        let byBlock = Dictionary(try matchedTransfers(logs).map { ($0.block.height, $0) }, uniquingKeysWith: { a, _ in a })
        var reports: [ChainReport] = []
        for header in headers {
            var transfers: [TransferSighting] = []
            if let found = byBlock[header.number] {
                guard found.block.hash == header.hash else {
                    throw ChainMovedDuringRead(description: "block \(header.number) changed between eth_getBlockByNumber and eth_getLogs (reorg in progress); re-reading")
                }
                transfers = found.transfers
            }
            reports.append(.blockConnected(header.ref, transfers: transfers))
        }
        for chunk in stride(from: 0, to: reports.count, by: 64) {
            try await context.pipeline.submit(Array(reports[chunk..<min(chunk + 64, reports.count)]))
        }
        stats.update { $0.transfersReported += byBlock.values.reduce(0) { $0 + $1.transfers.count } }
        progress(range.upperBound)
    }

    /// Headers of `range`, fetched with bounded concurrency, in order.
    func blocks(_ range: ClosedRange<Int>) async throws -> [EVMBlock] {
        var out: [EVMBlock] = []
        let heights = Array(range)
        for start in stride(from: 0, to: heights.count, by: configuration.maxConcurrency) {
            let slice = heights[start..<min(start + configuration.maxConcurrency, heights.count)]
            let fetched = try await withThrowingTaskGroup(of: EVMBlock.self) { group in
                for h in slice {
                    group.addTask {
                        guard let b = try await client.block(at: h) else {
                            throw JSONRPCError.malformed("eth_getBlockByNumber(\(h)) returned null below the head")
                        }
                        return b
                    }
                }
                var got: [EVMBlock] = []
                for try await b in group { got.append(b) }
                return got.sorted { $0.number < $1.number }
            }
            out += fetched
        }
        return out
    }

    /// The chain changed between two reads of one poll (a reorg racing us): nothing is
    /// reported from that poll, and the next one walks back and re-reads.
    struct ChainMovedDuringRead: Error, CustomStringConvertible {
        var description: String
    }

    struct BlockTransfers {
        var block: BlockRef
        var transfers: [TransferSighting]
    }

    /// Transfers to handles on watched tokens, grouped by block (ascending); other logs are
    /// ignored (counted). Inconsistent replies throw `.malformed` before anything is reported.
    func matchedTransfers(_ logs: [EVMLog]) throws(JSONRPCError) -> [BlockTransfers] {
        do {
            return try matchTransfers(logs)
        } catch {
            stats.record(error)
            throw error
        }
    }

    private func matchTransfers(_ logs: [EVMLog]) throws(JSONRPCError) -> [BlockTransfers] {
        var blocks: [Int: BlockTransfers] = [:]
        var seen: Set<String> = []
        var ignored = 0
        for log in logs {
            guard !log.removed, let transfer = ERC20Transfer(log), let token = try? EVMAddress(transfer.token),
                let spec = tokens[token], let to = try? EVMAddress(transfer.to), let handle = handles[to], handle.asset == spec.asset
            else {
                ignored += 1
                continue
            }
            guard seen.insert("\(log.transactionHash)/\(log.logIndex)").inserted else {
                throw JSONRPCError.malformed("eth_getLogs returned log \(log.transactionHash)#\(log.logIndex) twice")
            }
            var entry = blocks[log.blockNumber] ?? BlockTransfers(block: BlockRef(height: log.blockNumber, hash: log.blockHash), transfers: [])
            guard entry.block.hash == log.blockHash else {
                throw JSONRPCError.malformed("eth_getLogs returned two hashes for block \(log.blockNumber)")
            }
            entry.transfers.append(TransferSighting(
                txHash: log.transactionHash, outputIndex: log.logIndex, address: handle.address, asset: spec.asset, amount: transfer.value))
            blocks[log.blockNumber] = entry
        }
        if ignored > 0 { stats.update { $0.ignoredLogs += ignored } }
        return blocks.keys.sorted().map { blocks[$0]! }
    }

    /// Records progress; logs it at most every 5 s during a catch-up.
    func progress(_ height: Int) {
        let now = context.clock.now()
        let line: EVMStats.CatchUp? = stats.counters.withLock { c in
            guard var run = c.catchUp else { return nil }
            run.height = height
            let due = now.timeIntervalSince(run.lastLog) >= 5
            if due { run.lastLog = now }
            c.catchUp = run
            return due ? run : nil
        }
        if let run = line {
            let rate = run.blocksPerSecond
            context.logger.info(
                "evm catch-up", metadata: [
                    "chain": "\(configuration.name)",
                    "block": "\(run.height)", "target": "\(run.target)", "blocks_per_s": "\(Int(rate))",
                    "eta_s": "\(rate > 0 ? Int(Double(run.target - run.height) / rate) : -1)",
                ])
        }
    }

    // MARK: - State

    public func health() async -> PluginHealth {
        let c = stats.snapshot
        if let mismatch = c.chainIdMismatch { return .unhealthy(mismatch) }
        if c.consecutiveFailures >= 5 { return .unhealthy("\(c.consecutiveFailures) polls failed in a row: \(c.lastError ?? "?")") }
        return .healthy
    }

    public func state() async -> JSONValue {
        let c = stats.snapshot
        let tip = await context.pipeline.tip
        var progress: JSONValue = .null
        if let run = c.catchUp {
            let elapsed = context.clock.now().timeIntervalSince(run.startedAt)
            let rate = elapsed > 0 ? Double(run.height - run.startHeight) / elapsed : 0
            progress = [
                "block": .int(Int64(run.height)), "target": .int(Int64(run.target)), "blocks_per_s": .double((rate * 10).rounded() / 10),
                "eta_s": rate > 0 ? .int(Int64(Double(run.target - run.height) / rate)) : .null,
            ]
        }
        let phase: String
        if c.chainIdVerified == nil {
            phase = c.chainIdMismatch == nil ? "starting" : "refused"
        } else if let tip, let target = c.target, target - tip.height > configuration.reorgWindow {
            phase = "catching_up"
        } else {
            phase = "following"
        }
        return [
            "rpc_url": .string(client.rpc.redactedURL), "rpc": client.pool.stateJSON(),
            "chain_id": .int(Int64(configuration.chainId)), "chain_id_verified": .optional(c.chainIdVerified),
            "chain_id_error": .optional(c.chainIdMismatch),
            "network": .string(configuration.network),
            "phase": .string(phase),
            "tokens": .array(configuration.tokens.map { ["address": .string($0.address.checksummed), "asset": .string($0.asset), "decimals": .int(Int64($0.decimals))] }),
            "handles": .array(context.handles.map(\.json)),
            "native_xdai": [100, 10200].contains(configuration.chainId) ? .string(Self.nativeXDAINote) : .null,
            "native_coin": .string(Self.nativeCoinNote),
            "confirmation_policy": configuration.useFinalized
                ? ["use_finalized": true, "rule": "blocks are reported only once at or below the finalized tag, and are confirmed on inclusion"]
                : ["use_finalized": false, "confirmations": .int(Int64(configuration.confirmations))],
            "cursor": tip.map { ["height": .int(Int64($0.height)), "hash": .string($0.hash)] } ?? .null,
            "head": .optional(c.head), "finalized": .optional(c.finalized), "target": .optional(c.target),
            "progress": progress, "rescan": rescanProgress.state.withLock { $0 },
            "get_logs_range": [
                "current": .int(Int64(c.currentRange)), "provider_max": .optional(c.learnedMaxRange),
                "splits": .int(Int64(c.rangeSplits)), "grows": .int(Int64(c.rangeGrows)),
            ],
            "requests": [
                "total": .int(Int64(client.pool.clients.reduce(0) { $0 + $1.requestTotal })),
                "by_method": .object(client.pool.requestCounts.mapValues { .int(Int64($0)) }),
                "retries": .int(Int64(c.retries)),
            ],
            "errors": [
                "malformed": .int(Int64(c.malformed)), "rpc": .int(Int64(c.rpcErrors)), "http": .int(Int64(c.httpErrors)),
                "transport": .int(Int64(c.transportErrors)), "failed_polls": .int(Int64(c.failedPolls)),
                "last": .optional(c.lastError), "last_at": c.lastErrorAt.map { .string(ISO8601DateFormatter().string(from: $0)) } ?? .null,
            ],
            "polls": .int(Int64(c.polls)), "reorgs": .int(Int64(c.reorgs)), "blocks_disconnected": .int(Int64(c.blocksDisconnected)),
            "transfers_reported": .int(Int64(c.transfersReported)), "ignored_logs": .int(Int64(c.ignoredLogs)),
            "empty_logs_contradicted_by_bloom": .int(Int64(c.emptyLogsContradictedByBloom)),
            "bloom_false_positives": .int(Int64(c.bloomFalsePositives)),
            "deep_bloom_check": [
                "enabled": .bool(configuration.deepBloomCheck), "headers_checked": .int(Int64(c.deepHeadersChecked)),
                "header_batch_size": .int(Int64(c.headerBatchSize)),
            ],
        ]
    }
}
