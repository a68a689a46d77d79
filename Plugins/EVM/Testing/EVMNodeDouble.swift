import Foundation
import Hummingbird
import Logging
import Synchronization
import WatchCore
import WatchTesting

/// An EVM JSON-RPC node double over real HTTP (Hummingbird), for the Gnosis adapter's tests and
/// benchmark: `eth_chainId`, `eth_blockNumber`, `eth_getBlockByNumber` (numbers and
/// `latest`/`safe`/`finalized`/`earliest`), `eth_getBlockByHash`, `eth_getLogs` (address or
/// address list, positional topics with null and OR-arrays, ranges with tags, `blockHash`),
/// with configurable provider limits and their real errors (see `EVMChainModel`). Tests drive it:
/// mine blocks with ERC-20 transfers, reorg, and inject 429s, 5xx, timeouts and malformed replies.
/// JSON-RPC 2.0 batches are answered call by call (`setBatchLimit` refuses large ones).
/// Any URL path is served, so API-key URLs (`/v3/<key>`) work. `mirror()` makes a second
/// endpoint of the same chain, with its own faults, that can lag behind (`setLag`) or go down
/// (`stop`, then `start()` again on its port): a provider pool for failover tests.
public final class EVMNodeDouble: Sendable {
    /// A failure to serve instead of the real answer.
    public enum Fault: Sendable {
        /// An HTTP status with a body (429 rate limit, 502/503 gateway, …).
        case status(Int, body: String)
        /// Waits this long before answering (longer than the client's timeout = a timeout).
        case delay(Duration)
        /// HTTP 200 with this body (truncated JSON, wrong types, missing fields, …); `$ID` is
        /// replaced by the request's id.
        case body(String)
        /// A JSON-RPC error object.
        case rpcError(code: Int, message: String)
        /// Reorgs the chain (as `reorg(depth:reinclude:)`) just before answering normally: a
        /// reorg racing the client's reads.
        case reorg(depth: Int, reinclude: Bool)
        /// A successful but empty result (`[]`), whatever the chain holds: the lie some nodes
        /// have told for `eth_getLogs` (NethermindEth/nethermind#9178).
        case emptyResult
        /// HTTP 429 with a `Retry-After: <seconds>` header.
        case rateLimited(retryAfterSeconds: Int)
    }

    /// The chain every mirror of one double serves.
    final class SharedChain: Sendable {
        let chain: Mutex<EVMChainModel>
        init(_ chain: EVMChainModel) { self.chain = Mutex(chain) }
    }

    struct FaultRule: Sendable {
        var fault: Fault
        var remaining: Int
        var method: String?
    }

    struct State: Sendable {
        var faults: [FaultRule] = []
        /// Blocks this endpoint is behind the chain's tip.
        var lag = 0
        /// While set, every `eth_getLogs` answers `[]`.
        var alwaysEmptyLogs = false
        /// Stopped: every request is answered 503, as a node behind a proxy that lost it.
        var down = false
        /// While set, every reply is a hostile one (`HostileReplies`).
        var hostile: HostileReplies?
        /// Calls per batch above which a batch is refused (nil: no limit).
        var batchLimit: Int?
        /// Calls received, by method; a batch counts each call, and itself once as `(batch)`
        /// with its calls as `(in batches)`.
        var counts: [String: Int] = [:]
        var log: [String] = []
        var keepLog = false
    }

    let state = Mutex(State())
    let shared: SharedChain
    private let server = Mutex<(task: Task<Void, any Error>?, port: Int?)>((nil, nil))
    /// The token contract `ConformanceNode.send` pays in (EURe v2 by default).
    public let defaultToken: String

    public init(chain: EVMChainModel = EVMChainModel(tip: 1000), defaultToken: String = "0x420CA0f9B9b604cE0fd9C18EF134C705e5Fa3430") {
        shared = SharedChain(chain)
        self.defaultToken = defaultToken
    }

    private init(sharing shared: SharedChain, defaultToken: String) {
        self.shared = shared
        self.defaultToken = defaultToken
    }

    /// Another endpoint of the same chain (not started): its own faults, lag and counts.
    public func mirror() -> EVMNodeDouble { EVMNodeDouble(sharing: shared, defaultToken: defaultToken) }

    /// This endpoint answers as a node `blocks` behind the tip.
    public func setLag(_ blocks: Int) { state.withLock { $0.lag = max(0, blocks) } }

    /// Batches of more than `calls` are refused as geth refuses them; nil: no limit, 0:
    /// every batch refused.
    public func setBatchLimit(_ calls: Int?) { state.withLock { $0.batchLimit = calls.map { max(0, $0) } } }

    /// While true, every `eth_getLogs` answers `[]` (a node that lies about empty ranges).
    public func setAlwaysEmptyLogs(_ on: Bool) { state.withLock { $0.alwaysEmptyLogs = on } }

