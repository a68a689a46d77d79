import Foundation
import JSONRPCClient
import Logging
import Metrics
import Synchronization
import WatchCore

/// Watches BTC funding handles through bitcoind: ZMQ (`sequence`, `rawtx`, `rawblock`) for
/// low latency, JSON-RPC/REST for catch-up and repair. Without ZMQ endpoints it polls RPC.
public struct BitcoinAdapter: ChainAdapter {
    public static let kind = "bitcoin"

    /// Reports committed in one transaction, at most. A backlog drained in one wake-up is
    /// written in commits of this size, one after the other: a commit's time (and so the wait of
    /// its first row for the relay) stays bounded however far behind the adapter is, instead of
    /// one transaction growing with the backlog and slowing the next drain in turn.
    static let maxReportsPerCommit = 1_000
    public typealias Configuration = BitcoinConfiguration

    let configuration: BitcoinConfiguration
    let context: AdapterContext
    let sync: BitcoinSync
    let inbox = ZMQInbox()
    let wake = ChangeSignal()

    public init(configuration: BitcoinConfiguration, context: AdapterContext) throws {
        try self.init(configuration: configuration, context: context, node: RPCBitcoinNode(configuration: configuration))
    }

    /// With an explicit node client (tests, tools).
    public init(configuration: BitcoinConfiguration, context: AdapterContext, node: any BitcoinNodeClient) throws {
        self.configuration = configuration
        self.context = context
        sync = BitcoinSync(configuration: configuration, node: node, context: context)
    }

    public func state() async -> JSONValue {
        guard case .object(var fields) = await sync.state() else { return .null }
        fields["rpc_url"] = .string(URLRedaction.redact(configuration.rpcURL))
        fields["rest"] = .bool(configuration.rest)
        fields["ingest"] = configuration.zmqTopics.isEmpty
            ? .string("polling RPC every \(configuration.pollInterval) (no ZMQ endpoints configured)")
            : .string("zmq: \(configuration.zmqTopics.joined(separator: ", ")), RPC for catch-up and repair")
        let zmq = inbox.stats
        fields["zmq"] = [
            "received": .int(Int64(zmq.received)), "gaps": .int(Int64(zmq.gaps)), "lost_messages": .int(Int64(zmq.lost)),
            "malformed": .int(Int64(zmq.malformed)), "overflowed": .int(Int64(zmq.overflowed + zmq.subscriberDropped)),
        ]
        fields["handles"] = .array(context.handles.map(\.json))
        return .object(fields)
    }

