import BitcoinTesting
import BitcoinPlugin
import Foundation
import Hummingbird
import Logging
import WatchCore
import EVMTesting
import WatchTesting

// Runs the node doubles as a separate process for the demo and the end-to-end drills.
// Prints one JSON line with their endpoints, then serves a control API on loopback:
//   POST /bitcoin/pay     {"address", "sats"}            → {"txid"}
//   POST /bitcoin/mine    {"blocks", "stale_s"?}          → {"height", "hash"} (stale_s: stamped that far in the past)
//   POST /bitcoin/replace {"txid", "address"?, "sats"}    → {"txid"} (same inputs, new outputs)
//   POST /bitcoin/evict   {"txid"}
//   POST /bitcoin/reorg   {"depth", "reinclude"}
//   POST /bitcoin/down, /bitcoin/up, /bitcoin/drop-zmq {"count"}
//   GET  /bitcoin/state
//   POST /gnosis/transfer {"to", "amount" (base units, decimal string), "token"?} → {"tx_hash"}
//   POST /gnosis/mine     {"blocks"}
//   POST /evm/<chain>/transfer, /evm/<chain>/mine: the same for any EVM double (gnosis, base)
//   POST /evm/<chain>/endpoint {"index", "down"?: bool, "lag"?: blocks}: one of the chain's RPC
//        endpoints (base has two, for failover) goes down, comes back, or lags
//   POST /bridge/deposit  {"account", "chain", "tx_hash"?, "address", "amount", "status"?, "token"?}
//   POST /bridge/status   {"tx_hash" | "address", "status", "mint_tx_hash"?}
//   POST /bridge/address  {"account", "chain", "address"}  (what deposit_address returns; a change is a rotation)
//   POST /bridge/token    {"chain", "token", "min_deposit_amount", "decimals"?}  (a supported_tokens item)
//   GET  /bridge/notifications  → {"notifications": [the notify_deposit params received]}
//   POST /bridge/fault    {"fault": "none" | "timeout" | "error" | "http502"}
//   POST /omni/transfer   {"txid", "vout", "amount", "status"?}  (the Omni indexer saw the output; no status: not indexed)
//   POST /omni/status     {"txid", "vout", "status", "near_tx_hash"?}  (its next status)
//   POST /omni/down       {"down": bool}
// Runs until SIGTERM/SIGINT.

let bitcoind = try await BitcoindDouble.start(chain: "regtest")
let bridge = try await POABridgeDouble.start()
// Omni derives a regtest P2WSH address from each message's derivation path (the real one is
// MPC-derived from the same path), so the address is one the bitcoind double can pay.
let omniFormat = AddressFormat(chain: "bitcoin", network: "regtest", bech32HRP: "bcrt", p2pkhVersion: 0x6f, p2shVersions: [0xc4])
let omni = try await OmniAPIDouble.start(addressFor: { path in
    AddressCodec.address(forScript: [0x00, 0x20] + (Hex.decode(path) ?? []), format: omniFormat) ?? "bcrt1qinvalid"
})
let evm = EVMNodeDouble(chain: EVMChainModel(chainId: 100, tip: 100))
_ = try await evm.start()
// Base (chain 8453) paying in a 6-decimal USDC, served by two endpoints of one chain.
let baseUSDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
let base = EVMNodeDouble(chain: EVMChainModel(chainId: 8453, tip: 5_000), defaultToken: baseUSDC)
let baseMirror = base.mirror()
_ = try await base.start()
_ = try await baseMirror.start()
let evmEndpoints: [String: [EVMNodeDouble]] = ["gnosis": [evm], "base": [base, baseMirror]]
bitcoind.mine(1)
let registry = TransactionRegistry()

final class TransactionRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var byID: [String: DoubleTransaction] = [:]
    func add(_ tx: DoubleTransaction) { lock.withLock { byID[tx.txid] = tx } }
    func get(_ txid: String) -> DoubleTransaction? { lock.withLock { byID[txid] } }
}

func body(_ request: Request) async throws -> [String: Any] {
    let buffer = try await request.body.collect(upTo: 1 << 16)
    return (try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any]) ?? [:]
}

func reply(_ value: JSONValue, _ status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.serialized() + "\n")))
}

func script(_ address: String?) throws -> [UInt8] {
    guard let address else { return [0x00, 0x14] + [UInt8](repeating: 0xee, count: 20) }
    return try AddressCodec.scriptPubKey(for: address, network: .regtest)
}

