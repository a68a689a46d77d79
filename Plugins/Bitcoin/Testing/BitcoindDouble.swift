import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import WatchCore
import WatchTesting

/// A bitcoind double that speaks bitcoind's real interfaces: JSON-RPC (1.0 and 2.0 reply shapes,
/// error objects and HTTP statuses, basic auth with user/password or cookie), REST
/// (`/rest/block/<hash>.bin`, chaininfo, blockhashbyheight) and ZMQ PUB (rawtx, rawblock,
/// hashblock, hashtx, sequence) with bitcoind's framing and notification order. Tests drive it:
/// pay, mine, reorg, replace, evict, drop ZMQ messages, go down and come back.
public final class BitcoindDouble: Sendable {
    public let chainName: String
    public let user = "unrip"
    public let password: String
    /// `__cookie__:<hex>` written here, as bitcoind does.
    public let cookieFile: String
    let zmq: ZMQPublisher
    let state: Mutex<BitcoindChain>
    let controls = Mutex<Controls>(Controls())
    let server = Mutex<ServerHandle?>(nil)
    let port: Int

    struct Controls {
        var down = false
        var warmingUp = false
        var rest = true
        var requests: [String: Int] = [:]
        var failNext: [String: Int] = [:]
        /// Method → bytes of padding added to its (object) result: a valid but oversized reply.
        var padding: [String: Int] = [:]
        /// While set, every RPC reply is a hostile one.
        var hostile: HostileReplies?
    }

    struct ServerHandle: Sendable {
        let task: Task<Void, Error>
        let group: ServiceGroup
    }

    /// Starts the double on free loopback ports.
    public static func start(chain: String = "regtest") async throws -> BitcoindDouble {
        let double = BitcoindDouble(chain: chain, port: try freePort())
        try await double.startServer()
        return double
    }

    init(chain: String, port: Int) {
        chainName = chain
        self.port = port
        password = UUID().uuidString
        cookieFile = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-cookie-\(UUID().uuidString)").path
        let cookieSecret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try? "__cookie__:\(cookieSecret)".write(toFile: cookieFile, atomically: true, encoding: .utf8)
        zmq = ZMQPublisher()
        state = Mutex(BitcoindChain())
    }

    deinit { zmq.close() }

    public var rpcURL: String { "http://127.0.0.1:\(port)" }
    public var zmqEndpoints: [String: String] { zmq.endpoints }
    public var zmqStats: (sent: Int, dropped: Int) { zmq.stats }
    public var tip: DoubleBlock { state.withLock { $0.tip } }
    public var mempoolTxids: [String] { state.withLock { $0.mempool.map(\.txid) } }
    public func block(at height: Int) -> DoubleBlock? { state.withLock { $0.blocks.indices.contains(height) ? $0.blocks[height] : nil } }
    public func requests(_ method: String) -> Int { controls.withLock { $0.requests[method, default: 0] } }

    // MARK: - Driving the double

    /// A payment of `sats` to `script`, spending a fresh outpoint (or `spending`), accepted to the mempool.
    @discardableResult
    public func pay(script: [UInt8], sats: Int64, spending: DoubleTransaction.Input? = nil, change: Int64 = 0) -> DoubleTransaction {
        var outputs: [(value: Int64, script: [UInt8])] = [(sats, script)]
        if change > 0 { outputs.append((change, [0x00, 0x14] + [UInt8](repeating: 0xcc, count: 20))) }
        let tx = state.withLock { s in
            DoubleTransaction(inputs: [spending ?? s.fundingInput()], outputs: outputs)
        }
        accept(tx)
        return tx
    }

    public func accept(_ tx: DoubleTransaction) {
        let notes = state.withLock { $0.accept(tx) }
        publish(notes)
    }

    /// Mines `count` blocks; the first takes the whole mempool (or only `only`). With
    /// `staleBy`, their timestamps are that many seconds in the past.
    public func mine(_ count: Int = 1, only: [DoubleTransaction]? = nil, staleBy: UInt32 = 0) {
        var notes: [BitcoindChain.Note] = []
        state.withLock { s in
            s.staleBy = staleBy
            defer { s.staleBy = 0 }
            for i in 0..<count {
                notes += s.mine(i == 0 ? (only ?? s.mempool) : [])
            }
        }
        publish(notes)
    }

    /// Block timestamps from this clock from now on (a test's clock; wall-clock by default).
    public func setClock(_ clock: @escaping @Sendable () -> Date) { state.withLock { $0.clock = clock } }

    /// getblockchaininfo reports `initialblockdownload` while set.
    public func setInitialBlockDownload(_ on: Bool) { state.withLock { $0.initialBlockDownload = on } }

    /// getblockchaininfo reports this many headers beyond the node's blocks.
    public func setHeadersAhead(_ n: Int) { state.withLock { $0.headersAhead = max(0, n) } }

    /// Replaces the last `depth` blocks by `depth + 1` new ones. With `reinclude`, the dropped
    /// transactions return to the mempool and go into the first new block; otherwise they vanish.
    public func reorg(depth: Int, reinclude: Bool) {
        var all: [BitcoindChain.Note] = []
        state.withLock { s in
            var dropped: [DoubleTransaction] = []
            for _ in 0..<depth {
                let (block, n) = s.disconnectTip()
                all += n
                dropped = Array(block.transactions.dropFirst()) + dropped
            }
            if reinclude {
                for tx in dropped { all += s.accept(tx) }
            }
            for i in 0...depth {
                all += s.mine(i == 0 && reinclude ? dropped : [], publishTip: i == depth)
            }
        }
        publish(all)
    }

