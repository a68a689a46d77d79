import BitcoinTesting
import Foundation
import JSONRPCClient
import Testing
import WatchCore
import WatchTesting

/// The real binary with no BTC handle in its config: the bridge double hands out the deposit
/// address, rotates it, reports balance-based deposits without a tx hash and takes
/// `notify_deposit`; handles are added and retired over HTTP. Nothing is restarted by hand
/// except where the test says so.
@Suite(.serialized) struct BridgeHandlesDrillTests {
    static let account = "solver.near"
    // Regtest P2WPKH addresses of the programs 0x11…, 0x22…, 0x33… (20 bytes each).
    static let first = ("bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c", [UInt8]([0x00, 0x14]) + Array(repeating: 0x11, count: 20))
    static let second = ("bcrt1qyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zs4w3j0", [UInt8]([0x00, 0x14]) + Array(repeating: 0x22, count: 20))
    static let third = ("bcrt1qxvenxvenxvenxvenxvenxvenxvenxvenztev8a", [UInt8]([0x00, 0x14]) + Array(repeating: 0x33, count: 20))

    static func config(db: TestDatabase, double: BitcoindDouble, bridge: POABridgeDouble) -> String {
        KillDrillTests.config(db: db, double: double, handles: false) + """

            [alerts]
            eval_interval_ms = 200
            for_s = 0
            [bridge]
            enabled = true
            rpc_url = "\(bridge.url)"
            accounts = ["\(account)"]
            poll_interval_ms = 200
            handles_from_bridge = true
            deposit_address_refresh_s = 1
            notify_deposit = true
            [bridge.chains]
            bitcoin = "btc:mainnet"
            """
    }

    static func json(_ port: Int, _ path: String) async -> JSONValue? {
        guard let body = try? await JSONRPCClient(.init(url: "http://127.0.0.1:\(port)", timeout: .seconds(5))).get(path) else { return nil }
        return try? JSONValue.parse(body)
    }

    static func handles(_ port: Int) async -> [JSONValue] { await json(port, "/funding/handles")?["handles"]?.arrayValue ?? [] }

    static func observation(_ port: Int, tx: String) async -> JSONValue? {
        await json(port, "/funding/observations?limit=1000")?["observations"]?.arrayValue?.first { $0["tx_hash"]?.stringValue == tx }
    }

    static func post(_ port: Int, _ path: String, _ body: String) async throws -> HTTPResponse {
        try await HTTPPostClient(timeout: .seconds(10), headers: ["Authorization: Bearer drill-token"]).post(url: "http://127.0.0.1:\(port)" + path, json: Array(body.utf8))
    }

    @Test func handlesComeFromTheBridgeRotateAndAreAddedOverHTTPWithoutARestart() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let bridge = try await POABridgeDouble.start()
        defer { bridge.stop() }
        bridge.setDepositAddress(account: Self.account, chain: "btc:mainnet", Self.first.0)
        var host = try HostProcess(config: Self.config(db: db, double: double, bridge: bridge), port: try freePort())
        try host.start()
        let port = host.port

        // No handle in the config: the bridge's address is watched, observed and credited by balance.
        #expect(await waitUntil(.seconds(30)) { await Self.handles(port).contains { $0["address"]?.stringValue == Self.first.0 && $0["source"] == "bridge" } }, "\(host.log.suffix(2000))")
        let paid = double.pay(script: Self.first.1, sats: 60_000, change: 500).txid
        #expect(await waitUntil(.seconds(30)) { await Self.observation(port, tx: paid) != nil }, "the bridge-given handle is watched: \(host.log.suffix(2000))")
        double.mine(2)
        #expect(await waitUntil(.seconds(30)) { await Self.observation(port, tx: paid)?["state"] == "SEEN_CONFIRMED" })
        bridge.addDeposit(account: Self.account, chain: "btc:mainnet", txHash: nil, address: Self.first.0, amount: "60000", nearTokenID: "btc.omft.near", status: "COMPLETED")
        #expect(await waitUntil(.seconds(30)) { await Self.observation(port, tx: paid)?["state"] == "CREDITED" })
        #expect(await Self.observation(port, tx: paid)?["match"] == "address_amount")

