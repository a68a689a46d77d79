import BitcoinTesting
import Alerting
import BitcoinPlugin
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresStore
import Testing
import WatchCore
import UnripAdapters
import WatchHost
import WatchTesting

/// Replacements as an operator meets them (issue 11): a fee bump to the same handle pages
/// nobody; a double spend away pages until a person resolves it, across a restart.
@Suite(.serialized) struct ReplacementAlertTests {
    static let handle = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    static var script: [UInt8] { try! AddressCodec.scriptPubKey(for: handle, network: .regtest) }
    static let elsewhere: [UInt8] = [0x00, 0x14] + [UInt8](repeating: 0xab, count: 20)
    static let token = "nep141:btc.omft.near"
    /// A script nobody watches: the slow-joiner probe pays it.
    static let nobody: [UInt8] = [0x00, 0x14] + [UInt8](repeating: 0xcd, count: 20)

    struct World {
        let db: TestDatabase
        let double: BitcoindDouble
        let bridge: POABridgeDouble
        let config: HostConfig
    }

    static func world(bitcoin extra: String = "", zmq: Bool = true) async throws -> World {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        let bridge = try await POABridgeDouble.start()
        let toml = """
            [database]
            url = "\(db.url)"
            migrations_dir = "\(TestDatabase.migrationsDirectory)"
            [http]
            listen = "127.0.0.1:0"
            [control]
            token = "\(HostHarness.token)"
            [alerts]
            for_s = 0
            eval_interval_ms = 100
            stale_price_max_age_s = 0
            stale_inventory_max_age_s = 0
            watchdog = false
            [bitcoin]
            enabled = true
            network = "regtest"
            rpc_url = "\(double.rpcURL)"
            rpc_user = "\(double.user)"
            rpc_password = "\(double.password)"
            \(zmq ? "zmq_sequence = \"\(double.zmqEndpoints["sequence"]!)\"" : "")
            \(zmq ? "zmq_rawtx = \"\(double.zmqEndpoints["rawtx"]!)\"" : "")
            \(zmq ? "zmq_rawblock = \"\(double.zmqEndpoints["rawblock"]!)\"" : "")
            confirmations = 2
            reorg_grace_blocks = 3
            poll_interval_ms = 100
            replacement_grace_ms = 300
            handles = [{ address = "\(handle)", asset = "BTC", label = "hot" }]
            watchdog_interval_ms = 100
            \(extra)
            [bridge]
            enabled = true
            rpc_url = "\(bridge.url)"
            accounts = ["mm.near"]
            poll_interval_ms = 100
            [bridge.chains]
            bitcoin = "btc:mainnet"
            [bridge.tokens]
            BTC = "\(token)"
            """
        let config = try HostConfig.parse(try parseTOML(toml), environment: [:], registry: registeredAdapters)
        return World(db: db, double: double, bridge: bridge, config: config)
    }

