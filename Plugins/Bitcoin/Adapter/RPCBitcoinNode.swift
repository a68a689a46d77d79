import Foundation
import JSONRPCClient
import Synchronization
import WatchCore

/// `BitcoinNodeClient` over bitcoind's JSON-RPC (user/password or cookie auth) and REST.
public final class RPCBitcoinNode: BitcoinNodeClient {
    let configuration: BitcoinConfiguration
    private let client: Mutex<JSONRPCClient>

    public init(configuration: BitcoinConfiguration) throws {
        self.configuration = configuration
        client = Mutex(try Self.makeClient(configuration))
    }

    /// Reads credentials (the cookie file is rewritten on every bitcoind start) and builds a client.
    static func makeClient(_ c: BitcoinConfiguration) throws -> JSONRPCClient {
        var user = c.rpcUser
        var password = c.rpcPassword
        if let cookieFile = c.rpcCookieFile {
            guard let text = try? String(contentsOfFile: cookieFile, encoding: .utf8), let colon = text.firstIndex(of: ":") else {
                throw BitcoinRPCError.cookieUnreadable(cookieFile)
            }
            user = String(text[..<colon])
            password = String(text[text.index(after: colon)...]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return JSONRPCClient(.init(url: c.rpcURL, version: .v1, username: user, password: password, timeout: c.rpcTimeout))
    }

    /// The largest reply each method can legitimately return, in bytes: a block or transaction
    /// is at most 4,000,000 bytes (8,000,000 hex digits); the mempool's txid list keeps the
    /// client's 64 MiB cap. A bigger reply is refused before it is parsed.
    static let replyCaps: [String: Int] = [
        "getblockchaininfo": 1 << 20, "getblockhash": 64 << 10, "getblockheader": 64 << 10, "getblock": 9 << 20, "getrawtransaction": 9 << 20,
        "getrawmempool": 64 << 20,
    ]
    /// REST `/rest/block/<hash>.bin`: raw bytes of at most one block.
    static let restBlockCap = 4_200_000

    func call(_ method: String, _ params: [JSONValue] = []) async throws -> JSONValue {
        let current = client.withLock { $0 }
        let cap = Self.replyCaps[method] ?? (1 << 20)
        let failure: JSONRPCError
        do {
            return try await current.call(method, params, maxResponseBytes: cap)
        } catch {
            failure = error
        }
        switch failure {
        case .http(let status, _) where status == 401:
            guard configuration.rpcCookieFile != nil else { throw BitcoinRPCError.unauthorized }
            // bitcoind restarted with a new cookie: re-read it once.
            let fresh = try Self.makeClient(configuration)
            client.withLock { $0 = fresh }
            return try await fresh.call(method, params, maxResponseBytes: cap)
        case .rpc(let code, let message, _) where code == -28:
            throw BitcoinRPCError.warmingUp(message)
        default:
            throw failure
        }
    }

    public func chainInfo() async throws -> BitcoinChainInfo {
        let r = try await call("getblockchaininfo")
        guard let chain = r["chain"]?.stringValue, let blocks = r["blocks"]?.int64Value,
            let best = r["bestblockhash"]?.stringValue
        else { throw BitcoinRPCError.malformed("getblockchaininfo", Excerpt.of(json: r)) }
        return BitcoinChainInfo(chain: chain, blocks: Int(blocks), bestBlockHash: best, initialBlockDownload: r["initialblockdownload"]?.boolValue ?? false)
    }

    public func blockHash(height: Int) async throws -> String? {
        do {
            let r = try await call("getblockhash", [.int(Int64(height))])
            guard let hash = r.stringValue, Self.isHash(hash) else { throw BitcoinRPCError.malformed("getblockhash", Excerpt.of(json: r)) }
            return hash
        } catch JSONRPCError.rpc(let code, _, _) where code == -8 {
            return nil  // "Block height out of range"
        }
    }

    public func rawBlock(hash: String) async throws -> [UInt8] {
        guard Self.isHash(hash) else { throw BitcoinRPCError.malformed("block hash", hash) }
        if configuration.rest {
            return try await client.withLock { $0 }.get("/rest/block/\(hash).bin", maxResponseBytes: Self.restBlockCap)
        }
        let r = try await call("getblock", [.string(hash), .int(0)])
        guard let hex = r.stringValue, let bytes = Hex.decode(hex) else { throw BitcoinRPCError.malformed("getblock", String(r.serialized().prefix(80))) }
        return bytes
    }

    public func mempool() async throws -> (txids: [String], sequence: UInt64) {
        let r = try await call("getrawmempool", [.bool(false), .bool(true)])
        guard let txids = r["txids"]?.arrayValue?.compactMap(\.stringValue), let sequence = r["mempool_sequence"]?.int64Value, sequence >= 0
        else { throw BitcoinRPCError.malformed("getrawmempool", String(r.serialized().prefix(80))) }
        return (txids.filter(Self.isHash), UInt64(sequence))
    }

    public func rawTransaction(txid: String) async throws -> [UInt8]? {
        guard Self.isHash(txid) else { return nil }
        do {
            let r = try await call("getrawtransaction", [.string(txid), .int(0)])
            guard let hex = r.stringValue, let bytes = Hex.decode(hex) else { throw BitcoinRPCError.malformed("getrawtransaction", String(r.serialized().prefix(80))) }
            return bytes
        } catch JSONRPCError.rpc(let code, _, _) where code == -5 {
            return nil  // gone from the mempool (mined, replaced or evicted)
        }
    }

    static func isHash(_ s: String) -> Bool { s.utf8.count == 64 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } }
}

public enum BitcoinRPCError: Error, CustomStringConvertible {
    case cookieUnreadable(String)
    case unauthorized
    case warmingUp(String)
    case malformed(String, String)

    public var description: String {
        switch self {
        case .cookieUnreadable(let f): "cannot read bitcoind cookie file \(f): check rpc_cookie_file and its permissions"
        case .unauthorized: "bitcoind refused the RPC credentials (HTTP 401): check rpc_user/rpc_password or rpc_cookie_file"
        case .warmingUp(let m): "bitcoind is warming up: \(m)"
        case .malformed(let what, let reply): "malformed \(what) reply from bitcoind: \(Excerpt.of(reply))"
        }
    }
}
