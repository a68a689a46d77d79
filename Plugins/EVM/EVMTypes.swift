import WatchCore

/// A block header as the adapter needs it.
public struct EVMBlock: Sendable, Hashable {
    public var number: Int
    public var hash: String
    public var parentHash: String
    /// The header's `logsBloom`; nil when the node sent none (then nothing is checked against it).
    public var logsBloom: LogsBloom? = nil

    public var ref: BlockRef { BlockRef(height: number, hash: hash, parentHash: parentHash) }
}

/// One `Log` object of `eth_getLogs`.
public struct EVMLog: Sendable, Hashable {
    public var address: String
    public var topics: [String]
    public var data: String
    public var blockNumber: Int
    public var blockHash: String
    public var transactionHash: String
    public var logIndex: Int
    public var removed: Bool
}

/// An ERC-20 `Transfer` decoded from a log.
public struct ERC20Transfer: Sendable, Hashable {
    public var token: String
    public var from: String
    public var to: String
    public var value: Amount
    public var blockNumber: Int
    public var blockHash: String
    public var txHash: String
    public var logIndex: Int

    /// Nil unless the log is a standard `Transfer(address indexed, address indexed, uint256)`.
    public init?(_ log: EVMLog) {
        guard log.topics.count == 3, log.topics[0] == EVM.transferTopic,
            let from = EVMAddress(topic: log.topics[1]), let to = EVMAddress(topic: log.topics[2]),
            log.data.utf8.count == 66, let value = Amount(hex: log.data)
        else { return nil }
        token = log.address
        self.from = from.lowercased
        self.to = to.lowercased
        self.value = value
        blockNumber = log.blockNumber
        blockHash = log.blockHash
        txHash = log.transactionHash
        logIndex = log.logIndex
    }

    /// One line of `gnosis scan`, keys in the documented order.
    public var jsonLine: String {
        "{\"tx_hash\":\"\(txHash)\",\"log_index\":\(logIndex),\"block_number\":\(blockNumber),"
            + "\"block_hash\":\"\(blockHash)\",\"from\":\"\(from)\",\"to\":\"\(to)\",\"value\":\"\(value)\"}"
    }
}

/// Strict decoding of execution-API values: anything else is a `JSONRPCError.malformed`.
enum EVMDecode {
    /// Largest block number accepted: far beyond any chain, small enough to never overflow.
    static let maxBlockNumber = 1 << 48

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A quantity `^0x(0|[1-9a-f][0-9a-f]*)$` (upper-case digits tolerated) that fits the bound.
    static func quantity(_ value: JSONValue?, _ what: String, max: Int = maxBlockNumber) throws(Failure) -> Int {
        guard let text = value?.stringValue else { throw Failure(description: "\(what): expected a hex quantity string, got \(value?.typeName ?? "nothing")") }
        let digits = text.dropFirst(2).drop { $0 == "0" }
        guard text.hasPrefix("0x"), (3...66).contains(text.utf8.count), text.utf8.dropFirst(2).allSatisfy(\.isHexDigit),
            digits.utf8.count <= 15, let n = digits.isEmpty ? 0 : Int(digits, radix: 16), n <= max
        else { throw Failure(description: "\(what): \"\(text.prefix(80))\" is not a hex quantity up to \(max)") }
        return n
    }

    /// 32 bytes as `0x` + 64 hex digits, returned lower-case.
    static func hash32(_ value: JSONValue?, _ what: String) throws(Failure) -> String {
        guard let text = value?.stringValue, text.utf8.count == 66, text.hasPrefix("0x"), text.utf8.dropFirst(2).allSatisfy(\.isHexDigit)
        else { throw Failure(description: "\(what): expected 0x + 64 hex digits, got \(value.map { String($0.serialized().prefix(80)) } ?? "nothing")") }
        return text.lowercased()
    }

    static func block(_ value: JSONValue) throws(Failure) -> EVMBlock? {
        if value == .null { return nil }
        guard case .object(let b) = value else { throw Failure(description: "block: expected an object or null, got \(value.typeName)") }
        var bloom: LogsBloom?
        if let raw = b["logsBloom"], raw != .null {
            guard let text = raw.stringValue, let parsed = LogsBloom(hex: text) else {
                throw Failure(description: "block.logsBloom: expected 0x + 512 hex digits, got \(String(raw.serialized().prefix(80)))")
            }
            bloom = parsed
        }
        return EVMBlock(
            number: try quantity(b["number"], "block.number"), hash: try hash32(b["hash"], "block.hash"),
            parentHash: try hash32(b["parentHash"], "block.parentHash"), logsBloom: bloom)
    }

    static func log(_ value: JSONValue) throws(Failure) -> EVMLog {
        guard case .object(let l) = value else { throw Failure(description: "log: expected an object, got \(value.typeName)") }
        guard let address = l["address"]?.stringValue, address.utf8.count == 42, address.hasPrefix("0x"),
            address.utf8.dropFirst(2).allSatisfy(\.isHexDigit)
        else { throw Failure(description: "log.address: expected a 20-byte address") }
        guard case .array(let rawTopics) = l["topics"] ?? .null else { throw Failure(description: "log.topics: expected an array") }
        var topics: [String] = []
        for (i, t) in rawTopics.enumerated() { topics.append(try hash32(t, "log.topics[\(i)]")) }
        guard let data = l["data"]?.stringValue, data.hasPrefix("0x"), data.utf8.count % 2 == 0,
            data.utf8.dropFirst(2).allSatisfy(\.isHexDigit)
        else { throw Failure(description: "log.data: expected 0x-prefixed hex bytes") }
        var removed = false
        if let r = l["removed"], r != .null {
            guard let b = r.boolValue else { throw Failure(description: "log.removed: expected a boolean") }
            removed = b
        }
        return EVMLog(
            address: address.lowercased(), topics: topics, data: data.lowercased(),
            blockNumber: try quantity(l["blockNumber"], "log.blockNumber"), blockHash: try hash32(l["blockHash"], "log.blockHash"),
            transactionHash: try hash32(l["transactionHash"], "log.transactionHash"),
            logIndex: try quantity(l["logIndex"], "log.logIndex", max: 1 << 32), removed: removed)
    }

    static func logs(_ value: JSONValue) throws(Failure) -> [EVMLog] {
        guard case .array(let items) = value else { throw Failure(description: "eth_getLogs: expected an array, got \(value.typeName)") }
        var out: [EVMLog] = []
        out.reserveCapacity(items.count)
        for item in items { out.append(try log(item)) }
        return out
    }

    static func hex(_ n: Int) -> String { "0x" + String(n, radix: 16) }
}
