import Foundation
import EVMPlugin
import WatchCore

/// The chain behind `EVMNodeDouble`: blocks, ERC-20 `Transfer` logs, forks, and the answers of
/// the execution API (`eth_*`) with real field names, hex encodings, tags, provider limits and
/// error codes/messages (reference §5). Blocks without logs cost nothing, so a chain can be
/// millions of blocks long. Hashes are deterministic fakes: 24 pseudo-random bytes then the
/// height (8 bytes), so `eth_getBlockByHash` can find a block without an index.
public struct EVMChainModel: Sendable {
    public static let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

    /// How the provider words its `eth_getLogs` limit errors.
    public enum ProviderStyle: String, Sendable {
        /// Infura: -32005 "query returned more than N results. Try with this block range [0x…, 0x…]."
        /// with data {from, to, limit}; a range over the limit: -32602 "range R exceeds limit of N".
        case infura
        /// Alchemy: -32602 "Log response size exceeded. … this block range should work: [0x…, 0x…]"
        /// when the range is over `maxBlockRange` and the logs over `maxResults`.
        case alchemy
        /// Self-hosted / other: -32602 "query exceeds max block range N"; -32005 "query returned
        /// more than N results" (no suggested range).
        case generic
    }

    public struct Limits: Sendable {
        public var maxBlockRange: Int?
        public var maxResults: Int?
        public var style: ProviderStyle

        public init(maxBlockRange: Int? = nil, maxResults: Int? = nil, style: ProviderStyle = .infura) {
            self.maxBlockRange = maxBlockRange
            self.maxResults = maxResults
            self.style = style
        }
    }

    public struct Log: Sendable, Hashable {
        public var address: String
        public var topics: [String]
        public var data: String
        public var txHash: String
        public var logIndex: Int
    }

    /// An RPC error object.
    public struct RPCError: Error, Sendable, Equatable {
        public var code: Int
        public var message: String
        public var data: JSONValue?

        public init(code: Int, message: String, data: JSONValue? = nil) {
            self.code = code
            self.message = message
            self.data = data
        }
    }

    public let chainId: Int
    public var limits: Limits
    public var safeDepth: Int
    public var finalizedDepth: Int
    public private(set) var tip: Int
    /// (first height, fork id): the fork a height belongs to is the last segment starting at or below it.
    private var forks: [(from: Int, id: Int)] = [(0, 0)]
    private var logsByHeight: [Int: [Log]] = [:]
    private var heightsWithLogs: [Int] = []
    private var pending: [(token: String, from: String, to: String, amount: Amount, tx: String)] = []
    private var txCounter = 0
    /// Unix seconds "now" when a block is mined (the block's timestamp): wall-clock time unless
    /// a test sets its own clock.
    public var clock: @Sendable () -> Int = { Int(Date().timeIntervalSince1970) }
    /// Timestamps of the blocks mined by this model; earlier ones are 5 s apart before `createdAt`.
    private var minedAt: [Int: Int] = [:]
    private let createdAt = Int(Date().timeIntervalSince1970)
    private let startTip: Int
    /// While set, every block mined is stamped this many seconds in the past (a node serving an old tip).
    public var staleBy = 0
    /// What `eth_syncing` answers: false, or a sync status object while set.
    public var syncing: (current: Int, highest: Int)?

    public init(chainId: Int = 100, tip: Int = 0, limits: Limits = Limits(), safeDepth: Int = 4, finalizedDepth: Int = 8) {
        self.chainId = chainId
        self.startTip = tip
        self.tip = tip
        self.limits = limits
        self.safeDepth = safeDepth
        self.finalizedDepth = finalizedDepth
    }

    /// The chain as a node `lag` blocks behind sees it: the same blocks, a lower head (ranges
    /// past it are refused, as geth does).
    public func lagging(by lag: Int) -> EVMChainModel {
        var view = self
        view.tip = max(0, tip - lag)
        return view
    }

    // MARK: - Driving the chain

    /// Queues an ERC-20 transfer for the next mined block; returns its tx hash.
    public mutating func transfer(token: String, from: String = "0x00000000000000000000000000000000000000f1", to: String, amount: Amount) -> String {
        txCounter += 1
        let tx = "0x" + Self.hex64(mix(0x7478, UInt64(txCounter), 1)) + Self.hex64(mix(0x7478, UInt64(txCounter), 2))
            + Self.hex64(mix(0x7478, UInt64(txCounter), 3)) + Self.hex64(mix(0x7478, UInt64(txCounter), 4))
        pending.append((token.lowercased(), from.lowercased(), to.lowercased(), amount, tx))
        return tx
    }

