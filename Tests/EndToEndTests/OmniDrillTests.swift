import BitcoinPlugin
import BitcoinTesting
import Foundation
import PostgresStore
import Synchronization
import Testing
import WatchCore
import WatchTesting

/// The real binary with `[bridge.omni]` beside POA: the Omni address is made through the Omni
/// API double, a BTC deposit to it goes Initialised → Finalised at Omni, and is credited only when
/// the verifier (the NEAR RPC double, read by the host) shows the nBTC rise; every event it
/// produced matches the published schema.
@Suite(.serialized) struct OmniDrillTests {
    static let account = "solver.near"
    static let nbtc = "nep141:nbtc.bridge.near"

    static func config(db: TestDatabase, double: BitcoindDouble, poa: POABridgeDouble, omni: OmniAPIDouble, near: NEARRPCDouble) -> String {
        KillDrillTests.config(db: db, double: double) + """

            [bridge]
            enabled = true
            rpc_url = "\(poa.url)"
            accounts = ["\(account)"]
            poll_interval_ms = 200
            near_rpc_url = "\(near.url)"
            [bridge.chains]
            bitcoin = "btc:mainnet"
            [bridge.omni]
            api_url = "\(omni.url)"
            poll_interval_ms = 200
            required_confirmations = 2
            """
    }

    @Test func anOmniDepositIsCreditedByTheVerifiersNBTCRiseAndItsEventsMatchTheSchema() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let poa = try await POABridgeDouble.start()
        let scripts = Mutex<[String: [UInt8]]>([:])
        let format = AddressFormat(chain: "bitcoin", network: "regtest", bech32HRP: "bcrt", p2pkhVersion: 0x6f, p2shVersions: [0xc4])
        let omni = try await OmniAPIDouble.start(addressFor: { path in
            let script = [UInt8]([0x00, 0x20]) + (Hex.decode(path) ?? [])
            let address = AddressCodec.address(forScript: script, format: format) ?? "invalid"
            scripts.withLock { $0[address] = script }
            return address
        })
        let near = try await NEARRPCDouble.start()
        defer {
            poa.stop()
            omni.stop()
            near.stop()
        }
        near.setBalance(account: Self.account, token: Self.nbtc, "0")
        let host = try HostProcess(config: Self.config(db: db, double: double, poa: poa, omni: omni, near: near), port: try freePort())
        try host.start()
        let port = host.port

        var address = ""
        #expect(await waitUntil(.seconds(30)) {
            address = await BridgeHandlesDrillTests.handles(port).first { $0["bridge"] == "omni" }?["address"]?.stringValue ?? ""
            return !address.isEmpty
        }, "\(host.log.suffix(2000))")
        guard let script = scripts.withLock({ $0[address] }) else {
            _ = await host.terminate()
            Issue.record("no Omni address was made: \(host.log.suffix(2000))")
            return
        }
        #expect(await waitUntil(.seconds(30)) { await BridgeHandlesDrillTests.json(port, "/plugins/bitcoin/state")?["plugin"]?["cursor_height"] == .int(Int64(double.tip.height)) })
        let paid = double.pay(script: script, sats: 150_000, change: 500).txid
        #expect(await waitUntil(.seconds(30)) { await BridgeHandlesDrillTests.observation(port, tx: paid) != nil }, "\(host.log.suffix(2000))")
        double.mine(3)
        #expect(await waitUntil(.seconds(30)) { await BridgeHandlesDrillTests.observation(port, tx: paid)?["state"] == "SEEN_CONFIRMED" })
        let vout = Int(await BridgeHandlesDrillTests.observation(port, tx: paid)?["output_index"]?.int64Value ?? 0)
        omni.addTransfer(txHash: paid, vout: vout, amount: "150000", statuses: ["Initialised"])
        #expect(await waitUntil(.seconds(30)) { await BridgeHandlesDrillTests.observation(port, tx: paid)?["state"] == "CREDIT_PENDING" })
        omni.advance(txHash: paid, vout: vout, to: "Finalised", nearTxHash: "NearOmniTx1")
        #expect(await waitUntil(.seconds(30)) { await BridgeHandlesDrillTests.observation(port, tx: paid)?["bridge_status"] == "Finalised" })
        #expect(await BridgeHandlesDrillTests.observation(port, tx: paid)?["state"] == "CREDIT_PENDING", "Finalised alone is no credit")
        near.setBalance(account: Self.account, token: Self.nbtc, "150000")
        #expect(await waitUntil(.seconds(30)) { await BridgeHandlesDrillTests.observation(port, tx: paid)?["state"] == "CREDITED" }, "\(host.log.suffix(2000))")
        #expect(await BridgeHandlesDrillTests.observation(port, tx: paid)?["match"] == "utxo_output")
        let state = await BridgeHandlesDrillTests.json(port, "/plugins/reconciler/state")
        #expect(state?["plugin"]?["bridges"]?["omni"]?["linked"] == 1, "\(String(describing: state))")

        let events = try await db.pool.withConnection { conn in
            try conn.query("SELECT payload::text AS p FROM outbox WHERE payload->>'schema' = 'unrip.funding_observation.v1' ORDER BY id").compactMap { $0["p"] }
        }
        #expect(events.contains { $0.contains("\"utxo_output\"") && $0.contains(paid) })
        let (status, output) = try await EventSchemaValidator.validate(documents: events)
        #expect(status == 0, "\(output)")
        #expect(await host.terminate() == 0, "\(host.log.suffix(1500))")
    }
}