    /// A one-block reorg that swaps `mined` (in the tip) for `other` (a conflicting spend):
    /// the tip is disconnected (its transactions back to the mempool), a block with `other`
    /// takes its place (removing `mined` from the mempool as a conflict, `R`), and one more
    /// block makes the new chain the longer one.
    public func reorgReplacing(_ mined: DoubleTransaction, with other: DoubleTransaction) {
        var all: [BitcoindChain.Note] = []
        state.withLock { s in
            let (block, notes) = s.disconnectTip()
            all += notes
            let rest = block.transactions.dropFirst()
            for tx in rest { all += s.accept(tx) }
            all += s.mine([other] + rest.filter { $0.txid != mined.txid }, publishTip: false)
            all += s.mine([])
        }
        publish(all)
    }

    /// `invalidateblock`: the block `hash` and every block above it leave the chain, their
    /// transactions back in the mempool (what bitcoind and litecoind do); `mine` then builds the
    /// new branch (with new coinbases, so the invalidated block never returns).
    public func invalidate(_ hash: String) {
        var all: [BitcoindChain.Note] = []
        state.withLock { s in
            guard let index = s.blocks.firstIndex(where: { $0.hash == hash }), index > 0 else { return }
            var dropped: [DoubleTransaction] = []
            while s.blocks.count > index {
                let (block, notes) = s.disconnectTip()
                all += notes
                dropped = Array(block.transactions.dropFirst()) + dropped
            }
            for tx in dropped { all += s.accept(tx) }
        }
        publish(all)
    }

    /// The mempool's transaction `txid`, if there.
    public func mempoolTransaction(_ txid: String) -> DoubleTransaction? { state.withLock { s in s.mempool.first { $0.txid == txid } } }

    /// RBF: `replacement` (spending the same inputs) replaces `txid` in the mempool.
    public func replace(_ txid: String, with replacement: DoubleTransaction) {
        let notes = state.withLock { s in s.remove(txid) + s.accept(replacement) }
        publish(notes)
    }

    /// The mempool drops `txid` (expiry, size limit).
    public func evict(_ txid: String) {
        let notes = state.withLock { $0.remove(txid) }
        publish(notes)
    }

    /// The next `count` ZMQ messages are lost (their sequence numbers still advance).
    public func dropNextZMQ(_ count: Int) { zmq.dropNext(count) }
    /// Publishes every ZMQ message again (after `dropNextZMQ`).
    public func stopDroppingZMQ() { zmq.stopDropping() }
    /// Publishes `body` as one `topic` message as it is (a hostile or broken node: any size, any bytes).
    public func publishZMQ(_ topic: String, _ body: [UInt8]) { zmq.publish(topic, body) }

    /// Takes the RPC/REST server (and ZMQ publishing) down, or brings it back on the same port.
    public func setDown(_ down: Bool) async throws {
        controls.withLock { $0.down = down }
        if down {
            // A graceful shutdown, never a cancelled task: cancelling a NIO server while a client
            // connects traps ("Deinited NIOAsyncWriter without calling finish()"), which ended a
            // full test run once when the adapter polled just as the double went down.
            let handle = server.withLock { s in defer { s = nil }; return s }
            await handle?.group.triggerGracefulShutdown()
            _ = await handle?.task.result
        } else {
            try await startServer()
        }
    }

    public func setWarmingUp(_ on: Bool) { controls.withLock { $0.warmingUp = on } }
    public func setREST(_ on: Bool) { controls.withLock { $0.rest = on } }
    /// Makes `method`'s replies valid JSON padded by `bytes` (nil stops it): what a hostile or
    /// broken node could send.
    public func padReplies(_ method: String, bytes: Int?) { controls.withLock { $0.padding[method] = bytes } }
    /// Answers every RPC with a hostile reply (wrong types, junk, truncation, …) until nil.
    public func setHostile(seed: UInt64?) { controls.withLock { $0.hostile = seed.map(HostileReplies.init(seed:)) } }

    private func publish(_ notes: [BitcoindChain.Note]) {
        guard !controls.withLock({ $0.down }) else { return }
        for note in notes {
            switch note {
            case .rawtx(let tx):
                zmq.publish("rawtx", tx.raw)
                zmq.publish("hashtx", DoubleSerialization.internalBytes(displayHex: tx.txid).reversed())
            case .sequenceTx(let txid, let label, let sequence):
                var body = Array(DoubleSerialization.internalBytes(displayHex: txid).reversed()) + [label]
                DoubleSerialization.le(sequence, 8, into: &body)
                zmq.publish("sequence", body)
            case .sequenceBlock(let hash, let label):
                zmq.publish("sequence", Array(DoubleSerialization.internalBytes(displayHex: hash).reversed()) + [label])
            case .block(let block):
                zmq.publish("rawblock", block.raw)
                zmq.publish("hashblock", DoubleSerialization.internalBytes(displayHex: block.hash).reversed())
            }
        }
    }

    // MARK: - HTTP server

    func startServer() async throws {
        let router = Router()
        router.post("/") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            return self.handleRPC(authorization: request.headers[.authorization], body: Data(buffer: body))
        }
        router.get("/rest/**") { request, _ -> Response in
            self.handleREST(path: request.uri.path)
        }
        var logger = Logger(label: "bitcoind-double")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bitcoind-double"),
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: logger))
        let task = Task { try await group.run() }
        server.withLock { $0 = ServerHandle(task: task, group: group) }
        // Wait until it accepts connections.
        for _ in 0..<200 {
            if LoopbackPort.canConnect(port) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw DoubleError(description: "bitcoind double did not start on port \(port)")
    }

    struct DoubleError: Error, CustomStringConvertible { let description: String }
}
