import Synchronization
import WatchCore

/// An in-process chain node for the test adapter: blocks with transfers, a mempool, reorgs,
/// replacement, eviction and outages. Found by name so a config file can point at it.
public final class TestChainNode: Sendable {
    public struct Block: Sendable {
        public var ref: BlockRef
        public var transfers: [TransferSighting]
    }
    public enum MempoolEvent: Sendable {
        case added(TransferSighting)
        case removed(txHash: String, why: MempoolExit)
    }
    struct State {
        var chain = ScriptedChain(asset: "TST")
        var blocks: [Block] = []
        var mempool: [TransferSighting] = []
        var log: [MempoolEvent] = []
        var down = false
        var txCounter = 0
    }
    let state = Mutex(State())
    public let signal = ChangeSignal()
    public let name: String

    private static let registry = Mutex<[String: TestChainNode]>([:])

    /// The node registered under `name`, created on first use.
    public static func named(_ name: String) -> TestChainNode {
        registry.withLock { r in
            if let node = r[name] { return node }
            let node = TestChainNode(name: name)
            r[name] = node
            return node
        }
    }

    init(name: String) {
        self.name = name
        state.withLock { s in s.blocks = [Block(ref: s.chain.tip, transfers: [])] }
    }

    public struct Down: Error, CustomStringConvertible {
        public var description: String { "test node is down" }
    }

    private func read<T>(_ body: (State) -> T) throws -> T {
        try state.withLock { s in
            if s.down { throw Down() }
            return body(s)
        }
    }

    private func change(_ body: (inout State) -> Void) {
        state.withLock { body(&$0) }
        signal.signal()
    }

    public func tip() throws -> BlockRef { try read { $0.blocks.last!.ref } }
    public func block(at height: Int) throws -> Block? {
        try read { s in s.blocks.first { $0.ref.height == height } }
    }
    public func mempoolLog() throws -> [MempoolEvent] { try read { $0.log } }
    public var mempoolTxs: [String] { state.withLock { $0.mempool.map(\.txHash) } }

    /// Sends a payment to `address`; it enters the mempool. Returns the tx hash.
    @discardableResult
    public func pay(_ address: String, amount: UInt64) -> String {
        var tx = ""
        change { s in
            s.txCounter += 1
            tx = String(format: "%064x", s.txCounter)
            let sighting = s.chain.transfer(tx, 0, to: address, amount: amount)
            s.mempool.append(sighting)
            s.log.append(.added(sighting))
        }
        return tx
    }

    /// Mines `count` blocks; the first takes the whole mempool.
    public func mine(_ count: Int = 1) {
        change { s in
            for i in 0..<count {
                let txs = i == 0 ? s.mempool : []
                if i == 0 { s.mempool = [] }
                guard case .blockConnected(let ref, let transfers) = s.chain.mine(txs) else { continue }
                s.blocks.append(Block(ref: ref, transfers: transfers))
            }
        }
    }

    /// Replaces the last `depth` blocks by `depth + 1` empty ones. With `returnToMempool`, the
    /// dropped transfers go back to the mempool (as bitcoind does); otherwise they vanish.
    public func reorg(depth: Int, returnToMempool: Bool) {
        change { s in
            let dropped = s.blocks.suffix(depth).flatMap(\.transfers)
            s.blocks.removeLast(depth)
            for report in s.chain.reorg(depth: depth) {
                if case .blockConnected(let ref, _) = report { s.blocks.append(Block(ref: ref, transfers: [])) }
            }
            if returnToMempool {
                s.mempool += dropped
                s.log += dropped.map { .added($0) }
            }
        }
    }

    public func replace(_ tx: String, by replacement: String?) {
        change { s in
            s.mempool.removeAll { $0.txHash == tx }
            s.log.append(.removed(txHash: tx, why: .replaced(by: replacement)))
        }
    }

    public func evict(_ tx: String) {
        change { s in
            s.mempool.removeAll { $0.txHash == tx }
            s.log.append(.removed(txHash: tx, why: .evicted))
        }
    }

    public func setDown(_ down: Bool) { change { $0.down = down } }
}

extension TestChainNode: ConformanceNode {
    public var supportsMempool: Bool { true }
    public func send(to address: String, amount: UInt64) async throws -> String { pay(address, amount: amount) }
    public func mineBlocks(_ count: Int) async throws { mine(count) }
    public func reorgBlocks(depth: Int) async throws { reorg(depth: depth, returnToMempool: false) }
}