let router = Router()
router.post("/bitcoin/pay") { request, _ -> Response in
    let b = try await body(request)
    guard let sats = b["sats"] as? Int, sats > 0 else { return reply(["error": "sats must be a positive integer"], .badRequest) }
    let tx = bitcoind.pay(script: try script(b["address"] as? String), sats: Int64(sats), change: 1_000)
    registry.add(tx)
    return reply(["txid": .string(tx.txid)])
}
router.post("/bitcoin/mine") { request, _ -> Response in
    let b = try await body(request)
    bitcoind.mine(max(1, b["blocks"] as? Int ?? 1), staleBy: UInt32(clamping: max(0, b["stale_s"] as? Int ?? 0)))
    return reply(["height": .int(Int64(bitcoind.tip.height)), "hash": .string(bitcoind.tip.hash)])
}
router.post("/bitcoin/replace") { request, _ -> Response in
    let b = try await body(request)
    guard let txid = b["txid"] as? String, let original = registry.get(txid) else { return reply(["error": "unknown txid"], .badRequest) }
    let replacement = DoubleTransaction(inputs: original.inputs, outputs: [(Int64(b["sats"] as? Int ?? 1_000), try script(b["address"] as? String))])
    bitcoind.replace(txid, with: replacement)
    registry.add(replacement)
    return reply(["txid": .string(replacement.txid)])
}
router.post("/bitcoin/evict") { request, _ -> Response in
    let b = try await body(request)
    bitcoind.evict(b["txid"] as? String ?? "")
    return reply(["ok": true])
}
router.post("/bitcoin/reorg") { request, _ -> Response in
    let b = try await body(request)
    bitcoind.reorg(depth: max(1, b["depth"] as? Int ?? 1), reinclude: b["reinclude"] as? Bool ?? true)
    return reply(["height": .int(Int64(bitcoind.tip.height))])
}
router.post("/bitcoin/down") { _, _ -> Response in
    try await bitcoind.setDown(true)
    return reply(["down": true])
}
router.post("/bitcoin/up") { _, _ -> Response in
    try await bitcoind.setDown(false)
    return reply(["down": false])
}
router.post("/bitcoin/drop-zmq") { request, _ -> Response in
    bitcoind.dropNextZMQ(try await body(request)["count"] as? Int ?? 1)
    return reply(["ok": true])
}
router.get("/bitcoin/state") { _, _ -> Response in
    reply([
        "height": .int(Int64(bitcoind.tip.height)), "hash": .string(bitcoind.tip.hash),
        "mempool": .array(bitcoind.mempoolTxids.map(JSONValue.string)),
        "zmq_sent": .int(Int64(bitcoind.zmqStats.sent)), "zmq_dropped": .int(Int64(bitcoind.zmqStats.dropped)),
    ])
}

