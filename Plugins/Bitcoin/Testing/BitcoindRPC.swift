import Foundation
import Hummingbird
import WatchCore
import WatchTesting

/// bitcoind's JSON-RPC and REST surfaces, with its response shapes and error objects
/// (src/rpc/*.cpp, src/httprpc.cpp, src/rest.cpp).
extension BitcoindDouble {
    struct RPCFailure: Error {
        let code: Int
        let message: String
    }

    func handleRPC(authorization: String?, body: Data) -> Response {
        guard authorized(authorization) else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"jsonrpc\""])
        }
        guard let request = JSONValue.requestObject(body),
            let method = request["method"] as? String
        else {
            return rpcReply(result: nil, error: RPCFailure(code: -32700, message: "Parse error"), id: .null, v2: false)
        }
        let v2 = (request["jsonrpc"] as? String) == "2.0"
        let id = JSONValue.scalar(request["id"] ?? NSNull())
        let params = request["params"] as? [Any] ?? []
        controls.withLock { $0.requests[method, default: 0] += 1 }
        if let hostile = controls.withLock({ c -> Response? in
            guard var h = c.hostile else { return nil }
            defer { c.hostile = h }
            return h.next(id: id.serialized())
        }) {
            return hostile
        }
        if controls.withLock({ $0.warmingUp }) {
            return rpcReply(result: nil, error: RPCFailure(code: -28, message: "Loading block index…"), id: id, v2: v2)
        }
        do {
            var result = try call(method, params)
            if let pad = controls.withLock({ $0.padding[method] }) {
                if case .object(var fields) = result {
                    fields["padding"] = .string(String(repeating: "x", count: pad))
                    result = .object(fields)
                } else {
                    result = ["value": result, "padding": .string(String(repeating: "x", count: pad))]
                }
            }
            return rpcReply(result: result, error: nil, id: id, v2: v2)
        } catch let failure as RPCFailure {
            return rpcReply(result: nil, error: failure, id: id, v2: v2)
        } catch {
            return rpcReply(result: nil, error: RPCFailure(code: -1, message: "\(error)"), id: id, v2: v2)
        }
    }

    func authorized(_ header: String?) -> Bool {
        guard let header, header.hasPrefix("Basic "), let data = Data(base64Encoded: String(header.dropFirst(6))),
            let pair = String(data: data, encoding: .utf8)
        else { return false }
        let cookie = (try? String(contentsOfFile: cookieFile, encoding: .utf8)) ?? ""
        return pair == "\(user):\(password)" || pair == cookie
    }

    /// 1.0/1.1: both `result` and `error`, HTTP 500 on error (404 for -32601); 2.0: one of them, HTTP 200.
    func rpcReply(result: JSONValue?, error: RPCFailure?, id: JSONValue, v2: Bool) -> Response {
        var fields: [String: JSONValue] = ["id": id]
        let errorValue: JSONValue = error.map { ["code": .int(Int64($0.code)), "message": .string($0.message)] } ?? .null
        var status = HTTPResponse.Status.ok
        if v2 {
            fields["jsonrpc"] = "2.0"
            if error != nil { fields["error"] = errorValue } else { fields["result"] = result ?? .null }
        } else {
            fields["result"] = error == nil ? (result ?? .null) : .null
            fields["error"] = errorValue
            if let error { status = error.code == -32601 ? .notFound : (error.code == -32600 ? .badRequest : .internalServerError) }
        }
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: JSONValue.object(fields).serialized() + "\n")))
    }

    private func param<T>(_ params: [Any], _ i: Int, _ type: T.Type, default def: T? = nil) throws -> T {
        if i < params.count, !(params[i] is NSNull) {
            if let v = params[i] as? T { return v }
            if T.self == Bool.self, let n = params[i] as? Int { return (n != 0) as! T }
            if T.self == Int.self, let b = params[i] as? Bool { return (b ? 1 : 0) as! T }
            throw RPCFailure(code: -3, message: "JSON value of type \(Swift.type(of: params[i])) is not of expected type \(T.self)")
        }
        if let def { return def }
        throw RPCFailure(code: -1, message: "missing required parameter \(i)")
    }

    func call(_ method: String, _ params: [Any]) throws -> JSONValue {
        switch method {
        case "getblockchaininfo":
            return state.withLock { s in
                [
                    "chain": .string(chainName), "blocks": .int(Int64(s.tip.height)), "headers": .int(Int64(s.tip.height + s.headersAhead)),
                    "bestblockhash": .string(s.tip.hash), "difficulty": .double(4.6565423739069247e-10),
                    "time": .int(Int64(s.tip.time)), "mediantime": .int(Int64(s.medianTime)),
                    "verificationprogress": s.initialBlockDownload ? .double(0.42) : .int(1), "initialblockdownload": .bool(s.initialBlockDownload),
                    "chainwork": .string(String(format: "%064x", s.tip.height * 2 + 2)), "size_on_disk": .int(Int64(s.blocks.count * 300)),
                    "pruned": .bool(false), "warnings": .array([]),
                ]
            }
        case "getblockcount":
            return .int(Int64(state.withLock { $0.tip.height }))
        case "getbestblockhash":
            return .string(state.withLock { $0.tip.hash })
        case "getblockhash":
            let height = try param(params, 0, Int.self)
            guard let block = block(at: height) else { throw RPCFailure(code: -8, message: "Block height out of range") }
            return .string(block.hash)
        case "getblockheader", "getblock":
            let hash = try param(params, 0, String.self)
            guard let (block, confirmations, next) = state.withLock({ s -> (DoubleBlock, Int, String?)? in
                guard let b = s.block(hash: hash) else { return nil }
                let c = s.confirmations(of: b)
                let next = c > 1 ? s.blocks[b.height + 1].hash : nil
                return (b, c, next)
            }) else { throw RPCFailure(code: -5, message: "Block not found") }
            if method == "getblock" {
                let verbosity = try param(params, 1, Int.self, default: 1)
                if verbosity == 0 { return .string(DoubleSerialization.hex(block.raw)) }
            } else if try !param(params, 1, Bool.self, default: true) {
                return .string(DoubleSerialization.hex(Array(block.raw.prefix(80))))
            }
            var fields: [String: JSONValue] = [
                "hash": .string(block.hash), "confirmations": .int(Int64(confirmations)), "height": .int(Int64(block.height)),
                "version": .int(0x2000_0000), "versionHex": "20000000", "time": .int(Int64(block.time)),
                "nTx": .int(Int64(block.transactions.count)), "bits": "207fffff",
            ]
            if block.height > 0 { fields["previousblockhash"] = .string(block.previousHash) }
            if let next { fields["nextblockhash"] = .string(next) }
            if method == "getblock" {
                fields["tx"] = .array(block.transactions.map { .string($0.txid) })
                fields["size"] = .int(Int64(block.raw.count))
            }
            return .object(fields)
        case "getrawmempool":
            let verbose = try param(params, 0, Bool.self, default: false)
            let withSequence = try param(params, 1, Bool.self, default: false)
            if verbose && withSequence { throw RPCFailure(code: -8, message: "Verbose results cannot contain mempool sequence values.") }
            return state.withLock { s in
                let txids = JSONValue.array(s.mempool.map { .string($0.txid) })
                if withSequence { return ["txids": txids, "mempool_sequence": .int(Int64(s.mempoolSequence))] }
                if verbose {
                    return .object(Dictionary(uniqueKeysWithValues: s.mempool.map { ($0.txid, ["vsize": .int(Int64($0.raw.count)), "height": .int(Int64(s.tip.height))] as JSONValue) }))
                }
                return txids
            }
        case "getrawtransaction":
            let txid = try param(params, 0, String.self)
            let blockhash = params.count > 2 ? params[2] as? String : nil
            let found = state.withLock { s -> DoubleTransaction? in
                if let blockhash { return s.block(hash: blockhash)?.transactions.first { $0.txid == txid } }
                return s.mempool.first { $0.txid == txid }
            }
            guard let tx = found else {
                if let blockhash, state.withLock({ $0.block(hash: blockhash) }) == nil {
                    throw RPCFailure(code: -5, message: "Block hash not found")
                }
                throw RPCFailure(
                    code: -5,
                    message: blockhash == nil
                        ? "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain transaction queries. Use gettransaction for wallet transactions."
                        : "No such transaction found in the provided block. Use gettransaction for wallet transactions.")
            }
            return .string(DoubleSerialization.hex(tx.raw))
        case "getzmqnotifications":
            return .array(zmqEndpoints.sorted { $0.key < $1.key }.map { ["type": .string("pub\($0.key)"), "address": .string($0.value), "hwm": 1000] })
        default:
            throw RPCFailure(code: -32601, message: "Method not found")
        }
    }

    func handleREST(path: String) -> Response {
        func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
            Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: message + "\r\n")))
        }
        guard controls.withLock({ $0.rest }) else { return text(.forbidden, "Forbidden") }
        controls.withLock { $0.requests["REST", default: 0] += 1 }
        if controls.withLock({ $0.warmingUp }) { return text(.serviceUnavailable, "Service temporarily unavailable: Loading block index…") }
        let parts = path.split(separator: "/").map(String.init)  // ["rest", "block", "<hash>.bin"]
        guard parts.count >= 3 else { return text(.notFound, "Not found") }
        let (name, format) = Self.splitFormat(parts.last!)
        switch parts[1] {
        case "block" where parts.count == 3:
            guard name.count == 64, name.allSatisfy(\.isHexDigit) else { return text(.badRequest, "Invalid hash: \(name)") }
            guard let block = state.withLock({ $0.block(hash: name) }) else { return text(.notFound, "\(name) not found") }
            switch format {
            case "bin": return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: block.raw)))
            case "hex": return Self.plain(DoubleSerialization.hex(block.raw) + "\n")
            default: return text(.notFound, "output format not found (available: .bin, .hex)")
            }
        case "chaininfo":
            let info = (try? call("getblockchaininfo", [])) ?? .null
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: info.serialized() + "\n")))
        case "blockhashbyheight":
            guard let height = Int(name), height >= 0 else { return text(.badRequest, "Invalid height: \(name)") }
            guard let block = block(at: height) else { return text(.notFound, "Block height out of range") }
            switch format {
            case "json": return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: JSONValue.object(["blockhash": .string(block.hash)]).serialized() + "\n")))
            case "hex": return Self.plain(block.hash + "\n")
            case "bin": return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: DoubleSerialization.internalBytes(displayHex: block.hash))))
            default: return text(.notFound, "output format not found (available: .bin, .hex, .json)")
            }
        default:
            return text(.notFound, "Not found")
        }
    }

    static func plain(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func splitFormat(_ last: String) -> (String, String) {
        guard let dot = last.lastIndex(of: ".") else { return (last, "") }
        return (String(last[..<dot]), String(last[last.index(after: dot)...]))
    }
}