        // Rotation: the new address is watched, the old one still is, and the alert fires.
        bridge.setDepositAddress(account: Self.account, chain: "btc:mainnet", Self.second.0)
        #expect(await waitUntil(.seconds(30)) {
            let all = await Self.handles(port)
            return all.contains { $0["address"]?.stringValue == Self.second.0 && $0["active"] == true }
                && all.contains { $0["address"]?.stringValue == Self.first.0 && $0["active"] == false && $0["retired_at"] != .null }
        })
        #expect(await waitUntil(.seconds(30)) {
            (await Self.json(port, "/plugins/alerts/state")?["active"]?.arrayValue ?? []).contains { $0["rule"] == "deposit_address_changed" }
        }, "deposit_address_changed fires")
        let toOld = double.pay(script: Self.first.1, sats: 70_000, change: 500).txid
        let toNew = double.pay(script: Self.second.1, sats: 80_000, change: 500).txid
        #expect(await waitUntil(.seconds(30)) {
            let old = await Self.observation(port, tx: toOld), new = await Self.observation(port, tx: toNew)
            return old != nil && new != nil
        }, "both the retired and the new address are watched: \(host.log.suffix(2000))")

        // A handle added over HTTP is watched at once; a bad address is refused naming the field.
        let bad = try await Self.post(port, "/funding/handles", #"{"chain": "bitcoin", "asset": "BTC", "address": "bc1qmainnetnotregtest"}"#)
        #expect(bad.status == 400 && String(decoding: bad.body, as: UTF8.self).contains("field address"))
        // rescan_from: a transfer mined before the handle was added is found by the history scan.
        let mined = double.pay(script: Self.third.1, sats: 95_000, change: 500).txid
        double.mine(3)
        let before = double.tip.height
        // The block is behind the cursor before the handle exists: only a history scan can find it.
        #expect(await waitUntil(.seconds(30)) { await Self.json(port, "/plugins/bitcoin/state")?["plugin"]?["cursor_height"] == .int(Int64(before)) })
        let added = try await Self.post(port, "/funding/handles", #"{"chain": "bitcoin", "asset": "BTC", "address": "\#(Self.third.0)", "label": "ops", "rescan_from": 1}"#)
        #expect(added.status == 201, "\(String(decoding: added.body, as: UTF8.self))")
        let id = try #require(try JSONValue.parse(added.body)["id"]?.int64Value)
        #expect(await waitUntil(.seconds(30)) { await Self.observation(port, tx: mined)?["state"] == "SEEN_CONFIRMED" }, "the rescan found it: \(host.log.suffix(3000))")
        #expect(await Self.observation(port, tx: mined)?["block_height"] == .int(Int64(before - 2)))
        #expect(await waitUntil(.seconds(30)) { await Self.json(port, "/plugins/bitcoin/state")?["plugin"]?["rescan"] == .null })
        #expect(host.log.contains("rescan done"))
        let manual = double.pay(script: Self.third.1, sats: 90_000, change: 500).txid
        #expect(await waitUntil(.seconds(30)) { await Self.observation(port, tx: manual) != nil })
        let retired = try await Self.post(port, "/funding/handles/\(id)/retire", "{}")
        #expect(retired.status == 200)
        let afterRetire = await Self.handles(port)
        #expect(afterRetire.contains { $0["id"] == .int(id) && $0["active"] == false && $0["source"] == "api" })

        // notify_deposit: once per transfer to a bridge-given handle, across a restart.
        #expect(await waitUntil(.seconds(30)) { bridge.notifications.count == 3 }, "\(bridge.notifications)")
        #expect(Set(bridge.notifications.compactMap { $0["tx_hash"]?.stringValue }) == [paid, toOld, toNew])
        #expect(await host.terminate() == 0)
        host = try host.restarted()
        let polls = { await Self.json(port, "/plugins/reconciler/state")?["plugin"]?["polls"]?.int64Value ?? 0 }
        #expect(await waitUntil(.seconds(30)) { await polls() >= 5 }, "the restarted reconciler ran rounds")
        #expect(bridge.notifications.count == 3, "notified again after a restart: \(bridge.notifications)")
        #expect(await host.terminate() == 0)
    }
}
