import BitcoinTesting
import Foundation
import JSONRPCClient
import KafkaBus
import PostgresStore
import Testing
import WatchCore
import EVMTesting
import WatchTesting

/// Hostile peers against the real binary, every input but HTTP (HostileHTTPTests has that):
/// junk ZMQ frames, hostile bitcoind and bridge JSON-RPC replies, Kafka input messages with
/// every field at its boundaries. The host never crashes or hangs, answers `/healthz` with
/// JSON throughout, leaks no secret, dead-letters what it cannot store and goes on, and follows
/// a deposit once the peers behave. `UNRIP_HOSTILE_ROUNDS` (default 1) runs it longer.
@Suite(.serialized) struct HostileInputDrillTests {
    static let secret = "bridge-s3cret-9d1"
    static var rounds: Int { Int(ProcessInfo.processInfo.environment["UNRIP_HOSTILE_ROUNDS"] ?? "") ?? 1 }

    static func config(db: TestDatabase, double: BitcoindDouble, bridge: POABridgeDouble, evm: String, kafka: String) -> String {
        let bridgeURL = bridge.url.replacingOccurrences(of: "http://", with: "http://operator:\(secret)@")
        return KillDrillTests.config(db: db, double: double) + """

            [gnosis]
            enabled = true
            rpc_url = "\(evm)"
            chain_id = 100
            poll_interval_ms = 100
            confirmations = 2
            handles = [{ address = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", asset = "EURe" }]

            [bridge]
            enabled = true
            rpc_url = "\(bridgeURL)"
            accounts = ["solver.near"]
            poll_interval_ms = 100
            timeout_s = 2
            [bridge.chains]
            bitcoin = "btc:mainnet"
            gnosis = "eth:100"
            [kafka]
            brokers = ["\(kafka)"]
            [kafka.properties]
            "session.timeout.ms" = "6000"
            "heartbeat.interval.ms" = "1000"
            """
    }

