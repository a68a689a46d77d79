import Logging
import WatchCore

/// A complete, small polling adapter over a `TestChainNode`: the shape a real adapter follows
/// (catch up from the cursor, walk back on reorg, follow the mempool, never lose a block).
/// Config section `[testchain]`: `enabled`, `node` (registry name), `network`,
/// `confirmations`, `poll_interval_ms`, `handles = [{ address, asset, label }]`.
public struct TestChainAdapter: ChainAdapter {
    public static let kind = "testchain"

    public struct Configuration: AdapterConfiguration {
        public var node: String
        public var network: String
        public var handles: [FundingHandle]
        public var policy: ChainPolicy
        public var pollInterval: Duration

        public init(section: ConfigSection) {
            node = section.string("node", default: "default") ?? "default"
            network = section.string("network", default: "devnet") ?? "devnet"
            policy = ChainPolicy(
                confirmations: section.int("confirmations", default: 3, range: 1...1000),
                reorgGraceBlocks: section.int("reorg_grace_blocks", default: 3, range: 0...1000))
            pollInterval = .milliseconds(section.int("poll_interval_ms", default: 20, range: 1...60_000))
            var handles: [FundingHandle] = []
            for h in section.tables("handles") {
                let address = h.string("address", required: true) ?? ""
                if !address.isEmpty, !address.allSatisfy({ $0.isLetter || $0.isNumber }) {
                    h.problem("address", "\"\(address)\"", "a testchain address is letters and digits only")
                }
                handles.append(FundingHandle(
                    chain: section.pluginName, network: network, asset: h.string("asset", default: "TST") ?? "TST",
                    address: address, label: h.string("label", default: "") ?? ""))
                h.finish()
            }
            if handles.isEmpty { section.problem("handles", nil, "at least one handle is required, e.g. handles = [{ address = \"abc\" }]") }
            self.handles = handles
        }
    }

    let configuration: Configuration
    let context: AdapterContext
    let node: TestChainNode
    let progress = Progress()

    actor Progress {
        var mempoolSeen = 0
        var reorgs = 0
        var errors = 0
        func setMempool(_ n: Int) { mempoolSeen = n }
        func reorged() { reorgs += 1 }
        func failed() { errors += 1 }
    }

    public init(configuration: Configuration, context: AdapterContext) throws {
        self.configuration = configuration
        self.context = context
        node = TestChainNode.named(configuration.node)
    }

    public func state() async -> JSONValue {
        let tip = await context.pipeline.tip
        return [
            "node": .string(configuration.node), "cursor_height": .optional(tip?.height),
            "cursor_hash": .optional(tip?.hash), "mempool_events_seen": .int(Int64(await progress.mempoolSeen)),
            "reorgs": .int(Int64(await progress.reorgs)), "errors": .int(Int64(await progress.errors)),
            "handles": .array(configuration.handles.map(\.json)),
        ]
    }

    public func run() async throws {
        let watched = Set(configuration.handles.map(\.address))
        while !Task.isCancelled {
            let generation = node.signal.generation
            do {
                try await syncBlocks(watched)
                try await syncMempool(watched)
            } catch is TestChainNode.Down {
                await progress.failed()
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.node.signal.wait(after: generation) }
                group.addTask { try await self.context.clock.sleep(for: self.configuration.pollInterval) }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// From the cursor to the node's tip, walking back past any fork first.
    func syncBlocks(_ watched: Set<String>) async throws {
        let pipeline = context.pipeline
        let nodeTip = try node.tip()
        guard var cursor = await pipeline.tip else {
            try await connect(height: nodeTip.height, watched)
            return
        }
        // Walk back while our block at the cursor is not the node's.
        while try node.block(at: cursor.height)?.ref.hash != cursor.hash {
            try await pipeline.submit([.blockDisconnected(cursor)])
            await progress.reorged()
            guard let previous = await pipeline.tip else { break }
            cursor = previous
        }
        var height = cursor.height + 1
        while height <= nodeTip.height, !Task.isCancelled {
            try await connect(height: height, watched)
            height += 1
        }
    }

    func connect(height: Int, _ watched: Set<String>) async throws {
        guard let block = try node.block(at: height) else { return }
        try await context.pipeline.submit([
            .blockConnected(block.ref, transfers: block.transfers.filter { watched.contains($0.address) })
        ])
    }

    func syncMempool(_ watched: Set<String>) async throws {
        let log = try node.mempoolLog()
        var reports: [ChainReport] = []
        for event in log.dropFirst(await progress.mempoolSeen) {
            switch event {
            case .added(let s) where watched.contains(s.address): reports.append(.mempoolEntered(s))
            case .removed(let tx, let why): reports.append(.mempoolLeft(txHash: tx, why: why))
            default: break
            }
        }
        if !reports.isEmpty { try await context.pipeline.submit(reports) }
        await progress.setMempool(log.count)
    }
}