    public func health() async -> PluginHealth {
        let failures = await sync.consecutiveFailures
        if failures >= 3 { return .unhealthy("node unreachable or failing: \(await sync.lastError ?? "unknown")") }
        return .healthy
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            if !configuration.zmqTopics.isEmpty {
                group.addTask { try await self.listenZMQ() }
            }
            group.addTask { try await self.work() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Receives ZMQ messages, detects gaps, and queues them for the worker.
    func listenZMQ() async throws {
        var endpoints: [(topic: String, endpoint: String)] = []
        if let e = configuration.zmqSequence { endpoints.append(("sequence", e)) }
        if let e = configuration.zmqRawTx { endpoints.append(("rawtx", e)) }
        if let e = configuration.zmqRawBlock { endpoints.append(("rawblock", e)) }
        let subscriber = ZMQSubscriber(endpoints: endpoints)
        let stream = try subscriber.messages()
        defer { subscriber.stop() }
        var gaps = ZMQGapDetector()
        context.signals.listening(since: context.clock.now())
        for await batch in stream {
            subscriber.taken(batch)
            if Task.isCancelled { break }
            context.signals.pushMessage(at: context.clock.now())
            for frames in batch {
                do {
                    let (notification, sequence) = try ZMQNotification.parse(frames: frames)
                    let lost = gaps.record(topic: notification.topic, sequence: sequence)
                    if lost > 0 {
                        Counter(label: "unrip_bitcoin_zmq_lost_messages_total", dimensions: [("chain", configuration.name), ("topic", notification.topic)]).increment(by: Int(lost))
                        context.logger.warning("ZMQ messages lost; repairing from RPC", metadata: ["topic": "\(notification.topic)", "lost": "\(lost)"])
                    }
                    inbox.push(notification, lost: lost)
                } catch {
                    Counter(label: "unrip_bitcoin_zmq_malformed_total", dimensions: [("chain", configuration.name)]).increment()
                    inbox.malformed(reason: "\(error)")
                }
            }
            inbox.setSubscriberMalformed(subscriber.malformed)
            inbox.setSubscriberDropped(subscriber.dropped)
            wake.signal()
        }
    }

    /// The single worker: all chain work happens here, in order.
    func work() async throws {
        var backoff = Duration.milliseconds(250)
        let clock = context.clock
        var schedule = SyncSchedule()
        while !Task.isCancelled {
            let generation = wake.generation
            do {
                if schedule.lastMempoolResync == nil { try await sync.start() }
                let rescanning = try await workOnce(&schedule)
                backoff = .milliseconds(250)
                if rescanning { continue }  // more history to scan: next turn at once
            } catch let error as BitcoinNetworkMismatch {
                throw error
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                await sync.recordFailure(error)
                context.logger.warning("utxo sync failed; retrying", metadata: ["chain": "\(configuration.name)", "error": "\(error)", "backoff": "\(backoff)"])
                try? await clock.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(30))
                schedule.needsMempoolResync = true
                continue
            }
            let wait = await sync.hasPendingRemovals ? min(configuration.pollInterval, configuration.replacementGrace) : configuration.pollInterval
            await wake.wait(after: generation, atMost: wait, clock: clock)
        }
    }

    /// When the worker last synced blocks and the mempool, and whether the mempool must be re-read.
    struct SyncSchedule {
        var lastMempoolResync: Date?
        var lastBlockSync: Date?
        var needsMempoolResync = true

        func due(_ last: Date?, every interval: Duration, now: Date) -> Bool {
            last.map { now.timeIntervalSince($0) >= interval.timeInterval } ?? true
        }
    }

    /// One turn: the inbox, then blocks and the mempool when due, removals, a rescan step.
    /// True while a rescan has more history to scan.
    private func workOnce(_ schedule: inout SyncSchedule) async throws -> Bool {
        let clock = context.clock
        // Blocks are re-checked on block events, and at least every poll interval.
        var needsBlockSync = schedule.due(schedule.lastBlockSync, every: configuration.pollInterval, now: clock.now())
        if try await drainInbox(&schedule) { needsBlockSync = true }
        if needsBlockSync {
            try await sync.syncBlocks()
            schedule.lastBlockSync = clock.now()
        }
        let interval = configuration.zmqTopics.isEmpty ? configuration.pollInterval : configuration.mempoolResyncInterval
        if schedule.needsMempoolResync || schedule.due(schedule.lastMempoolResync, every: interval, now: clock.now()) {
            try await sync.resyncMempool()
            schedule.lastMempoolResync = clock.now()
            schedule.needsMempoolResync = false
        }
        try await sync.expireRemovals()
        let rescanning = try await sync.rescanStep()
        await sync.recordSuccess()
        return rescanning
    }

    /// Submits what the ZMQ inbox holds, in order. Transactions drained in one wake-up are
    /// committed in batches of at most `maxReportsPerCommit` reports, each one transaction in
    /// PostgreSQL. True when a block event (or a lost message) calls for a block sync.
    private func drainInbox(_ schedule: inout SyncSchedule) async throws -> Bool {
        var needsBlockSync = false
        var batch: [ChainReport] = []
        let (items, dropped) = inbox.drain()
        if dropped > 0 {  // the queue was full: what the dropped ones said comes from RPC
            schedule.needsMempoolResync = true
            needsBlockSync = true
        }
        for item in items {
            if batch.count >= Self.maxReportsPerCommit {  // a backlog goes out in bounded commits
                try await sync.submit(batch)
                batch = []
            }
            if item.lost > 0 {  // a lost message may have been a block notice, too
                schedule.needsMempoolResync = true
                needsBlockSync = true
            }
            if case .rawTx(let raw) = item.notification {
                batch += await sync.transactionReports(raw)
                continue
            }
            if item.needsOrdering {  // a removal or block event must follow the entries before it
                try await sync.submit(batch)
                batch = []
            }
            guard case .sequence(let hash, let label, let mempoolSequence) = item.notification else {
                if case .rawBlock = item.notification { needsBlockSync = true }
                if case .hashBlock = item.notification { needsBlockSync = true }
                continue
            }
            let blockEvent = label == .blockConnected || label == .blockDisconnected
            if await sync.recordMempoolSequence(mempoolSequence, blockEvent: blockEvent) { schedule.needsMempoolResync = true }
            switch label {
            case .blockConnected, .blockDisconnected: needsBlockSync = true
            case .txAdded: batch += try await sync.addedReports(txid: hash, fetch: configuration.zmqRawTx == nil)
            case .txRemoved: await sync.handleRemoved(txid: hash)
            }
        }
        try await sync.submit(batch)
        return needsBlockSync
    }
}

/// Notifications waiting for the worker, and ZMQ counters.
final class ZMQInbox: Sendable {
    struct Item: Sendable {
        var notification: ZMQNotification
        var lost: UInt32

