import Foundation
import WatchCore

/// The watchdog's view of bitcoind: `getblockchaininfo` (height, headers, IBD, and the tip's
/// `time` where the node reports it; else `getblockheader` of the best block).
struct BitcoinProbe: ChainProbe {
    let node: RPCBitcoinNode

    /// bitcoind counts as syncing this many headers ahead of its blocks (a block or two in
    /// flight is normal).
    static let headersAheadLimit = 2

    func vitals() async throws -> NodeVitals {
        let info = try await node.call("getblockchaininfo")
        guard let blocks = info["blocks"]?.int64Value, let best = info["bestblockhash"]?.stringValue else {
            throw BitcoinRPCError.malformed("getblockchaininfo", Excerpt.of(json: info))
        }
        let headers = info["headers"]?.int64Value.map(Int.init)
        var time = info["time"]?.int64Value
        if time == nil { time = try await node.call("getblockheader", [.string(best), .bool(true)])["time"]?.int64Value }
        var syncing: String?
        if info["initialblockdownload"]?.boolValue == true {
            syncing = "initialblockdownload"
        } else if let headers, headers - Int(blocks) > Self.headersAheadLimit {
            syncing = "headers \(headers) are \(headers - Int(blocks)) ahead of blocks \(blocks)"
        }
        return NodeVitals(
            tipHeight: Int(blocks), tipHash: best, tipTime: time.map { Date(timeIntervalSince1970: TimeInterval($0)) }, syncing: syncing,
            headers: headers)
    }

    func blockHash(at height: Int) async throws -> String? { try await node.blockHash(height: height) }
}
