import BitcoinPlugin
import BitcoinTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresStore
import Testing
import UnripAdapters
import WatchCore
import WatchHost
import WatchTesting

/// The Bitcoin-family adapter's named scenarios, run for every backend mode, as LND runs its
/// notifier suite over bitcoind ZMQ and RPC polling: a real Litecoin Core node (`litecoind`
/// 0.21, polled: Debian builds it without ZMQ) as `[utxo.litecoin]`, and the bitcoind double
/// as `[bitcoin]` with ZMQ and with polling. Each runs a whole host on PostgreSQL with the POA
/// bridge double. Where the double and the node disagree, the node wins.
@Suite(.serialized) struct UTXOScenarioTests {
    enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case litecoind, doubleZMQ = "double-zmq", doublePolling = "double-polling"
        var testDescription: String { rawValue }
    }

    static let scriptTypes = ["legacy", "p2sh-segwit", "bech32"]

    /// One payment to each script type the wallet makes: seen in the mempool, confirmed at the
    /// configured depth in the node's block, the bech32 one credited by the bridge.
    @Test(arguments: Backend.allCases)
    func paymentsToEachScriptTypeAreSeenConfirmedAndCredited(_ backend: Backend) async throws {
        try await ScenarioWorld.with(backend) { w in
            try await w.withHost {
                var paid: [(txid: String, address: String, sats: Int64)] = []
                for (i, address) in w.handles.enumerated() {
                    let sats = Int64(10_000_000 + i * 1_234_567)
                    paid.append((try await w.chain.pay(address, sats: sats), address, sats))
                }
                for p in paid {
                    #expect(await waitUntil(.seconds(30)) { await w.row(p.txid, address: p.address)?.state == "SEEN_UNCONFIRMED" }, "\(backend) \(p.address)")
                }
                let hashes = try await w.chain.mine(2)
                for p in paid {
                    #expect(await waitUntil(.seconds(30)) { await w.row(p.txid, address: p.address)?.state == "SEEN_CONFIRMED" }, "\(backend) \(p.address)")
                    let row = try #require(await w.row(p.txid, address: p.address))
                    #expect(row.amount == String(p.sats) && row.confirmations == 2 && row.blockHash == hashes.first, "\(backend): \(row)")
                }
                let bech32 = paid[2]
                w.bridge.addDeposit(
                    account: "mm.near", chain: w.chain.bridgeChain, txHash: bech32.txid, address: bech32.address, amount: String(bech32.sats),
                    nearTokenID: w.chain.token, status: "COMPLETED")
                #expect(await waitUntil(.seconds(30)) { await w.row(bech32.txid, address: bech32.address)?.state == "CREDITED" })
            }
        }
    }

    /// A fee bump (BIP125, `bumpfee` on the node) keeps the payment to the handle: the original
    /// is superseded by the replacement, which confirms; nothing pages.
    @Test(arguments: Backend.allCases)
    func aFeeBumpIsSupersededAndPagesNobody(_ backend: Backend) async throws {
        try await ScenarioWorld.with(backend) { w in
            try await w.withHost {
                let address = w.handles[2]
                let original = try await w.chain.pay(address, sats: 40_000_000)
                #expect(await waitUntil(.seconds(30)) { await w.row(original, address: address)?.state == "SEEN_UNCONFIRMED" })
                let bump = try await w.chain.bumpFee(original)
                #expect(bump != original && !bump.isEmpty)
                #expect(await waitUntil(.seconds(30)) { await w.row(original, address: address)?.supersededBy == bump }, "\(backend)")
                let closed = try #require(await w.row(original, address: address))
                #expect(closed.state == "FAILED_OR_STUCK" && closed.reason == "replaced" && closed.doubleSpentBy == nil, "\(closed)")
                try await w.chain.mine(2)
                #expect(await waitUntil(.seconds(30)) { await w.row(bump, address: address)?.state == "SEEN_CONFIRMED" })
                let firing = try await w.firingAlerts()
                #expect(firing == [], "\(backend)")
            }
        }
    }

    /// `invalidateblock` of the block holding a confirmed deposit: demoted (the transaction back
    /// in the mempool), then confirmed again in the new branch's block.
    @Test(arguments: Backend.allCases)
    func anInvalidatedBlockDemotesAndTheNewBranchConfirmsAgain(_ backend: Backend) async throws {
        try await ScenarioWorld.with(backend) { w in
            try await w.withHost {
                let address = w.handles[0]
                let txid = try await w.chain.pay(address, sats: 25_000_000)
                #expect(await waitUntil(.seconds(30)) { await w.row(txid, address: address) != nil })
                try await w.chain.mine(2)
                #expect(await waitUntil(.seconds(30)) { await w.row(txid, address: address)?.state == "SEEN_CONFIRMED" })
                let old = try #require(await w.row(txid, address: address)?.blockHash)
                try await w.chain.invalidate(old)
                #expect(await waitUntil(.seconds(30)) { await w.row(txid, address: address)?.blockHash == nil }, "\(backend): not demoted")
                let events = try await w.events(txid)
                #expect(events.contains("reorged_out"), "\(backend): \(events)")
                let branch = try await w.chain.mine(2)
                #expect(await waitUntil(.seconds(30)) {
                    let row = await w.row(txid, address: address)
                    return row?.state == "SEEN_CONFIRMED" && row?.blockHash == branch.first
                }, "\(backend): not confirmed again in the new branch")
                #expect(branch.first != old)
            }
        }
    }

    /// The host stops; payments are made and mined meanwhile; the next start catches up from the
    /// stored cursor: each deposit once, confirmed.
    @Test(arguments: Backend.allCases)
    func aRestartCatchesUpWhatHappenedMeanwhile(_ backend: Backend) async throws {
        try await ScenarioWorld.with(backend) { w in
            let before = try await w.withHost { () -> String in
                let txid = try await w.chain.pay(w.handles[1], sats: 11_000_000)
                #expect(await waitUntil(.seconds(30)) { await w.row(txid, address: w.handles[1])?.state == "SEEN_UNCONFIRMED" })
                return txid
            }
            let during = try await w.chain.pay(w.handles[2], sats: 12_000_000)
            try await w.chain.mine(3)
            try await w.withHost {
                for (txid, address) in [(before, w.handles[1]), (during, w.handles[2])] {
                    #expect(await waitUntil(.seconds(30)) { await w.row(txid, address: address)?.state == "SEEN_CONFIRMED" }, "\(backend) \(txid)")
                }
                let count = try await w.observationCount()
                #expect(count == 2)
            }
        }
    }

    /// Two UTXO instances side by side: `[bitcoin]` on the double (ZMQ) and `[utxo.litecoin]` on
    /// the real node (polled), each its own plugin, cursor, state and routes; observations carry
    /// their chain and asset.
    @Test func bitcoinAndLitecoinRunSideBySide() async throws {
        let node = try await LitecoindNode.start()
        let double = try await BitcoindDouble.start()
        let db = try await TestDatabase.create()
        let bridge = try await POABridgeDouble.start()
        do {
            try await node.mine(101)
            double.mine(1)
            let ltc = LitecoindChain(node: node), btc = DoubleChain(double: double, zmq: true)
            let ltcAddress = try await ltc.address("bech32"), btcAddress = try await btc.address("bech32")
            let toml = ScenarioWorld.hostTOML(db: db, bridge: bridge, chains: [(btc, [btcAddress]), (ltc, [ltcAddress])])
            let config = try HostConfig.parse(try parseTOML(toml), environment: [:], registry: registeredAdapters)
            #expect(config.adapters.map(\.kind) == ["bitcoin", "litecoin"])
            let prepared = try await UnripHost(config: config, logger: AdapterHarness.quietLogger("side-by-side")).prepare()
            let tips = [("bitcoin", try await btc.tipHeight()), ("litecoin", try await ltc.tipHeight())]
            // Paid once both adapters hold their cursor.
            try await HostHarness.run(prepared, ready: { try await ScenarioWorld.cursorsReached(tips, $0) }) { client in
                let btx = try await btc.pay(btcAddress, sats: 1_500_000)
                let ltx = try await ltc.pay(ltcAddress, sats: 2_500_000)
                _ = try await btc.mine(2)
                _ = try await ltc.mine(2)
                let rows = { () async -> [String: [String: String]] in
                    (try? await db.pool.withConnection { conn in
                        try conn.query("SELECT tx_hash, chain, asset, network, state, amount::text AS amount FROM funding_observations").reduce(into: [:]) { all, r in
                            all[r["tx_hash"] ?? ""] = ["chain": r["chain"] ?? "", "asset": r["asset"] ?? "", "network": r["network"] ?? "", "state": r["state"] ?? "", "amount": r["amount"] ?? ""]
                        }
                    }) ?? [:]
                }
                #expect(await waitUntil(.seconds(30)) { let r = await rows(); return r[btx]?["state"] == "SEEN_CONFIRMED" && r[ltx]?["state"] == "SEEN_CONFIRMED" })
                let found = await rows()
                #expect(found[btx] == ["chain": "bitcoin", "asset": "BTC", "network": "regtest", "state": "SEEN_CONFIRMED", "amount": "1500000"])
                #expect(found[ltx] == ["chain": "litecoin", "asset": "LTC", "network": "regtest", "state": "SEEN_CONFIRMED", "amount": "2500000"])
                let ltcTip = try await ltc.tipHeight(), btcTip = try await btc.tipHeight()
                try await client.execute(uri: "/plugins/litecoin/state", method: .get) { r in
                    #expect(r.json["status"] as? String == "running")
                    #expect((r.json["plugin"] as? [String: Any])?["cursor_height"] as? Int == ltcTip, "\(r.text)")
                }
                try await client.execute(uri: "/plugins/bitcoin/state", method: .get) { r in
                    #expect((r.json["plugin"] as? [String: Any])?["cursor_height"] as? Int == btcTip, "\(r.text)")
                }
                try await client.execute(uri: "/funding/observations?chain=litecoin", method: .get) { r in
                    let list = r.json["observations"] as? [[String: Any]] ?? []
                    #expect(list.count == 1 && list.first?["tx_hash"] as? String == ltx && list.first?["asset"] as? String == "LTC")
                }
            }
        } catch {
            bridge.stop()
            await node.remove()
            throw error
        }
        bridge.stop()
        await node.remove()
    }

    /// Litecoin's MWEB, on the real node only (the double has none): the host watches through
    /// activation (blocks end with a HogEx and carry MWEB data), then a peg-out from MWEB to a
    /// watched address is a deposit when mined: its tx hash the HogEx's, its amount exact.
    @Test func aPegOutToAWatchedAddressIsADepositOfTheHogEx() async throws {
        try await ScenarioWorld.with(.litecoind) { w in
            let node = try #require(w.litecoind)
            try await w.withHost {
                try await node.activateMWEB(pegIn: 2_000_000_000)
                let address = w.handles[2]
                let kernelTxid = try await node.pay(address, sats: 500_000_000, wallet: "mw")
                // The wallet's id of a peg-out is its kernel's: it never confirms under that id.
                let hashes = try await node.mine(1)
                let block = try await node.call("getblock", [.string(hashes[0]), 2])
                let hogEx = try #require(block["tx"]?.arrayValue?.last)
                let hogExTxid = try #require(hogEx["txid"]?.stringValue)
                #expect(hogExTxid != kernelTxid)
                #expect(await waitUntil(.seconds(30)) { await w.row(hogExTxid, address: address) != nil }, "the peg-out was not seen")
                let row = try #require(await w.row(hogExTxid, address: address))
                #expect(row.amount == "500000000" && row.blockHash == hashes[0])
                #expect(await w.row(kernelTxid, address: address) == nil)
                try await node.mine(1)
                #expect(await waitUntil(.seconds(30)) { await w.row(hogExTxid, address: address)?.state == "SEEN_CONFIRMED" })
            }
        }
    }
}