    // MARK: - Server

    /// Starts serving on 127.0.0.1: on a free port the first time, on the same port after a
    /// `stop()` (an endpoint that went down and came back); returns the base URL.
    @discardableResult
    public func start() async throws -> String {
        if server.withLock({ $0.task != nil }) {
            state.withLock { $0.down = false }
            return url
        }
        let previous = server.withLock { $0.port } ?? 0
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { [self] request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 16 << 20)
            return await self.respond(Array(body.readableBytesView))
        }
        router.post("/", use: handler)
        router.post("**", use: handler)
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "evm-node-double")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: previous), serverName: "evm-double"),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            }, logger: logger)
        let task = Task { try await app.run() }
        var port = 0
        for await p in stream { port = p }
        server.withLock { $0 = (task, port) }
        return url
    }

    /// Stops serving until `start()` again: every request is answered 503. The listener stays
    /// open until the process ends: cancelling (or gracefully stopping) a NIO server while a
    /// client connects trips NIOAsyncWriter's "deinited without calling finish()" trap in this
    /// NIO version, which ended a whole test run once.
    public func stop() async {
        state.withLock { $0.down = true }
    }

    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(server.withLock { $0.port ?? 0 })" }

    private func respond(_ body: [UInt8]) async -> Response {
        if state.withLock({ $0.down }) {
            return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "node stopped")))
        }
        let parsed = try? JSONValue.parse(body)
        if let hostile = state.withLock({ s -> Response? in
            guard var h = s.hostile else { return nil }
            defer { s.hostile = h }
            return h.next(id: (parsed?["id"] ?? .null).serialized())
        }) {
            return hostile
        }
        if case .array(let calls)? = parsed { return await respond(batch: calls) }
        let method = parsed?["method"]?.stringValue ?? "?"
        let id = parsed?["id"] ?? .null
        switch takeFault(method) {
        case .status(let code, let text)?:
            return Self.reply(text, status: HTTPResponse.Status(code: code), contentType: "text/plain")
        case .body(let text)?:
            return Self.reply(text.replacingOccurrences(of: "$ID", with: id.serialized()))
        case .rpcError(let code, let message)?:
            return Self.reply(Self.error(id: id, code: code, message: message).serialized())
        case .delay(let d)?:
            try? await Task.sleep(for: d)
        case .reorg(let depth, let reinclude)?:
            reorg(depth: depth, reinclude: reinclude)
        case .emptyResult?:
            return Self.reply(JSONValue.object(["jsonrpc": "2.0", "id": id, "result": []]).serialized())
        case .rateLimited(let seconds)?:
            return Self.rateLimited(seconds)
        case nil:
            break
        }
        guard let parsed, case .object = parsed else {
            return Self.reply(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#)
        }
        return Self.reply(answer(parsed).serialized())
    }

    /// A JSON-RPC 2.0 batch: each call answered in turn (counted by method, its injected
    /// faults taken in order), the replies in one array. A fault that is an HTTP answer
    /// (a status, a rate limit, a body) answers the whole request, as a proxy in front of a
    /// node does. Over `setBatchLimit` the batch is refused as geth refuses it
    /// (`BatchRequestLimit`, 1000 by default): one error element, with the first call's id.
    private func respond(batch calls: [JSONValue]) async -> Response {
        let limit = state.withLock { s in
            s.counts["(batch)", default: 0] += 1
            s.counts["(in batches)", default: 0] += calls.count
            return s.batchLimit
        }
        guard !calls.isEmpty else {
            return Self.reply(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"empty batch"}}"#)
        }
        if let limit, calls.count > limit {
            return Self.reply(JSONValue.array([Self.error(id: calls[0]["id"] ?? .null, code: -32600, message: "batch too large")]).serialized())
        }
        var replies: [JSONValue] = []
        for call in calls {
            let id = call["id"] ?? .null
            switch takeFault(call["method"]?.stringValue ?? "?") {
            case .status(let code, let text)?:
                return Self.reply(text, status: HTTPResponse.Status(code: code), contentType: "text/plain")
            case .body(let text)?:
                return Self.reply(text.replacingOccurrences(of: "$ID", with: id.serialized()))
            case .rateLimited(let seconds)?:
                return Self.rateLimited(seconds)
            case .rpcError(let code, let message)?:
                replies.append(Self.error(id: id, code: code, message: message))
                continue
            case .emptyResult?:
                replies.append(["jsonrpc": "2.0", "id": id, "result": []])
                continue
            case .delay(let d)?:
                try? await Task.sleep(for: d)
            case .reorg(let depth, let reinclude)?:
                reorg(depth: depth, reinclude: reinclude)
            case nil:
                break
            }
            replies.append(answer(call))
        }
        return Self.reply(JSONValue.array(replies).serialized())
    }

    /// Counts a call of `method` and takes the first fault injected for it, if any.
    private func takeFault(_ method: String) -> Fault? {
        state.withLock { s in
            s.counts[method, default: 0] += 1
            if s.keepLog { s.log.append(method) }
            guard let i = s.faults.firstIndex(where: { $0.method == nil || $0.method == method }) else { return nil }
            let f = s.faults[i].fault
            s.faults[i].remaining -= 1
            if s.faults[i].remaining <= 0 { s.faults.remove(at: i) }
            return f
        }
    }

    /// The reply object to one call, from the chain as this endpoint sees it (its lag, its
    /// always-empty logs).
    private func answer(_ call: JSONValue) -> JSONValue {
        let id = call["id"] ?? .null
        guard case .object = call, let method = call["method"]?.stringValue else {
            return Self.error(id: id, code: -32600, message: "invalid request")
        }
        let (lag, emptyLogs) = state.withLock { ($0.lag, $0.alwaysEmptyLogs) }
        if emptyLogs, method == "eth_getLogs" { return ["jsonrpc": "2.0", "id": id, "result": []] }
        let params = call["params"]?.arrayValue ?? []
        let result = shared.chain.withLock { chain in
            Result { () throws(EVMChainModel.RPCError) -> JSONValue in
                try (lag == 0 ? chain : chain.lagging(by: lag)).handle(method: method, params: params)
            }
        }
        switch result {
        case .success(let value):
            return ["jsonrpc": "2.0", "id": id, "result": value]
        case .failure(let e):
            var error: [String: JSONValue] = ["code": .int(Int64(e.code)), "message": .string(e.message)]
            if let data = e.data { error["data"] = data }
            return ["jsonrpc": "2.0", "id": id, "error": .object(error)]
        }
    }

    private static func error(id: JSONValue, code: Int, message: String) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "error": ["code": .int(Int64(code)), "message": .string(message)]]
    }

    private static func rateLimited(_ seconds: Int) -> Response {
        var response = reply("Too Many Requests", status: .tooManyRequests, contentType: "text/plain")
        response.headers[.retryAfter] = String(seconds)
        return response
    }

    private static func reply(_ text: String, status: HTTPResponse.Status = .ok, contentType: String = "application/json") -> Response {
        Response(
            status: status, headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: - Test controls

    /// Reads or changes the chain under the lock.
    @discardableResult
    public func withChain<T>(_ body: (inout EVMChainModel) -> T) -> T { shared.chain.withLock { body(&$0) } }

    public var tip: Int { withChain { $0.tip } }

    /// Queues an ERC-20 transfer (default token) to `to`; mined by the next `mine`. Returns the tx hash.
    @discardableResult
    public func transfer(to: String, amount: Amount, token: String? = nil, from: String = "0x00000000000000000000000000000000000000f1") -> String {
        withChain { $0.transfer(token: token ?? defaultToken, from: from, to: to, amount: amount) }
    }

    public func mine(_ count: Int = 1) { withChain { $0.mine(count) } }

    public func reorg(depth: Int, reinclude: Bool = false) { withChain { $0.reorg(depth: depth, reinclude: reinclude) } }

    public func setLimits(_ limits: EVMChainModel.Limits) { withChain { $0.limits = limits } }
    /// Answers every request with a hostile reply (wrong types, junk, truncation, …) until nil.
    public func setHostile(seed: UInt64?) { state.withLock { $0.hostile = seed.map(HostileReplies.init(seed:)) } }

    /// Serves `fault` for the next `count` requests (of `method`, when given), before anything else.
    public func inject(_ fault: Fault, count: Int = 1, method: String? = nil) {
        state.withLock { $0.faults.append(FaultRule(fault: fault, remaining: count, method: method)) }
    }

    public var pendingFaults: Int { state.withLock { $0.faults.reduce(0) { $0 + $1.remaining } } }

    /// Calls received, by method (`(batch)`: batches, `(in batches)`: the calls they held).
    public var requestCounts: [String: Int] { state.withLock { $0.counts } }
    /// HTTP requests received: a batch is one.
    public var requestTotal: Int {
        state.withLock { s in
            s.counts.filter { !$0.key.hasPrefix("(") }.values.reduce(0, +) - (s.counts["(in batches)"] ?? 0) + (s.counts["(batch)"] ?? 0)
        }
    }
    public func resetCounts() { state.withLock { $0.counts = [:] } }
}

extension EVMNodeDouble: ConformanceNode {
    public var supportsMempool: Bool { false }
    public func send(to address: String, amount: UInt64) async throws -> String { transfer(to: address, amount: Amount(amount)) }
    public func mineBlocks(_ count: Int) async throws { mine(count) }
    public func reorgBlocks(depth: Int) async throws { reorg(depth: depth) }
}