    /// Mines `count` blocks; the first takes every pending transfer.
    public mutating func mine(_ count: Int = 1) {
        for i in 0..<count {
            tip += 1
            minedAt[tip] = clock() - staleBy
            guard i == 0, !pending.isEmpty else { continue }
            var logs: [Log] = []
            for (index, p) in pending.enumerated() {
                logs.append(Log(
                    address: p.token, topics: [Self.transferTopic, Self.pad(p.from), Self.pad(p.to)],
                    data: "0x" + Self.pad64(p.amount), txHash: p.tx, logIndex: index))
            }
            pending = []
            logsByHeight[tip] = logs
            heightsWithLogs.append(tip)
        }
    }

    /// Drops the last `depth` blocks and mines `depth + 1` on a new fork. The dropped transfers
    /// vanish, or with `reinclude` are mined again (same tx hashes) in the fork's first block.
    public mutating func reorg(depth: Int, reinclude: Bool = false) {
        let depth = min(depth, tip)
        let first = tip - depth + 1
        var dropped: [(token: String, from: String, to: String, amount: Amount, tx: String)] = []
        while let last = heightsWithLogs.last, last >= first {
            heightsWithLogs.removeLast()
            for log in logsByHeight[last] ?? [] {
                dropped.insert(
                    (log.address, "0x" + String(log.topics[1].suffix(40)), "0x" + String(log.topics[2].suffix(40)),
                     Amount(hex: log.data) ?? .zero, log.txHash), at: 0)
            }
            logsByHeight[last] = nil
        }
        forks.append((first, (forks.last?.id ?? 0) + 1))
        tip = first - 1
        let saved = pending
        pending = reinclude ? dropped : []
        mine(depth + 1)
        pending = saved
    }

    /// Every transfer on the current chain, in order.
    public var minedTransfers: [(height: Int, txHash: String, token: String, to: String, amount: Amount)] {
        heightsWithLogs.flatMap { height in
            (logsByHeight[height] ?? []).map { log in
                (height, log.txHash, log.address, "0x" + String(log.topics[2].suffix(40)), Amount(hex: log.data) ?? .zero)
            }
        }
    }

    // MARK: - Hashes

    private func forkID(at height: Int) -> Int {
        forks.last { $0.from <= height }?.id ?? 0
    }

    public func blockHash(_ height: Int) -> String {
        let f = UInt64(forkID(at: height)), h = UInt64(height), c = UInt64(chainId)
        return "0x" + Self.hex64(mix(c, f, h)) + Self.hex64(mix(f, h, c &+ 1)) + Self.hex64(mix(h, c, f &+ 2)) + Self.hex64(h)
    }