/// A chain a scenario drives, whichever node serves it.
protocol ScenarioChain: Sendable {
    /// The plugin (and chain) name, its config section (2 confirmations, polled every 100 ms,
    /// followed by `extra` lines), its bridge id and token.
    var plugin: String { get }
    func section(extra: [String]) -> String
    var bridgeChain: String { get }
    var asset: String { get }
    var token: String { get }
    /// A fresh address of each script type (`legacy`, `p2sh-segwit`, `bech32`).
    func address(_ type: String) async throws -> String
    func pay(_ address: String, sats: Int64) async throws -> String
    func bumpFee(_ txid: String) async throws -> String
    @discardableResult func mine(_ count: Int) async throws -> [String]
    func invalidate(_ hash: String) async throws
    func tipHeight() async throws -> Int
    func close() async
}

/// The real litecoind, polled.
struct LitecoindChain: ScenarioChain {
    let node: LitecoindNode
    var plugin: String { "litecoin" }
    var bridgeChain: String { "ltc:mainnet" }
    var asset: String { "LTC" }
    var token: String { "nep141:ltc.omft.near" }
    func section(extra: [String]) -> String {
        ([
            "[utxo.litecoin]", "network = \"regtest\"", "rpc_url = \"\(node.rpcURL)\"", "rpc_user = \"\(node.user)\"",
            "rpc_password = \"\(node.password)\"", "rest = true", "confirmations = 2", "poll_interval_ms = 100",
        ] + extra).joined(separator: "\n")
    }
    func address(_ type: String) async throws -> String { try await node.newAddress(type) }
    func pay(_ address: String, sats: Int64) async throws -> String { try await node.pay(address, sats: sats) }
    func bumpFee(_ txid: String) async throws -> String { try await node.bumpFee(txid) }
    func mine(_ count: Int) async throws -> [String] { try await node.mine(count) }
    func invalidate(_ hash: String) async throws { try await node.invalidate(hash) }
    func tipHeight() async throws -> Int { try await node.tip().height }
    func close() async { await node.remove() }
}

