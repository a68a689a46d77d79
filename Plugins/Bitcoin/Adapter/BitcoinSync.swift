import Foundation
import Logging
import WatchCore

/// The Bitcoin adapter's engine: turns what bitcoind says (blocks, mempool transactions,
/// removals) into `ChainReport`s for the core. Catch-up walks back past forks; every step
/// is reconciled against RPC, so a lost ZMQ message never loses a deposit.
actor BitcoinSync {
    let configuration: BitcoinConfiguration
    let node: any BitcoinNodeClient
    let pipeline: ChainPipeline
    let watch: WatchScriptSet
    let assets: [String: String]
    let logger: Logger
    let clock: any WatchClock

    /// Every mempool txid already examined (so resyncs fetch only what is new).
    var knownMempool: Set<String> = []
    /// Watched transactions seen in the mempool and not mined: their spent outpoints.
    var watchedMempool: [String: [OutPoint]] = [:]
    /// Which watched transaction spends an outpoint: a different spender is a replacement.
    var spentBy: [OutPoint: String] = [:]
    /// Watched transactions bitcoind removed (`R`, or gone at resync), waiting for their replacement.
    var pendingRemoval: [String: Date] = [:]
    /// Watched transactions whose block was disconnected. bitcoind publishes `rawtx` for them,
    /// which is no proof they are back in the mempool: only `sequence` A, a resync or a block is.
    /// Until then the core's reorg grace decides (`reorged_out`), not an eviction.
    var reorgedTxids: Set<String> = []
    var progress = CatchUpProgress()
    var counters: [String: Int] = [:]
    var nodeTip: Int?
    var lastError: String?
    var consecutiveFailures = 0
    var lastMempoolSequence: UInt64?
    var nodeChain: String?
    /// What the reports not yet committed changed in the sets above, undone if their commit
    /// fails: a transaction whose report was lost must be examined again, not remembered.
    var uncommitted = UncommittedMempool()
    /// The pending history scan of handles added with `rescan_from`, if any.
    var rescan: BitcoinRescan?
    let onRescanFinished: @Sendable ([FundingHandle]) async -> Void
    let signals: ChainSignals
    /// The first resync after a start learns the whole mempool: not a sign that ZMQ missed it.
    var resyncedOnce = false

    init(configuration: BitcoinConfiguration, node: any BitcoinNodeClient, context: AdapterContext) {
        self.configuration = configuration
        self.node = node
        pipeline = context.pipeline
        logger = context.logger
        clock = context.clock
        var watch = WatchScriptSet(format: configuration.format, capacity: context.handles.count)
        var assets: [String: String] = [:]
        for (i, handle) in context.handles.enumerated() {
            // Addresses were validated with the config; a failure here is skipped, not fatal.
            _ = try? watch.insert(address: handle.address, tag: UInt32(i))
            assets[handle.address] = handle.asset
        }
        self.watch = watch
        self.assets = assets
        rescan = BitcoinRescan(handles: context.handles, format: configuration.format, at: context.clock.now())
        onRescanFinished = context.onRescanFinished
        signals = context.signals
    }

    func count(_ key: String, _ n: Int = 1) { counters[key, default: 0] += n }

    func recordSuccess() {
        consecutiveFailures = 0
        lastError = nil
    }

    func recordFailure(_ error: any Error) {
        consecutiveFailures += 1
        lastError = Excerpt.of("\(error)")
        count("rpc_errors")
    }

    // MARK: - Start and blocks

    /// Checks the node's network and sets the cursor on a fresh start.
    func start() async throws {
        let info = try await node.chainInfo()
        nodeChain = info.chain
        guard configuration.nodeChains.contains(info.chain) else {
            throw BitcoinNetworkMismatch(configured: configuration.network, section: configuration.section, nodeChain: info.chain)
        }
        nodeTip = info.blocks
        if info.initialBlockDownload {
            logger.warning("bitcoind is in initial block download; following it as it syncs")
        }
        if await pipeline.tip == nil {
            let height = min(configuration.startHeight ?? info.blocks, info.blocks)
            logger.info("fresh cursor", metadata: ["start_height": "\(height)"])
            guard let hash = try await node.blockHash(height: height) else { return }
            try await connect(try await node.rawBlock(hash: hash), height: height, expectedHash: hash)
        }
    }

    /// Brings the cursor to the node's tip: walks back past any fork, then connects block by block.
    func syncBlocks() async throws {
        guard var tip = await pipeline.tip else {
            try await start()
            return
        }
        // Walk back while our block at the cursor is no longer the node's.
        while try await node.blockHash(height: tip.height) != tip.hash {
            logger.notice("block left the node's chain; disconnecting", metadata: ["height": "\(tip.height)", "hash": "\(tip.hash)"])
            let inBlock = await pipeline.openTransfers.filter { $0.block?.hash == tip.hash }.map(\.key.txHash)
            inBlock.forEach(forget)
            try await submit([.blockDisconnected(tip)])
            reorgedTxids.formUnion(inBlock)
            count("blocks_disconnected")
            guard let previous = await pipeline.tip else {
                try await start()
                return
            }
            tip = previous
        }
        let info = try await node.chainInfo()
        nodeTip = info.blocks
        guard info.blocks > tip.height else { return }
        progress.begin(from: tip.height, to: info.blocks, at: clock.now())
        var height = tip.height + 1
        while height <= info.blocks, !Task.isCancelled {
            guard let hash = try await node.blockHash(height: height) else { break }
            do {
                try await connect(try await node.rawBlock(hash: hash), height: height, expectedHash: hash)
            } catch is TrackerError {
                count("resyncs")
                return  // the node reorganised under us: the next sync walks back
            }
            progress.height = height
            height += 1
            logProgress()
        }
    }

    private func logProgress() {
        let now = clock.now()
        guard progress.target - progress.height > 0, now.timeIntervalSince(progress.lastLogAt) >= 5 else { return }
        progress.lastLogAt = now
        logger.info(
            "catching up",
            metadata: [
                "height": "\(progress.height)", "target": "\(progress.target)",
                "blocks_per_s": "\(String(format: "%.1f", progress.blocksPerSecond(at: now)))",
                "eta_s": "\(progress.etaSeconds(at: now).map { String(Int($0)) } ?? "?")",
            ])
    }

    /// Scans a block and reports it, with any watched mempool transaction its inputs conflict with.
    func connect(_ raw: [UInt8], height: Int, expectedHash: String?) async throws {
        let result: BlockScanResult
        do {
            result = try BlockScanner.scan(block: raw, watching: watch, verifyMerkleRoot: true, collectSpentOutpoints: true, mweb: configuration.chain.mweb)
        } catch {
            count("parse_errors")
            throw BitcoinAdapterError.badBlock(height: height, reason: "\(error)")
        }
        let hash = result.blockHash.displayHex
        if let expectedHash, hash != expectedHash {
            count("parse_errors")
            throw BitcoinAdapterError.badBlock(height: height, reason: "bytes hash to \(hash), node said \(expectedHash)")
        }
        let mined = Set(result.matches.map(\.txid.displayHex))
        var reports: [ChainReport] = [
            .blockConnected(
                BlockRef(height: height, hash: hash, parentHash: result.header.previousBlockHash.displayHex),
                transfers: result.matches.map(sighting))
        ]
        for (i, outpoint) in result.spentOutpoints.enumerated() {
            if let watched = spentBy[outpoint], !mined.contains(watched) {
                let spender = result.spendingTxids.indices.contains(i) ? result.spendingTxids[i].displayHex : nil
                reports.append(.mempoolLeft(txHash: watched, why: .replaced(by: spender)))
                count("replaced")
                forget(watched)
            }
        }
        mined.forEach(forget)
        try await submit(reports)
        reorgedTxids.subtract(mined)
    }

    func sighting(_ m: OutputMatch) -> TransferSighting {
        TransferSighting(
            txHash: m.txid.displayHex, outputIndex: Int(m.vout), address: m.address, asset: assets[m.address] ?? configuration.asset,
            amount: Amount(UInt64(max(0, m.valueSats))))
    }

    private func forget(_ txid: String) {
        uncommitted.forgot(txid, outpoints: watchedMempool[txid], removalSince: pendingRemoval[txid])
        for outpoint in watchedMempool.removeValue(forKey: txid) ?? [] where spentBy[outpoint] == txid {
            spentBy[outpoint] = nil
        }
        pendingRemoval[txid] = nil
    }

    // MARK: - Mempool

    /// A transaction from ZMQ `rawtx` or fetched after `A`/a resync: reported and made durable.
    func handleTransaction(_ raw: [UInt8]) async throws {
        try await submit(transactionReports(raw))
    }

    /// What one transaction means for the watched handles: entries for outputs paying them, and
    /// replacements of watched mempool transactions whose inputs it spends. Callers batch these.
    func transactionReports(_ raw: [UInt8]) -> [ChainReport] {
        let result: TransactionScanResult
        do {
            result = try BlockScanner.scan(transaction: raw, watching: watch, mweb: configuration.chain.mweb)
        } catch {
            count("parse_errors")
            lastError = "malformed transaction from bitcoind: \(error)"
            return []
        }
        let txid = result.txid.displayHex
        if knownMempool.insert(txid).inserted { uncommitted.known.append(txid) }
        // Entries first: the core judges a replacement by what the replacing transaction pays.
        var reports: [ChainReport] = []
        var replaced: [String] = []
        for outpoint in result.spentOutpoints {
            if let watched = spentBy[outpoint], watched != txid, !replaced.contains(watched) { replaced.append(watched) }
        }
        if !result.matches.isEmpty, !reorgedTxids.contains(txid) {
            reports += result.matches.map { .mempoolEntered(sighting($0)) }
        }
        for watched in replaced {
            reports.append(.mempoolLeft(txHash: watched, why: .replaced(by: txid)))
            count("replaced")
            forget(watched)
        }
        if !result.matches.isEmpty, !reorgedTxids.contains(txid) {
            if watchedMempool[txid] == nil {
                watchedMempool[txid] = result.spentOutpoints
                for outpoint in result.spentOutpoints { spentBy[outpoint] = txid }
            }
            pendingRemoval[txid] = nil
        }
        return reports
    }

    /// Makes a batch of reports durable in one transaction; every path that reports goes
    /// through here. If the commit fails, what building the batch changed is undone: the
    /// transactions it examined are no longer known (the mempool resync that follows fetches
    /// them again) and the watched transactions it forgot (replaced, evicted, mined) are
    /// watched again, so a retry reports them again.
    func submit(_ reports: [ChainReport]) async throws {
        defer { uncommitted = UncommittedMempool() }
        guard !reports.isEmpty else { return }
        do {
            try await pipeline.submit(reports)
        } catch {
            knownMempool.subtract(uncommitted.known)
            for entry in uncommitted.forgotten.reversed() {
                guard let outpoints = entry.outpoints else { continue }
                watchedMempool[entry.txid] = outpoints
                for outpoint in outpoints { spentBy[outpoint] = entry.txid }
                pendingRemoval[entry.txid] = entry.removalSince
            }
            throw error
        }
    }

    /// `sequence` R: removed for a non-block reason. Replaced if a conflicting spend shows up
    /// within the grace, evicted otherwise.
    func handleRemoved(txid: String) {
        if watchedMempool[txid] != nil, pendingRemoval[txid] == nil { pendingRemoval[txid] = clock.now() }
    }

    /// `sequence` A: the reports of the transaction, fetched unless rawtx already brings it
    /// (the caller batches them).
    func addedReports(txid: String, fetch: Bool) async throws -> [ChainReport] {
        if reorgedTxids.remove(txid) != nil {  // really back in the mempool after a reorg
            return try await node.rawTransaction(txid: txid).map(transactionReports) ?? []
        }
        guard fetch, !knownMempool.contains(txid) else { return [] }
        return try await node.rawTransaction(txid: txid).map(transactionReports) ?? []
    }

    /// Checks the mempool sequence of `sequence` A/R messages; a jump without a block in
    /// between means lost messages.
    func recordMempoolSequence(_ sequence: UInt64?, blockEvent: Bool) -> Bool {
        if blockEvent {
            lastMempoolSequence = nil
            return false
        }
        guard let sequence else { return false }
        defer { lastMempoolSequence = sequence }
        guard let last = lastMempoolSequence, sequence != last + 1, sequence > last else { return false }
        count("mempool_sequence_gaps")
        return true
    }

    /// Reconciles with `getrawmempool false true`: fetches what is new, notices what vanished.
    func resyncMempool() async throws {
        let (txids, sequence) = try await node.mempool()
        count("mempool_resyncs")
        let current = Set(txids)
        // Transactions ZMQ did not bring: the mempool moved without a notification.
        if resyncedOnce, !current.isSubset(of: knownMempool) { signals.mempoolChanged(at: clock.now()) }
        resyncedOnce = true
        let backAfterReorg = reorgedTxids.intersection(current)
        reorgedTxids.subtract(backAfterReorg)
        for txid in txids where !knownMempool.contains(txid) || backAfterReorg.contains(txid) {
            if Task.isCancelled { return }
            if let raw = try await node.rawTransaction(txid: txid) { try await handleTransaction(raw) }
        }
        knownMempool = current
        let now = clock.now()
        for txid in watchedMempool.keys where !current.contains(txid) && pendingRemoval[txid] == nil {
            pendingRemoval[txid] = now
        }
        lastMempoolSequence = sequence > 0 ? sequence - 1 : nil
    }

    /// Removed transactions whose grace ran out (after a last block sync, in case they were
    /// mined) are evicted.
    func expireRemovals() async throws {
        guard !pendingRemoval.isEmpty else { return }
        let grace = configuration.replacementGrace
        let cutoff = clock.now().addingTimeInterval(-(Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18))
        guard pendingRemoval.values.contains(where: { $0 <= cutoff }) else { return }
        try await syncBlocks()
        var reports: [ChainReport] = []
        for (txid, at) in pendingRemoval where at <= cutoff {
            reports.append(.mempoolLeft(txHash: txid, why: .evicted))
            forget(txid)
        }
        try await submit(reports)
        count("evicted", reports.count)
    }

    var hasPendingRemovals: Bool { !pendingRemoval.isEmpty }

    func state() async -> JSONValue {
        let tip = await pipeline.tip
        return [
            "network": .string(configuration.network), "node_chain": .optional(nodeChain),
            "cursor_height": .optional(tip?.height), "cursor_hash": .optional(tip?.hash),
            "node_tip_height": .optional(nodeTip), "catch_up": progress.json(at: clock.now()), "rescan": rescan?.json ?? .null,
            "mempool": [
                "known": .int(Int64(knownMempool.count)), "watched": .int(Int64(watchedMempool.count)),
                "pending_removals": .int(Int64(pendingRemoval.count)),
            ],
            "counters": .object(counters.mapValues { .int(Int64($0)) }),
            "last_error": .optional(lastError), "consecutive_failures": .int(Int64(consecutiveFailures)),
        ]
    }
}

public enum BitcoinAdapterError: Error, CustomStringConvertible {
    case badBlock(height: Int, reason: String)

    public var description: String {
        switch self {
        case .badBlock(let height, let reason): "block at height \(height) from bitcoind rejected: \(reason)"
        }
    }
}

/// The changes to `BitcoinSync`'s mempool sets made while building reports not yet committed.
struct UncommittedMempool {
    /// Newly known transactions.
    var known: [String] = []
    /// Transactions forgotten, with what they were watched with (nil outpoints: not watched).
    var forgotten: [(txid: String, outpoints: [OutPoint]?, removalSince: Date?)] = []

    mutating func forgot(_ txid: String, outpoints: [OutPoint]?, removalSince: Date?) {
        forgotten.append((txid, outpoints, removalSince))
    }
}