        /// Everything but `sequence` A (and hash-only tx notices) depends on the order of earlier entries.
        var needsOrdering: Bool {
            switch notification {
            case .rawTx, .hashTx: false
            case .sequence(_, let label, _): label != .txAdded
            case .rawBlock, .hashBlock: true
            }
        }
    }
    struct Stats: Sendable {
        var received = 0
        var gaps = 0
        var lost = 0
        var malformed = 0
        var subscriberMalformed = 0
        /// Notifications dropped because the queue held `maxBytes` already (repaired by a resync).
        var overflowed = 0
        var subscriberDropped = 0
    }
    private struct Queue {
        var items: [Item] = []
        var bytes = 0
        /// Dropped since the last drain: the worker must resync what they would have said.
        var droppedSinceDrain = 0
    }
    private let state = Mutex<(Queue, Stats)>((Queue(), Stats()))

    /// What the queue may hold, in bytes of raw transactions and blocks, before it drops.
    static let maxBytes = 64 << 20

    func push(_ notification: ZMQNotification, lost: UInt32) {
        let size = notification.byteCount
        state.withLock { s in
            s.1.received += 1
            if lost > 0 {
                s.1.gaps += 1
                s.1.lost += Int(lost)
            }
            guard s.0.bytes + size <= Self.maxBytes || s.0.items.isEmpty else {
                s.0.droppedSinceDrain += 1
                s.1.overflowed += 1
                return
            }
            s.0.items.append(Item(notification: notification, lost: lost))
            s.0.bytes += size
        }
    }

    func malformed(reason: String) { state.withLock { $0.1.malformed += 1 } }
    func setSubscriberMalformed(_ n: Int) { state.withLock { $0.1.subscriberMalformed = n } }
    /// Everything queued, and how many notifications were dropped since the last drain.
    func drain() -> (items: [Item], dropped: Int) {
        state.withLock { s in
            defer { s.0 = Queue() }
            return (s.0.items, s.0.droppedSinceDrain)
        }
    }
    func setSubscriberDropped(_ n: Int) { state.withLock { $0.1.subscriberDropped = n } }
    var stats: Stats {
        state.withLock { s in
            var stats = s.1
            stats.malformed += stats.subscriberMalformed
            return stats
        }
    }
}