    /// Every field of every input schema at its boundaries, plus bytes that are no JSON at all.
    static func hostileMessages(using rng: inout SeededGenerator) -> [(topic: String, value: [UInt8])] {
        let examples: [(String, [String: String])] = [
            ("unrip.reference_prices", ["schema": #""unrip.reference_price.v1""#, "occurred_at": #""2026-05-01T12:00:00Z""#, "pair": #""BTC/EUR""#, "price": #""61234.50""#, "source": #""kraken""#]),
            ("unrip.inventory_snapshots", ["schema": #""unrip.inventory_snapshot.v1""#, "occurred_at": #""2026-05-01T12:00:00Z""#, "snapshot_id": #""snap-1""#, "account_id": #""solver.near""#, "balances": #"{"nep141:btc.omft.near": "150000"}"#]),
            ("unrip.execution_results", ["schema": #""unrip.execution_result.v1""#, "occurred_at": #""2026-05-01T12:00:01Z""#, "quote_id": #""q-1""#, "request_id": "17", "outcome": #""rpc_error""#, "error": #"{"code": -32000, "message": "expired"}"#]),
        ]
        let boundary = [
            "null", "0", "-1", "1e400", "99999999999999999999999999999", #""""#, #""\u0000""#, #""0000-01-01T00:00:00Z""#,
            #""0001-01-01T00:00:00Z""#, #""9999-12-31T23:59:59Z""#, #""10000-01-01T00:00:00Z""#, #""1969-12-31T23:59:59Z""#,
            #""-5""#, #""1e3""#, #""NaN""#, "[]", "{}", #"{"x": "\ud800"}"#, "\"" + String(repeating: "z", count: 20_000) + "\"",
            #"{"nep141:btc.omft.near": "-1"}"#, #"{"nep141:btc.omft.near": 5}"#,
        ]
        var out: [(String, [UInt8])] = []
        for (topic, fields) in examples {
            for field in fields.keys.sorted() + ["event_id"] {
                for value in boundary {
                    var message = fields
                    message["event_id"] = "\"\(UUID().uuidString.lowercased())\""
                    message[field] = value
                    if rng.next() % 8 == 0 { message[field] = nil }
                    let text = "{" + message.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
                    out.append((topic, Array(text.utf8)))
                }
            }
            out.append((topic, [0xff, 0xfe, 0x00, 0x7b]))
            out.append((topic, []))
            out.append((topic, Array(String(repeating: "[", count: 20_000).utf8)))
        }
        return out
    }

    static func junkFrames(using rng: inout SeededGenerator) -> [(topic: String, body: [UInt8])] {
        var out: [(String, [UInt8])] = []
        for _ in 0..<200 {
            let topic = ["rawtx", "rawblock", "sequence", "hashblock"][Int(rng.next() % 4)]
            let count = [0, 1, 32, 33, 80, 81, 1_000, 70_000][Int(rng.next() % 8)]
            out.append((topic, (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
        }
        return out
    }

    @Test func hostilePeersNeitherCrashNorBlindNorLeak() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let bridge = try await POABridgeDouble.start()
        defer { bridge.stop() }
        let kafka = try await TestBroker.start(topics: [
            "unrip.funding.observations", "unrip.alerts", "unrip.reference_prices", "unrip.inventory_snapshots", "unrip.execution_results",
        ])
        defer { kafka.stop() }
        let evm = EVMNodeDouble(chain: EVMChainModel(chainId: 100, tip: 100))
        let evmURL = try await evm.start()
        defer { Task { await evm.stop() } }
        let host = try HostProcess(config: Self.config(db: db, double: double, bridge: bridge, evm: evmURL, kafka: kafka.bootstrap), port: try freePort())
        try host.start()
        let base = "http://127.0.0.1:\(host.port)"
        func answer(_ path: String) async -> String? {
            do {
                return String(decoding: try await JSONRPCClient(.init(url: base, timeout: .seconds(10))).get(path), as: UTF8.self)
            } catch {
                if case .http(let status, let body) = error, status == 503 { return body }
                return nil
            }
        }
        #expect(await waitUntil(.seconds(30)) { await answer("/healthz") != nil }, "\(host.log.suffix(1500))")
        let producer = try KafkaProducer(config: KafkaClientConfig(brokers: [kafka.bootstrap]))
        var rng = SeededGenerator(seed: 0x5EED)
        var unanswered: [String] = []

        for round in 0..<Self.rounds {
            // ZMQ: junk on every topic.
            for (topic, body) in Self.junkFrames(using: &rng) { double.publishZMQ(topic, body) }
            // JSON-RPC: every bitcoind and bridge reply hostile for a while.
            double.setHostile(seed: UInt64(round) + 1)
            bridge.setFault(.hostile(UInt64(round) + 7))
            evm.setHostile(seed: UInt64(round) + 13)
            let until = ContinuousClock.now + .seconds(3)
            while ContinuousClock.now < until {
                for path in ["/healthz", "/state", "/plugins/bitcoin/state", "/plugins/gnosis/state", "/plugins/reconciler/state"] {
                    guard let text = await answer(path) else {
                        unanswered.append(path)
                        continue
                    }
                    #expect(text.hasPrefix("{"), "\(path) answered non-JSON: \(text.prefix(200))")
                    #expect(!text.contains(Self.secret), "\(path) leaked the bridge password")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            double.setHostile(seed: nil)
            bridge.setFault(.none)
            evm.setHostile(seed: nil)
            // Kafka: every input field at its boundaries, then one good price.
            let messages = Self.hostileMessages(using: &rng)
            let results = await producer.send(messages.map { KafkaOutgoingMessage(topic: $0.topic, key: "hostile", value: $0.value) })
            #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
            let good = UUID().uuidString.lowercased()
            _ = await producer.send([KafkaOutgoingMessage(
                topic: "unrip.reference_prices", key: "BTC/EUR",
                value: Array(#"{"schema":"unrip.reference_price.v1","event_id":"\#(good)","occurred_at":"2026-11-25T00:00:00Z","pair":"BTC/EUR","price":"90000.5","source":"drill"}"#.utf8))])
            let stored = await waitUntil(.seconds(60)) {
                ((try? await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM reference_prices WHERE event_id = $1::uuid", [good]).first?.int("n") }) ?? nil) == 1
            }
            #expect(stored, "the good price after the hostile ones was not stored: \(host.log.suffix(2000))")
        }
        await producer.close()
        #expect(unanswered.count <= 2, "the host did not answer: \(unanswered)")
        let deadLetters = try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM dead_letters").first?.int("n") }
        #expect((deadLetters ?? 0) > 0, "hostile Kafka messages were not dead-lettered")

        // Once the peers behave, the host follows a deposit as if nothing happened.
        let paid = double.pay(script: KillDrillTests.script, sats: 12_345, change: 500).txid
        double.mine(2)
        let repository = FundingRepository(pool: db.pool)
        #expect(await waitUntil(.seconds(60)) {
            (try? await repository.listObservations(ObservationFilter(limit: 100)))?.first { $0.txHash == paid }?.state == "SEEN_CONFIRMED"
        }, "\(host.log.suffix(2000))")
        let eure = evm.transfer(to: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", amount: Amount(decimal: "1500000000000000000")!)
        evm.mine(3)
        #expect(await waitUntil(.seconds(60)) {
            (try? await repository.listObservations(ObservationFilter(limit: 100)))?.first { $0.txHash == eure }?.state == "SEEN_CONFIRMED"
        }, "the Gnosis adapter follows a transfer after the hostile replies: \(host.log.suffix(2000))")
        #expect(!host.log.contains(Self.secret), "the log leaked the bridge password")
        #expect(await host.terminate() == 0, "graceful stop after the hostile peers")
    }
}