/// The bitcoind double, over ZMQ or polled.
struct DoubleChain: ScenarioChain {
    let double: BitcoindDouble
    let zmq: Bool
    var plugin: String { "bitcoin" }
    var bridgeChain: String { "btc:mainnet" }
    var asset: String { "BTC" }
    var token: String { "nep141:btc.omft.near" }
    func section(extra: [String]) -> String { double.bitcoinSection(confirmations: 2, pollIntervalMs: 100, zmq: zmq, extra: extra) }
    /// The double has no wallet: an address of the type with a fresh hash.
    func address(_ type: String) async throws -> String {
        let hash = (0..<20).map { _ in UInt8.random(in: 0...255) }
        let script: [UInt8] =
            switch type {
            case "legacy": [0x76, 0xa9, 0x14] + hash + [0x88, 0xac]
            case "p2sh-segwit": [0xa9, 0x14] + hash + [0x87]
            default: [0x00, 0x14] + hash
            }
        return try #require(AddressCodec.address(forScript: script, network: .regtest))
    }
    func pay(_ address: String, sats: Int64) async throws -> String {
        double.pay(script: try AddressCodec.scriptPubKey(for: address, network: .regtest), sats: sats, change: 5_000_000).txid
    }
    /// What `bumpfee` does: the same inputs and payment, less change.
    func bumpFee(_ txid: String) async throws -> String {
        let original = try #require(double.mempoolTransaction(txid))
        var outputs = original.outputs
        outputs[outputs.count - 1].value -= 10_000
        let bump = DoubleTransaction(inputs: original.inputs, outputs: outputs)
        double.replace(txid, with: bump)
        return bump.txid
    }
    func mine(_ count: Int) async throws -> [String] {
        let first = double.tip.height + 1
        double.mine(count)
        return (first..<(first + count)).compactMap { double.block(at: $0)?.hash }
    }
    func invalidate(_ hash: String) async throws { double.invalidate(hash) }
    func tipHeight() async throws -> Int { double.tip.height }
    func close() async {}
}