func evmTransfer(_ node: EVMNodeDouble, _ request: Request) async throws -> Response {
    let b = try await body(request)
    guard let to = b["to"] as? String, let amount = (b["amount"] as? String).flatMap({ Amount(decimal: $0) }) else {
        return reply(["error": "to and amount (a decimal string of base units) are required"], .badRequest)
    }
    return reply(["tx_hash": .string(node.transfer(to: to, amount: amount, token: b["token"] as? String))])
}
func evmMine(_ node: EVMNodeDouble, _ request: Request) async throws -> Response {
    node.mine(max(1, try await body(request)["blocks"] as? Int ?? 1))
    return reply(["height": .int(Int64(node.tip))])
}
router.post("/gnosis/transfer") { request, _ in try await evmTransfer(evm, request) }
router.post("/gnosis/mine") { request, _ in try await evmMine(evm, request) }
router.post("/evm/:chain/:action") { request, context -> Response in
    guard let nodes = context.parameters.get("chain").flatMap({ evmEndpoints[$0] }) else {
        return reply(["error": .string("unknown chain; one of \(evmEndpoints.keys.sorted())")], .notFound)
    }
    switch context.parameters.get("action") {
    case "transfer": return try await evmTransfer(nodes[0], request)
    case "mine": return try await evmMine(nodes[0], request)
    case "endpoint":
        let b = try await body(request)
        guard let index = b["index"] as? Int, nodes.indices.contains(index) else { return reply(["error": .string("index: 0..<\(nodes.count)")], .badRequest) }
        if let lag = b["lag"] as? Int { nodes[index].setLag(lag) }
        if let down = b["down"] as? Bool {
            if down { await nodes[index].stop() } else { _ = try await nodes[index].start() }
        }
        return reply(["ok": true])
    default: return reply(["error": "unknown action; transfer, mine or endpoint"], .notFound)
    }
}
router.post("/bridge/deposit") { request, _ -> Response in
    let b = try await body(request)
    guard let account = b["account"] as? String, let chain = b["chain"] as? String, let address = b["address"] as? String,
        let amount = b["amount"] as? String
    else { return reply(["error": "account, chain, address and amount (a decimal string) are required"], .badRequest) }
    bridge.addDeposit(
        account: account, chain: chain, txHash: b["tx_hash"] as? String, address: address, amount: amount,
        nearTokenID: b["token"] as? String ?? "btc.omft.near", status: b["status"] as? String ?? "PENDING")
    return reply(["ok": true])
}
router.post("/bridge/status") { request, _ -> Response in
    let b = try await body(request)
    bridge.setStatus(
        txHash: b["tx_hash"] as? String, address: b["address"] as? String, b["status"] as? String ?? "COMPLETED",
        mintTxHash: b["mint_tx_hash"] as? String)
    return reply(["ok": true])
}
router.post("/bridge/address") { request, _ -> Response in
    let b = try await body(request)
    guard let account = b["account"] as? String, let chain = b["chain"] as? String, let address = b["address"] as? String else {
        return reply(["error": "account, chain and address are required"], .badRequest)
    }
    bridge.setDepositAddress(account: account, chain: chain, address)
    return reply(["ok": true])
}
router.post("/bridge/token") { request, _ -> Response in
    let b = try await body(request)
    guard let chain = b["chain"] as? String, let token = b["token"] as? String, let minimum = b["min_deposit_amount"] as? String else {
        return reply(["error": "chain, token and min_deposit_amount (a decimal string) are required"], .badRequest)
    }
    bridge.addToken(chain: chain, nearTokenID: token, decimals: b["decimals"] as? Int ?? 8, minDepositAmount: minimum)
    return reply(["ok": true])
}
router.get("/bridge/notifications") { _, _ -> Response in
    reply(["notifications": .array(bridge.notifications.map(JSONValue.object))])
}
router.post("/bridge/fault") { request, _ -> Response in
    switch try await body(request)["fault"] as? String ?? "none" {
    case "timeout": bridge.setFault(.timeout(.seconds(30)))
    case "error": bridge.setFault(.error("internal error"))
    case "http502": bridge.setFault(.http(502))
    default: bridge.setFault(.none)
    }
    return reply(["ok": true])
}

router.post("/omni/transfer") { request, _ -> Response in
    let b = try await body(request)
    guard let txid = b["txid"] as? String, let vout = b["vout"] as? Int, let amount = b["amount"] as? String else {
        return reply(["error": "txid, vout and amount (a decimal string) are required"], .badRequest)
    }
    omni.addTransfer(txHash: txid, vout: vout, amount: amount, statuses: (b["status"] as? String).map { [$0] } ?? [])
    return reply(["ok": true])
}
router.post("/omni/status") { request, _ -> Response in
    let b = try await body(request)
    guard let txid = b["txid"] as? String, let vout = b["vout"] as? Int, let status = b["status"] as? String else {
        return reply(["error": "txid, vout and status are required"], .badRequest)
    }
    omni.advance(txHash: txid, vout: vout, to: status, nearTxHash: b["near_tx_hash"] as? String)
    return reply(["ok": true])
}
router.post("/omni/down") { request, _ -> Response in
    omni.setDown(try await body(request)["down"] as? Bool ?? true)
    return reply(["ok": true])
}

let controlPort = try freePort()
let endpoints: JSONValue = [
    "control": .string("http://127.0.0.1:\(controlPort)"),
    "bitcoin": [
        "rpc_url": .string(bitcoind.rpcURL), "rpc_user": .string(bitcoind.user), "rpc_password": .string(bitcoind.password),
        "rpc_cookie_file": .string(bitcoind.cookieFile),
        "zmq_sequence": .string(bitcoind.zmqEndpoints["sequence"]!), "zmq_rawtx": .string(bitcoind.zmqEndpoints["rawtx"]!),
        "zmq_rawblock": .string(bitcoind.zmqEndpoints["rawblock"]!),
    ],
    "bridge": ["rpc_url": .string(bridge.url)],
    "omni": ["api_url": .string(omni.url)],
    "gnosis": ["rpc_url": .string(evm.url)],
    "evm": ["base": ["rpc_urls": .array([.string(base.url), .string(baseMirror.url)])]],
]
var logger = Logger(label: "unrip-doubles")
logger.logLevel = .warning
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: controlPort)), logger: logger)
FileHandle.standardOutput.write(Data((endpoints.serialized() + "\n").utf8))
try await app.runService()
