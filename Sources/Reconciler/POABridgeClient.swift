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

    /// `deposit_address(account_id, chain)`: the account's current deposit address on `chain`.
    public func depositAddress(account: String, chain: String) async throws -> String {
        let result = try await client.call("deposit_address", [["account_id": .string(account), "chain": .string(chain)]])
        guard let address = result["address"]?.stringValue, !address.isEmpty, address.utf8.count <= 128,
            address.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f })
        else {
            throw JSONRPCError.malformed("deposit_address result has no usable address: \(Excerpt.of(json: result))")
        }
        return address
    }

    /// One `supported_tokens` item: the minimum the bridge credits normally.
    public struct SupportedToken: Sendable, Equatable {
        /// `intents_token_id` (`nep141:btc.omft.near`), or `nep141:` + `near_token_id` when absent.
        public var tokenID: String
        public var minDepositAmount: Amount?
        public var decimals: Int?
    }

    /// `supported_tokens(chains)`. Items without a token id are skipped.
    public func supportedTokens(chains: [String]) async throws -> [SupportedToken] {
        let result = try await client.call("supported_tokens", [["chains": .array(chains.map(JSONValue.string))]])
        guard let items = result["tokens"]?.arrayValue else {
            throw JSONRPCError.malformed("supported_tokens result has no tokens array: \(Excerpt.of(json: result))")
        }
        return items.compactMap { item -> SupportedToken? in
            let id = item["intents_token_id"]?.stringValue ?? item["near_token_id"]?.stringValue.map { "nep141:" + $0 }
            guard let id, !id.isEmpty, id.utf8.count <= 256 else { return nil }
            let minimum: Amount?
            switch item["min_deposit_amount"] {
            case .string(let t), .number(let t): minimum = Amount(decimal: t)
            case .int(let i) where i >= 0: minimum = Amount(UInt64(i))
            default: minimum = nil
            }
            return SupportedToken(tokenID: id, minDepositAmount: minimum, decimals: item["decimals"]?.int64Value.map(Int.init))
        }
    }

    /// `notify_deposit`: tells the bridge of a deposit so it is processed sooner (optional).
    public func notifyDeposit(chain: String, depositAddress: String, txHash: String, account: String?) async throws {
        var params: [String: JSONValue] = ["chain": .string(chain), "deposit_address": .string(depositAddress), "tx_hash": .string(txHash)]
        if let account, chain.hasPrefix("near:") { params["near_sender_account"] = .string(account) }
        let result = try await client.call("notify_deposit", [.object(params)])
        if let error = result["error"], error != .null {
            throw JSONRPCError.malformed("notify_deposit answered an error: \(Excerpt.of(json: error))")
        }
    }
}