    private func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var z = a &* 0x9E37_79B9_7F4A_7C15 ^ b &* 0xBF58_476D_1CE4_E5B9 ^ c &* 0x94D0_49BB_1331_11EB
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func hex64(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    static func hex(_ n: Int) -> String { "0x" + String(n, radix: 16) }

    static func pad(_ address: String) -> String { "0x" + String(repeating: "0", count: 24) + address.dropFirst(2) }

    static func pad64(_ amount: Amount) -> String {
        let l = amount.limbs
        return hex64(l.3) + hex64(l.2) + hex64(l.1) + hex64(l.0)
    }

    // MARK: - JSON-RPC

    /// Answers one call: the `result`, or the error object a real node/provider would send.
    public func handle(method: String, params: [JSONValue]) throws(RPCError) -> JSONValue {
        switch method {
        case "eth_chainId": return .string(Self.hex(chainId))
        case "net_version": return .string(String(chainId))
        case "eth_blockNumber": return .string(Self.hex(tip))
        case "eth_syncing":
            guard let syncing else { return false }
            return [
                "startingBlock": "0x0", "currentBlock": .string(Self.hex(syncing.current)), "highestBlock": .string(Self.hex(syncing.highest)),
            ]
        case "eth_getBlockByNumber":
            let height = try blockParam(params.first, argument: 0)
            let full = try hydratedParam(params)
            guard let height, height <= tip else { return .null }
            return blockJSON(height, hydrated: full)
        case "eth_getBlockByHash":
            guard let hash = params.first?.stringValue, hash.utf8.count == 66 else {
                throw RPCError(code: -32602, message: "invalid argument 0: hex string has length \(max(0, (params.first?.stringValue?.utf8.count ?? 2) - 2)), want 64 for common.Hash")
            }
            let full = try hydratedParam(params)
            guard let height = Int(hash.suffix(16), radix: 16), height <= tip, blockHash(height) == hash.lowercased() else { return .null }
            return blockJSON(height, hydrated: full)
        case "eth_getLogs":
            guard params.count == 1, case .object(let filter) = params[0] else {
                throw RPCError(code: -32602, message: "missing value for required argument 0")
            }
            return .array(try getLogs(filter).map(logJSON))
        default:
            throw RPCError(code: -32601, message: "the method \(method) does not exist/is not available")
        }
    }

    private func hydratedParam(_ params: [JSONValue]) throws(RPCError) -> Bool {
        guard params.count == 2, let b = params[1].boolValue else {
            throw RPCError(code: -32602, message: "missing value for required argument 1")
        }
        return b
    }

    /// A block number or tag; nil for a tag with no block (never here: the chain is post-merge).
    private func blockParam(_ value: JSONValue?, argument: Int, allowPending: Bool = true) throws(RPCError) -> Int? {
        guard let text = value?.stringValue else {
            throw RPCError(code: -32602, message: "invalid argument \(argument): expected a block number or tag")
        }
        switch text {
        case "latest": return tip
        case "pending": if allowPending { return tip }
        case "earliest": return 0
        case "safe": return max(0, tip - safeDepth)
        case "finalized": return max(0, tip - finalizedDepth)
        default:
            guard text.hasPrefix("0x") else { throw RPCError(code: -32602, message: "invalid argument \(argument): hex string without 0x prefix") }
            guard text.utf8.count > 2, text.utf8.count <= 18, let n = Int(text.dropFirst(2), radix: 16) else {
                throw RPCError(code: -32602, message: "invalid argument \(argument): invalid hex string")
            }
            guard text == "0x0" || !text.hasPrefix("0x0") else { throw RPCError(code: -32602, message: "invalid argument \(argument): hex number with leading zero digits") }
            return n
        }
        throw RPCError(code: -32602, message: "invalid argument \(argument): pending logs are not supported")
    }

    private func getLogs(_ filter: [String: JSONValue]) throws(RPCError) -> [(Int, Log)] {
        var from: Int, to: Int
        if let hash = filter["blockHash"], hash != .null {
            if filter["fromBlock"] != nil || filter["toBlock"] != nil {
                throw RPCError(code: -32602, message: "invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
            }
            guard let h = hash.stringValue, h.utf8.count == 66, let height = Int(h.suffix(16), radix: 16), height <= tip,
                blockHash(height) == h.lowercased()
            else { throw RPCError(code: -32000, message: "unknown block") }
            (from, to) = (height, height)
        } else {
            from = try filter["fromBlock"].map { v throws(RPCError) in try blockParam(v, argument: 0, allowPending: false) ?? tip } ?? tip
            to = try filter["toBlock"].map { v throws(RPCError) in try blockParam(v, argument: 0, allowPending: false) ?? tip } ?? tip
            if from > to { throw RPCError(code: -32602, message: "invalid block range params") }
            if to > tip { throw RPCError(code: -32602, message: "block range extends beyond current head block") }
        }
        let addresses: Set<String>?
        switch filter["address"] {
        case nil, .null?: addresses = nil
        case .string(let a)?: addresses = [a.lowercased()]
        case .array(let items)?: addresses = Set(items.compactMap { $0.stringValue?.lowercased() })
        default: throw RPCError(code: -32602, message: "invalid argument 0: invalid address")
        }
        var topics: [Set<String>?] = []
        if case .array(let positions)? = filter["topics"] {
            for p in positions {
                switch p {
                case .null: topics.append(nil)
                case .string(let t): topics.append([t.lowercased()])
                case .array(let alts): topics.append(alts.contains(.null) ? nil : Set(alts.compactMap { $0.stringValue?.lowercased() }))
                default: throw RPCError(code: -32602, message: "invalid argument 0: invalid topic")
                }
            }
        }
        let range = to - from + 1
        if limits.style != .alchemy, let maxRange = limits.maxBlockRange, range > maxRange {
            switch limits.style {
            case .infura: throw RPCError(code: -32602, message: "range \(range) exceeds limit of \(maxRange)")
            default: throw RPCError(code: -32602, message: "query exceeds max block range \(maxRange)")
            }
        }
        var out: [(Int, Log)] = []
        var lo = 0, hi = heightsWithLogs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if heightsWithLogs[mid] < from { lo = mid + 1 } else { hi = mid }
        }
        var limitHit: Int?  // last height whose logs still fit the result limit
        var i = lo
        while i < heightsWithLogs.count, heightsWithLogs[i] <= to {
            let height = heightsWithLogs[i]
            let before = out.count
            for log in logsByHeight[height] ?? [] where matches(log, addresses, topics) { out.append((height, log)) }
            if let maxResults = limits.maxResults, out.count > maxResults, limitHit == nil {
                limitHit = out.count - (out.count - before) > 0 ? height - 1 : height
                if limits.style != .alchemy || range > (limits.maxBlockRange ?? Int.max) { break }
            }
            i += 1
        }
        if let maxResults = limits.maxResults, out.count > maxResults, let last = limitHit {
            let suggestion = "[\(Self.hex(from)), \(Self.hex(max(from, last)))]"
            switch limits.style {
            case .infura:
                throw RPCError(
                    code: -32005, message: "query returned more than \(maxResults) results. Try with this block range \(suggestion).",
                    data: ["from": .string(Self.hex(from)), "to": .string(Self.hex(max(from, last))), "limit": .int(Int64(maxResults))])
            case .alchemy:
                if range > (limits.maxBlockRange ?? Int.max) {
                    throw RPCError(
                        code: -32602,
                        message: "Log response size exceeded. You can make eth_getLogs requests with up to a \(Self.k(limits.maxBlockRange ?? 2000)) block range and no limit on the response size, or you can request any block range with a cap of \(Self.k(maxResults)) logs in the response. Based on your parameters and the response size limit, this block range should work: \(suggestion)")
                }
            case .generic:
                throw RPCError(code: -32005, message: "query returned more than \(maxResults) results")
            }
        }
        return out
    }

    private static func k(_ n: Int) -> String { n % 1000 == 0 ? "\(n / 1000)K" : String(n) }

    private func matches(_ log: Log, _ addresses: Set<String>?, _ topics: [Set<String>?]) -> Bool {
        if let addresses, !addresses.contains(log.address) { return false }
        if topics.count > log.topics.count { return false }
        for (i, wanted) in topics.enumerated() {
            if let wanted, !wanted.contains(log.topics[i]) { return false }
        }
        return true
    }

    private func logJSON(_ entry: (Int, Log)) -> JSONValue {
        let (height, log) = entry
        return [
            "address": .string(log.address), "topics": .array(log.topics.map(JSONValue.string)), "data": .string(log.data),
            "blockNumber": .string(Self.hex(height)), "blockHash": .string(blockHash(height)),
            "blockTimestamp": .string(Self.hex(timestamp(height))),
            "transactionHash": .string(log.txHash), "transactionIndex": .string(Self.hex(log.logIndex)),
            "logIndex": .string(Self.hex(log.logIndex)), "removed": false,
        ]
    }

    /// The block's `logsBloom` as a node computes it: every log's address and topics added.
    public func logsBloom(_ height: Int) -> LogsBloom {
        var bloom = LogsBloom()
        for log in logsByHeight[height] ?? [] { bloom.add(address: log.address, topics: log.topics) }
        return bloom
    }

    private func timestamp(_ height: Int) -> Int { minedAt[height] ?? (createdAt - max(0, startTip - height) * 5) }

    private func blockJSON(_ height: Int, hydrated: Bool) -> JSONValue {
        let zero32 = "0x" + String(repeating: "0", count: 64)
        let logs = logsByHeight[height] ?? []
        var txs: [String] = []
        for log in logs where !txs.contains(log.txHash) { txs.append(log.txHash) }
        let hash = blockHash(height)
        let transactions: [JSONValue] = txs.enumerated().map { i, tx in
            guard hydrated else { return .string(tx) }
            let log = logs.first { $0.txHash == tx }!
            return [
                "hash": .string(tx), "blockHash": .string(hash), "blockNumber": .string(Self.hex(height)),
                "transactionIndex": .string(Self.hex(i)), "from": .string("0x" + log.topics[1].suffix(40)),
                "to": .string(log.address), "value": "0x0", "gas": "0x186a0", "gasPrice": "0x3b9aca00", "nonce": .string(Self.hex(i)),
                "input": .string("0xa9059cbb" + log.topics[2].dropFirst(2) + log.data.dropFirst(2)), "type": "0x2",
                "chainId": .string(Self.hex(chainId)),
            ]
        }
        return [
            "number": .string(Self.hex(height)), "hash": .string(hash),
            "parentHash": .string(height == 0 ? zero32 : blockHash(height - 1)),
            "nonce": "0x0000000000000000", "sha3Uncles": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
            "logsBloom": .string(logsBloom(height).hex), "transactionsRoot": .string(zero32),
            "stateRoot": .string(zero32), "receiptsRoot": .string(zero32),
            "miner": "0x0000000000000000000000000000000000000000", "difficulty": "0x0", "totalDifficulty": "0x0",
            "extraData": "0x", "size": .string(Self.hex(600 + 120 * txs.count)), "gasLimit": "0x1c9c380",
            "gasUsed": .string(Self.hex(52_000 * txs.count)), "timestamp": .string(Self.hex(timestamp(height))),
            "transactions": .array(transactions), "uncles": [], "baseFeePerGas": "0x7", "mixHash": .string(zero32),
        ]
    }
}
