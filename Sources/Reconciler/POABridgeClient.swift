import JSONRPCClient
import WatchCore

/// The POA bridge's JSON-RPC API (`POST …/rpc`, params a one-element array holding an object,
/// errors as plain strings).
public struct POABridgeClient: Sendable {
    let client: JSONRPCClient

    public init(url: String, timeout: Duration = .seconds(15)) {
        client = JSONRPCClient(.init(url: url, version: .v2, timeout: timeout, concurrency: 2))
    }

    public var redactedURL: String { client.redactedURL }

    public struct Page: Sendable {
        public var deposits: [BridgeDeposit]
        public var malformed: [String]
        public var total: Int?
    }

    /// One page of `recent_deposits`. Malformed items are reported, not fatal.
    public func recentDeposits(account: String, chain: String, limit: Int, offset: Int) async throws -> Page {
        let result = try await client.call(
            "recent_deposits",
            [["account_id": .string(account), "chain": .string(chain), "limit": .int(Int64(limit)), "offset": .int(Int64(offset))]])
        guard let items = result["deposits"]?.arrayValue else {
            throw JSONRPCError.malformed("recent_deposits result has no deposits array: \(String(result.serialized().prefix(120)))")
        }
        var page = Page(deposits: [], malformed: [], total: result["total"]?.int64Value.map(Int.init))
        for item in items {
            do {
                page.deposits.append(try BridgeDeposit(json: item))
            } catch {
                page.malformed.append(error.description)
            }
        }
        return page
    }

    /// Every deposit of `account` on `chain`, paging with `offset += page size` up to `maxPages`.
    public func allRecentDeposits(account: String, chain: String, pageSize: Int, maxPages: Int) async throws -> Page {
        var all = Page(deposits: [], malformed: [], total: nil)
        var offset = 0
        for _ in 0..<maxPages {
            let page = try await recentDeposits(account: account, chain: chain, limit: pageSize, offset: offset)
            all.deposits += page.deposits
            all.malformed += page.malformed
            all.total = page.total
            let count = page.deposits.count + page.malformed.count
            offset += count
            if count < pageSize || (page.total.map { offset >= $0 } ?? false) { break }
        }
        return all
    }
}