/// A database, the POA bridge double, a chain with three watched addresses (one per script
/// type), and the config of a host watching them.
final class ScenarioWorld: Sendable {
    let db: TestDatabase
    let bridge: POABridgeDouble
    let chain: any ScenarioChain
    let handles: [String]
    let config: HostConfig
    var litecoind: LitecoindNode? { (chain as? LitecoindChain)?.node }

    init(db: TestDatabase, bridge: POABridgeDouble, chain: any ScenarioChain, handles: [String], config: HostConfig) {
        self.db = db
        self.bridge = bridge
        self.chain = chain
        self.handles = handles
        self.config = config
    }

    /// Runs `body` on a fresh world, closed after it (the node stopped, its data removed).
    static func with(_ backend: UTXOScenarioTests.Backend, _ body: (ScenarioWorld) async throws -> Void) async throws {
        let world = try await make(backend)
        do {
            try await body(world)
        } catch {
            await world.close()
            throw error
        }
        await world.close()
    }

    static func make(_ backend: UTXOScenarioTests.Backend) async throws -> ScenarioWorld {
        let chain: any ScenarioChain
        switch backend {
        case .litecoind:
            chain = LitecoindChain(node: try await LitecoindNode.start())
        case .doubleZMQ, .doublePolling:
            chain = DoubleChain(double: try await BitcoindDouble.start(), zmq: backend == .doubleZMQ)
        }
        do {
            return try await make(on: chain)
        } catch {
            await chain.close()
            throw error
        }
    }

    private static func make(on chain: any ScenarioChain) async throws -> ScenarioWorld {
        try await chain.mine(chain is LitecoindChain ? 101 : 1)  // a mature coinbase to pay from
        var handles: [String] = []
        for type in UTXOScenarioTests.scriptTypes { handles.append(try await chain.address(type)) }
        let db = try await TestDatabase.create()
        let bridge = try await POABridgeDouble.start()
        let toml = hostTOML(db: db, bridge: bridge, chains: [(chain, handles)])
        let config = try HostConfig.parse(try parseTOML(toml), environment: [:], registry: registeredAdapters)
        return ScenarioWorld(db: db, bridge: bridge, chain: chain, handles: handles, config: config)
    }