    /// Runs a host on `world` for the duration of `body`.
    static func withHost<T: Sendable>(_ w: World, _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let prepared = try await UnripHost(config: w.config, logger: Logger(label: "replacement-test")).prepare()
        return try await HostHarness.run(prepared, ready: { supervisors in
            let bitcoin = try #require(supervisors.first { $0.name == "bitcoin" })
            #expect(await waitUntil { await bitcoin.state()["plugin"]?["cursor_height"] == .int(Int64(w.double.tip.height)) })
            // ZMQ's slow joiner: the subscription is live once a message arrives; a payment to a
            // script nobody watches is published until one does (none is needed when polling).
            guard (await bitcoin.state()["plugin"]?["ingest"]?.stringValue)?.hasPrefix("zmq") == true else { return }
            #expect(await waitUntil(.seconds(10), every: .milliseconds(50)) {
                if (await bitcoin.state()["plugin"]?["zmq"]?["received"]?.int64Value ?? 0) > 0 { return true }
                w.double.pay(script: Self.nobody, sats: 1)
                return false
            }, "the host's ZMQ subscription never received a message")
        }, body)
    }

    static func row(_ w: World, _ txid: String) async -> [String: String?]? {
        try? await w.db.pool.withConnection { conn in
            try conn.query("SELECT state, reason, replaced_by, superseded_by, double_spent_by, block_height::text AS height FROM funding_observations WHERE tx_hash = $1", [txid]).first
                .map { r in
                    ["state": r["state"], "reason": r["reason"], "replaced_by": r["replaced_by"], "superseded_by": r["superseded_by"],
                     "double_spent_by": r["double_spent_by"], "block_height": r["height"]]
                }
        }
    }

    /// One evaluation now, by the test (the host's evaluator runs too: both decide from the same rows).
    static func evaluate(_ w: World) async throws { try await evaluate(pool: w.db.pool, topic: w.config.topicAlerts) }

    static func evaluate(pool: PostgresPool, topic: String) async throws {
        let config = AlertsConfig(stalePriceMaxAgeSeconds: 0, staleInventoryMaxAgeSeconds: 0, forSeconds: 0)
        _ = try await AlertStore(pool: pool, topic: topic).evaluate(now: Date(), config: config, health: nil)
    }

    static func firing(_ w: World) async -> [String] { await firing(pool: w.db.pool) }

    static func firing(pool: PostgresPool) async -> [String] {
        (try? await pool.withConnection { conn in
            try conn.query("SELECT alert_key FROM alert_state WHERE status = 'firing' ORDER BY alert_key").compactMap { $0["alert_key"] }
        }) ?? []
    }

    @Test func aFeeBumpToTheSameHandleIsSupersededCreditedAndPagesNobody() async throws {
        let w = try await Self.world()
        defer { w.bridge.stop() }
        try await Self.withHost(w) { _ in
            let original = w.double.pay(script: Self.script, sats: 400_000)
            #expect(await waitUntil { await Self.row(w, original.txid)?["state"] == "SEEN_UNCONFIRMED" })
            let bump = DoubleTransaction(inputs: original.inputs, outputs: [(399_000, Self.script)])
            w.double.replace(original.txid, with: bump)
            #expect(await waitUntil { await Self.row(w, original.txid)?["superseded_by"] == bump.txid })
            let closed = try #require(await Self.row(w, original.txid))
            #expect(closed["state"] == "FAILED_OR_STUCK" && closed["reason"] == "replaced" && closed["replaced_by"] == bump.txid)
            #expect(closed["double_spent_by"] == .some(nil))
            // The replacement is its own transfer: mined, confirmed, credited by the bridge.
            w.double.mine(2)
            #expect(await waitUntil { await Self.row(w, bump.txid)?["state"] == "SEEN_CONFIRMED" })
            w.bridge.addDeposit(account: "mm.near", chain: "btc:mainnet", txHash: bump.txid, address: Self.handle, amount: "399000", nearTokenID: Self.token, status: "COMPLETED")
            #expect(await waitUntil { await Self.row(w, bump.txid)?["state"] == "CREDITED" })
            // Decided after every step above: no alert for either transfer.
            try await Self.evaluate(w)
            #expect(await Self.firing(w) == [])
            // The timeline event of the replacement carries both amounts.
            let details = try await w.db.pool.withConnection { conn in
                try conn.query(
                    "SELECT e.details::text AS d FROM funding_observation_events e JOIN funding_observations o ON o.id = e.observation_id WHERE o.tx_hash = $1 AND e.kind = 'replaced'",
                    [original.txid]
                ).first?["d"]
            }
            let parsed = try JSONValue.parse(try #require(details))
            #expect(parsed["replacement"] == "superseded" && parsed["original_amount"] == "400000" && parsed["replacement_amount"] == "399000")
        }
    }

    /// A mined fee bump that a reorg swaps back for the original it replaced: the original is in
    /// a block again, the bump gone for good. The bump is superseded by the original (no page),
    /// not `reorged_out` after the grace.
    @Test(arguments: [false, true])
    func aReorgThatSwapsTheOriginalBackForItsMinedFeeBumpPagesNobody(polling: Bool) async throws {
        // Polling: the adapter sees neither ZMQ's R notice nor the mempool's reason.
        let w = try await Self.world(zmq: !polling)
        defer { w.bridge.stop() }
        try await Self.withHost(w) { _ in
            let original = w.double.pay(script: Self.script, sats: 300_000)
            #expect(await waitUntil { await Self.row(w, original.txid)?["state"] == "SEEN_UNCONFIRMED" })
            let bump = DoubleTransaction(inputs: original.inputs, outputs: [(299_000, Self.script)])
            w.double.replace(original.txid, with: bump)
            w.double.mine(1)
            #expect(await waitUntil(.seconds(20)) { await Self.row(w, bump.txid)?["block_height"] != nil })
            w.double.reorgReplacing(bump, with: original)
            w.double.mine(4)  // past reorg_grace_blocks = 3
            #expect(await waitUntil(.seconds(20)) { await Self.row(w, original.txid)?["state"] == "SEEN_CONFIRMED" })
            #expect(await waitUntil(.seconds(20)) { await Self.row(w, bump.txid)?["state"] == "FAILED_OR_STUCK" })
            let gone = try #require(await Self.row(w, bump.txid))
            #expect(gone["reason"] == "replaced" && gone["superseded_by"] == .some(original.txid), "\(gone)")
            try await Self.evaluate(w)
            let firing = await Self.firing(w)
            #expect(!firing.contains { $0.hasPrefix("funding_not_credited") }, "\(firing)")
        }
    }

    /// A deposit a person marked stuck keeps the mark, but a double spend away still records
    /// who spent it and pages: the person's hold covers the state, not the chain's facts.
    @Test func aDepositMarkedStuckAndThenDoubleSpentAwayStillPages() async throws {
        let w = try await Self.world()
        defer { w.bridge.stop() }
        try await Self.withHost(w) { _ in
            let original = w.double.pay(script: Self.script, sats: 260_000)
            #expect(await waitUntil { await Self.row(w, original.txid)?["state"] == "SEEN_UNCONFIRMED" })
            let id = try #require(try await FundingRepository(pool: w.db.pool).listObservations(ObservationFilter(limit: 10)).first { $0.txHash == original.txid }?.id)
            _ = try await FundingRepository(pool: w.db.pool).markStuck(id: id, text: "checking with the sender", at: Date())
            var away = DoubleTransaction(inputs: original.inputs, outputs: [(259_000, Self.elsewhere)])
            away.signalsReplacement = false
            w.double.replace(original.txid, with: away)
            #expect(await waitUntil { await Self.row(w, original.txid)?["double_spent_by"] == away.txid })
            let row = try #require(await Self.row(w, original.txid))
            #expect(row["state"] == "FAILED_OR_STUCK" && row["reason"] == "manual: checking with the sender", "\(row)")
            #expect(await waitUntil { await Self.firing(w).contains("funding_double_spent:bitcoin:\(original.txid):0") })
        }
    }

    @Test func aDoubleSpendAwayFiresUntilAPersonResolvesItEvenAcrossARestart() async throws {
        let w = try await Self.world()
        defer { w.bridge.stop() }
        // A replacement that does not signal RBF: the adapter goes by the inputs it spends.
        let key = try await Self.withHost(w) { client -> String in
            let original = w.double.pay(script: Self.script, sats: 250_000)
            #expect(await waitUntil { await Self.row(w, original.txid)?["state"] == "SEEN_UNCONFIRMED" })
            var away = DoubleTransaction(inputs: original.inputs, outputs: [(249_000, Self.elsewhere)])
            away.signalsReplacement = false
            w.double.replace(original.txid, with: away)
            #expect(await waitUntil { await Self.row(w, original.txid)?["double_spent_by"] == away.txid })
            let key = "funding_double_spent:bitcoin:\(original.txid):0"
            #expect(await waitUntil { await Self.firing(w).contains(key) })
            #expect(!(await Self.firing(w)).contains { $0.hasPrefix("funding_not_credited") })
            try await client.execute(uri: "/plugins/alerts/state", method: .get) { r in
                let active = (r.json["active"] as? [[String: Any]]) ?? []
                let alert = active.first { $0["key"] as? String == key }
                #expect(alert?["severity"] as? String == "critical")
                let details = alert?["details"] as? [String: Any]
                #expect(details?["original_txid"] as? String == original.txid && details?["replacing_txid"] as? String == away.txid)
                #expect(details?["amount"] as? String == "250000")
                #expect((alert?["labels"] as? [String: String])?["handle"] == Self.handle)
            }
            return key
        }
        // A restart: still firing, not raised twice.
        try await Self.withHost(w) { client in
            try await Self.evaluate(w)
            #expect(await Self.firing(w).contains(key))
            let raised = try await w.db.pool.withConnection { conn in
                try conn.query("SELECT count(*) AS n FROM alert_events WHERE alert_key = $1 AND status = 'firing'", [key]).first?.int("n")
            }
            #expect(raised == 1)
            // Only a person resolves it: bearer token, reason required.
            try await client.execute(uri: "/alerts/\(key)/resolve", method: .post, body: ByteBuffer(string: #"{"reason":"refunded"}"#)) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/alerts/\(key)/resolve", method: .post, headers: auth(), body: ByteBuffer(string: #"{"by":"alice"}"#)) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: "/alerts/nope:x/resolve", method: .post, headers: auth(), body: ByteBuffer(string: #"{"reason":"x"}"#)) { r in
                #expect(r.status == .notFound)
            }
            try await client.execute(
                uri: "/alerts/\(key)/resolve", method: .post, headers: auth(),
                body: ByteBuffer(string: #"{"reason":"sender refunded off-chain","by":"alice"}"#)
            ) { r in
                #expect(r.status == .ok, "\(r.text)")
            }
            try await Self.evaluate(w)
            #expect(!(await Self.firing(w)).contains(key))
            let record = try await w.db.pool.withConnection { conn in
                try conn.query("SELECT resolved_by, resolve_reason FROM alert_events WHERE alert_key = $1 AND status = 'resolved'", [key]).first
            }
            #expect(record?["resolved_by"] == "alice" && record?["resolve_reason"] == "sender refunded off-chain")
            try await client.execute(uri: "/alerts/\(key)/resolve", method: .post, headers: auth(), body: ByteBuffer(string: #"{"reason":"again"}"#)) { r in
                #expect(r.status == .conflict)
            }
        }
    }

    @Test func aReplacedTransferBroughtBackByAReorgReopens() async throws {
        let w = try await Self.world()
        defer { w.bridge.stop() }
        try await Self.withHost(w) { _ in
            let original = w.double.pay(script: Self.script, sats: 120_000)
            #expect(await waitUntil { await Self.row(w, original.txid)?["state"] == "SEEN_UNCONFIRMED" })
            let bump = DoubleTransaction(inputs: original.inputs, outputs: [(119_000, Self.script)])
            w.double.replace(original.txid, with: bump)
            #expect(await waitUntil { await Self.row(w, original.txid)?["superseded_by"] == bump.txid })
            w.double.mine(1)
            #expect(await waitUntil { await Self.row(w, bump.txid)?["block_height"] == .some(String(w.double.tip.height)) })
            // A reorg: the block with the bump is replaced by one with the original.
            w.double.reorgReplacing(bump, with: original)
            // Two blocks on the new branch: the original is back and (confirmations = 2) confirmed.
            let back = await waitUntil { await Self.row(w, original.txid)?["state"] == "SEEN_CONFIRMED" }
            let seen = (await Self.row(w, original.txid), await Self.row(w, bump.txid))
            #expect(back, "original, bump: \(String(describing: seen))")
            let reopened = try #require(await Self.row(w, original.txid))
            #expect(reopened["reason"] == .some(nil) && reopened["superseded_by"] == .some(nil))
            #expect(reopened["block_height"] == .some(String(w.double.tip.height - 1)))
        }
    }
}