    /// A host's config: alerts at once, each chain's section with `handles`, the POA bridge with
    /// each chain's token.
    static func hostTOML(db: TestDatabase, bridge: POABridgeDouble, chains: [(any ScenarioChain, [String])]) -> String {
        var toml = """
            [database]
            url = "\(db.url)"
            migrations_dir = "\(TestDatabase.migrationsDirectory)"
            [http]
            listen = "127.0.0.1:0"
            [alerts]
            for_s = 0
            eval_interval_ms = 100
            stale_price_max_age_s = 0
            stale_inventory_max_age_s = 0
            watchdog = false

            """
        for (chain, handles) in chains {
            let list = handles.map { "{ address = \"\($0)\", label = \"mm\" }" }.joined(separator: ", ")
            toml += chain.section(extra: ["reorg_grace_blocks = 3", "replacement_grace_ms = 300", "handles = [\(list)]"]) + "\n\n"
        }
        toml += """
            [bridge]
            enabled = true
            rpc_url = "\(bridge.url)"
            accounts = ["mm.near"]
            poll_interval_ms = 100

            """
        for (chain, _) in chains { toml += "[bridge.tokens.\(chain.plugin)]\n\(chain.asset) = \"\(chain.token)\"\n" }
        return toml
    }

    /// Runs a host until `body` returns, once its adapter reached the node's tip.
    func withHost<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        let prepared = try await UnripHost(config: config, logger: AdapterHarness.quietLogger("utxo-scenario")).prepare()
        let tip = (chain.plugin, try await chain.tipHeight())
        return try await HostHarness.run(prepared, ready: { try await Self.cursorsReached([tip], $0) }) { _ in try await body() }
    }

    /// Waits until each plugin's cursor reached its node's tip height (a fresh cursor starts at
    /// the tip: what is mined before it is history to the adapter).
    static func cursorsReached(_ tips: [(plugin: String, height: Int)], _ supervisors: [PluginSupervisor]) async throws {
        for (name, tip) in tips {
            let adapter = try #require(supervisors.first { $0.name == name })
            #expect(await waitUntil(.seconds(30)) { (await adapter.state()["plugin"]?["cursor_height"]?.int64Value ?? -1) >= Int64(tip) }, "\(name)")
        }
    }

    struct Row: Sendable, CustomStringConvertible {
        var state: String?, reason: String?, amount: String?, confirmations: Int?, blockHash: String?
        var supersededBy: String?, doubleSpentBy: String?
        var description: String { "\(state ?? "") \(reason ?? "") \(amount ?? "") conf=\(confirmations ?? -1) block=\(blockHash ?? "nil")" }
    }

    func row(_ txid: String, address: String) async -> Row? {
        try? await db.pool.withConnection { conn in
            try conn.query(
                "SELECT state, reason, amount::text AS amount, confirmations, block_hash, superseded_by, double_spent_by FROM funding_observations WHERE tx_hash = $1 AND address = $2",
                [txid, address]
            ).first.map { r in
                Row(
                    state: r["state"], reason: r["reason"], amount: r["amount"], confirmations: r.int("confirmations"), blockHash: r["block_hash"],
                    supersededBy: r["superseded_by"], doubleSpentBy: r["double_spent_by"])
            }
        }
    }

    func events(_ txid: String) async throws -> [String] {
        try await db.pool.withConnection { conn in
            try conn.query(
                "SELECT e.kind FROM funding_observation_events e JOIN funding_observations o ON o.id = e.observation_id WHERE o.tx_hash = $1 ORDER BY e.id",
                [txid]
            ).compactMap { $0["kind"] }
        }
    }

    func observationCount() async throws -> Int {
        try await db.pool.withConnection { conn in try conn.query("SELECT count(*) AS n FROM funding_observations").first?.int("n") ?? -1 }
    }

    /// The alerts firing after one evaluation now (the host's evaluator decides from the same rows).
    func firingAlerts() async throws -> [String] {
        try await ReplacementAlertTests.evaluate(pool: db.pool, topic: config.topicAlerts)
        return await ReplacementAlertTests.firing(pool: db.pool)
    }
    func close() async {
        bridge.stop()
        await chain.close()
    }
}
