import Alerting
import Foundation
import PostgresStore
import Reconciler
import Testing
import WatchCore
import WatchTesting

/// BTC through the Omni Bridge beside POA: each output its own transfer, credited only by the
/// verifier's nBTC rise on the handle's account; the waits Omni imposes are not stuck.
@Suite(.serialized) struct OmniBridgeTests {
    @Test func twoOutputsOfOneTransactionAreTwoTransfersEachCreditedOnItsOwn() async throws {
        var world = try await OmniWorld.start()
        defer { world.stop() }
        await world.round()
        let address = try await world.omniAddress()
        let tx = String(repeating: "a7", count: 32)
        try await world.pay(tx, [(address, 150_000), (address, 60_000)])
        world.omni.addTransfer(txHash: tx, vout: 0, amount: "150000", statuses: ["Initialised"])
        world.omni.addTransfer(txHash: tx, vout: 1, amount: "60000", statuses: ["Initialized"])
        await world.round()
        #expect(try await world.observation(tx, 0)?.state == "CREDIT_PENDING")
        #expect(try await world.observation(tx, 1)?.state == "CREDIT_PENDING")
        #expect(try await world.observation(tx, 0)?.bridgeDepositId == "\(tx)@0")
        #expect(try await world.observation(tx, 1)?.bridgeDepositId == "\(tx)@1")
        #expect(try await world.observation(tx, 0)?.json["bridge"] == "omni")

        // Omni's final status alone credits nothing: intents.near may still refuse the mint.
        world.omni.advance(txHash: tx, vout: 0, to: "Finalised", nearTxHash: "NearFinalTx0")
        world.omni.advance(txHash: tx, vout: 1, to: "Finalised", nearTxHash: "NearFinalTx1")
        await world.round()
        #expect(try await world.observation(tx, 0)?.state == "CREDIT_PENDING")
        #expect(try await world.observation(tx, 0)?.json["bridge_status"] == "Finalised")

        // The verifier's nBTC rises by the second output's amount: that output alone is credited.
        try await world.snapshot("n-0", hours: -24, [OmniWorld.nbtc: 0])
        try await world.snapshot("n-1", hours: 1, [OmniWorld.nbtc: 60_000])
        await world.round()
        #expect(try await world.observation(tx, 1)?.state == "CREDITED")
        #expect(try await world.observation(tx, 0)?.state == "CREDIT_PENDING")
        try await world.snapshot("n-2", hours: 2, [OmniWorld.nbtc: 210_000])
        await world.round()
        #expect(try await world.observation(tx, 0)?.state == "CREDITED")
        #expect(try await world.lastDetails(tx, 0)?["omni_status"] == "Finalised")
        #expect(try await world.lastDetails(tx, 0)?["bridge"] == "omni")
    }

    @Test func anOmniAndAPOADepositInOneHourAreEachCreditedByTheirOwnBridgeAndToken() async throws {
        var world = try await OmniWorld.start()
        defer { world.stop() }
        await world.round()
        let omniAddress = try await world.omniAddress()
        let (txOmni, txPOA) = (String(repeating: "0e", count: 32), String(repeating: "9a", count: 32))
        try await world.pay(txOmni, [(omniAddress, 100_000)])
        try await world.pay(txPOA, [(OmniWorld.poaAddress, 100_000)])
        world.omni.addTransfer(txHash: txOmni, vout: 0, amount: "100000", statuses: ["Initialised"])
        world.poa.addDeposit(account: "a.near", chain: "btc:mainnet", txHash: txPOA, address: OmniWorld.poaAddress, amount: "100000", nearTokenID: "btc.omft.near", status: "PENDING")
        await world.round()
        #expect(try await world.observation(txOmni)?.state == "CREDIT_PENDING")
        #expect(try await world.observation(txPOA)?.state == "CREDIT_PENDING")
        #expect(try await world.observation(txPOA)?.json["bridge"] == "poa")

        // POA's token rises by the same amount: the POA deposit is credited, not Omni's.
        try await world.snapshot("s-0", hours: -24, [OmniWorld.poaToken: 0, OmniWorld.nbtc: 0])
        try await world.snapshot("s-1", hours: 1, [OmniWorld.poaToken: 100_000, OmniWorld.nbtc: 0])
        await world.round()
        #expect(try await world.observation(txPOA)?.state == "CREDITED")
        #expect(try await world.observation(txOmni)?.state == "CREDIT_PENDING")

        // nBTC rises: Omni's deposit is credited by its own token.
        try await world.snapshot("s-2", hours: 2, [OmniWorld.poaToken: 100_000, OmniWorld.nbtc: 100_000])
        await world.round()
        #expect(try await world.observation(txOmni)?.state == "CREDITED")
        #expect(try await world.observation(txOmni)?.verifierSnapshotId == "s-2")
        #expect(try await world.observation(txPOA)?.verifierSnapshotId == "s-1")
        #expect(!world.poa.notifications.contains { "\($0)".contains(txOmni) }, "POA's notify_deposit is not told of an Omni deposit")

        // A new POA deposit address of the same account rotates POA's handle, never Omni's.
        let poaGiven = FundingHandle(chain: "bitcoin", network: "regtest", asset: "BTC", address: "bcrt1qpoagiven", source: "bridge", account: "a.near")
        let change = try await world.repository.recordBridgeAddress(poaGiven, account: "a.near", at: world.clock.now(), alertFor: 60)
        #expect(change == .rotated(from: OmniWorld.poaAddress))
        #expect(try await world.repository.omniHandles(chain: "bitcoin").map(\.address) == [omniAddress], "the Omni handle stays active")
    }

    @Test func aDepositShortOfOmnisConfirmationsIsWaitingNotStuck() async throws {
        var world = try await OmniWorld.start(["required_confirmations": 6, "no_record_s": 600])
        defer { world.stop() }
        await world.round()
        let tx = String(repeating: "c4", count: 32)
        try await world.pay(tx, [(try await world.omniAddress(), 80_000)], depth: 2)
        for _ in 0..<6 {
            world.clock.advance(by: 1_800)
            await world.round()
        }
        #expect(try await world.observation(tx)?.state == "SEEN_CONFIRMED", "3 hours short of 6 confirmations is waiting")
        let awaiting = await world.omniState()?["awaiting_confirmations"]?.arrayValue?.first
        #expect(awaiting?["required"] == 6)
        #expect(awaiting?["confirmations"] == 2)

        // Six deep and still unknown to Omni past no_record_s: stuck, with the refund path.
        try await world.mine(4)
        await world.round()
        #expect(try await world.observation(tx)?.state == "SEEN_CONFIRMED")
        world.clock.advance(by: 601)
        await world.round()
        #expect(try await world.observation(tx)?.state == "FAILED_OR_STUCK")
        #expect(try await world.observation(tx)?.reason == "no_bridge_record_within_policy")
        let refund = try await world.lastDetails(tx)?["refund"]?.stringValue ?? ""
        #expect(refund.contains("execute_refund(\"\(tx)@0\")"), "\(refund)")
    }

    @Test func creditPendingBeforeOmnisConfirmationsIsNotStuckEither() async throws {
        var world = try await OmniWorld.start(["required_confirmations": 6, "credit_budget_s": 600])
        defer { world.stop() }
        await world.round()
        let tx = String(repeating: "c7", count: 32)
        try await world.pay(tx, [(try await world.omniAddress(), 80_000)], depth: 2)
        world.omni.addTransfer(txHash: tx, vout: 0, amount: "80000", statuses: ["Initialised"])
        await world.round()
        #expect(try await world.observation(tx)?.state == "CREDIT_PENDING", "Omni indexes an output before it finalises it")
        for _ in 0..<6 {
            world.clock.advance(by: 1_800)
            await world.round()
        }
        #expect(try await world.observation(tx)?.state == "CREDIT_PENDING", "3 hours, still short of 6 confirmations: waiting")
        try await world.mine(4)
        await world.round()
        world.clock.advance(by: 601)
        await world.round()
        #expect(try await world.observation(tx)?.reason == "not_credited_within_policy", "six deep and no credit within credit_budget_s")
    }

    @Test func anOutputBelowOmnisMinimumIsStuckAtOnce() async throws {
        var world = try await OmniWorld.start(["min_deposit_sats": 10_000])
        defer { world.stop() }
        await world.round()
        let address = try await world.omniAddress()
        let (dust, fine) = (String(repeating: "d5", count: 32), String(repeating: "f6", count: 32))
        try await world.pay(dust, [(address, 9_999)])
        try await world.pay(fine, [(address, 10_000)])
        await world.round()
        #expect(try await world.observation(dust)?.state == "FAILED_OR_STUCK")
        #expect(try await world.observation(dust)?.reason == "below_minimum_deposit")
        #expect(try await world.lastDetails(dust)?["min_deposit_amount"] == "10000")
        #expect(try await world.observation(fine)?.state == "SEEN_CONFIRMED")
    }

    @Test func anUnknownStatusIsCountedAndNeverTerminal() async throws {
        var world = try await OmniWorld.start(["no_record_s": 60, "credit_budget_s": 600])
        defer { world.stop() }
        await world.round()
        let tx = String(repeating: "b8", count: 32)
        try await world.pay(tx, [(try await world.omniAddress(), 70_000)])
        world.omni.addTransfer(txHash: tx, vout: 0, amount: "70000", statuses: ["Initialised", "RelayerQueued"])
        await world.round()
        #expect(try await world.observation(tx)?.state == "CREDIT_PENDING", "Omni knows it, whatever it calls the step")
        #expect(await world.omniState()?["unknown_statuses"]?["RelayerQueued"] == 1)
        #expect(try await world.observation(tx)?.json["bridge_status"] == "RelayerQueued")
        world.clock.advance(by: 300)
        await world.round()
        #expect(try await world.observation(tx)?.state == "CREDIT_PENDING")

        try await world.snapshot("u-0", hours: -24, [OmniWorld.nbtc: 0])
        try await world.snapshot("u-1", hours: 1, [OmniWorld.nbtc: 70_000])
        await world.round()
        #expect(try await world.observation(tx)?.state == "CREDITED")
    }

    @Test func aTransferOmniReportsFailedIsStuckAndItsAlertNamesTheRefundPath() async throws {
        var world = try await OmniWorld.start(["failed_statuses": .array(["Failed"]), "refund_address": "bcrt1qrefund"])
        defer { world.stop() }
        await world.round()
        let tx = String(repeating: "fa", count: 32)
        try await world.pay(tx, [(try await world.omniAddress(), 90_000)])
        world.omni.addTransfer(txHash: tx, vout: 0, amount: "90000", statuses: ["Initialised", "Failed"])
        await world.round()
        #expect(try await world.observation(tx)?.state == "FAILED_OR_STUCK")
        #expect(try await world.observation(tx)?.reason == "bridge_failed")

        let config = AlertsConfig(stalePriceMaxAgeSeconds: 0, staleInventoryMaxAgeSeconds: 0, forSeconds: 0)
        _ = try await AlertStore(pool: world.db.pool, topic: "unrip.alerts").evaluate(now: Date(), config: config, health: nil)
        let alert = try await world.db.pool.withConnection { conn in
            try conn.query("SELECT reason, labels::text AS labels, details->>'refund' AS refund FROM alert_state WHERE subject = $1 AND status = 'firing'", ["bitcoin:\(tx):0"]).first
        }
        #expect(alert?["reason"]?.contains("execute_refund(\"\(tx)@0\")") == true, "\(String(describing: alert))")
        #expect(alert?["reason"]?.contains("2 days") == true, "a DepositMsg with a refund_address: the 2-day timelock")
        #expect(alert?["labels"]?.contains("\"bridge\": \"omni\"") == true || alert?["labels"]?.contains("\"bridge\":\"omni\"") == true, "\(String(describing: alert))")
        #expect(alert?["refund"]?.contains("request_refund") == true)
    }

    @Test func theConnectorsOwnMinimumAndTiersTakeThePlaceOfTheConfiguredOnes() async throws {
        let near = try await NEARRPCDouble.start()
        near.setView(contract: "btc-connector.bridge.near", method: "get_config", [
            "min_deposit_amount": "20000", "confirmations_strategy": ["1000000": 3, "100000000": 6], "confirmations_delta": 1,
            "refund_timelock_sec": 172_800, "unsafe_refund_timelock_sec": 604_800, "chain": "BitcoinMainnet",
        ])
        var world = try await OmniWorld.start(["min_deposit_sats": 10_000, "required_confirmations": 2], near: near)
        defer { world.stop() }
        await world.round()
        let address = try await world.omniAddress()
        let (small, large) = (String(repeating: "5a", count: 32), String(repeating: "1b", count: 32))
        try await world.pay(small, [(address, 15_000)], depth: 2)
        try await world.pay(large, [(address, 5_000_000)], depth: 2)
        await world.round()
        #expect(try await world.observation(small)?.reason == "below_minimum_deposit", "the contract's 20,000, not the configured 10,000")
        #expect(try await world.lastDetails(small)?["min_deposit_amount"] == "20000")
        let awaiting = await world.omniState()?["awaiting_confirmations"]?.arrayValue?.first
        #expect(awaiting?["required"] == 6, "5,000,000 sats is above the 1,000,000 limit: the 100,000,000 tier")
        let connector = await world.omniState()?["connector_config"]
        #expect(connector?["source"] == "contract")
        #expect(connector?["read"]?["min_deposit_amount"] == "20000")
        // The contract's 7-day timelock for a DepositMsg without a refund address names the refund.
        world.clock.advance(by: 8_000)
        try await world.mine(4)
        await world.round()
        world.clock.advance(by: 7_201)
        await world.round()
        #expect(try await world.observation(large)?.reason == "no_bridge_record_within_policy")
        #expect(try await world.lastDetails(large)?["refund"]?.stringValue?.contains("7 days") == true)
    }

    @Test func omniDownForAWhileRaisesNoFalseStuckAndRecovers() async throws {
        var world = try await OmniWorld.start(["no_record_s": 3_600])
        defer { world.stop() }
        await world.round()
        let tx = String(repeating: "e9", count: 32)
        try await world.pay(tx, [(try await world.omniAddress(), 50_000)])
        await world.round()  // not indexed yet: the budget starts

        world.omni.setDown(true)
        for _ in 0..<8 {
            world.clock.advance(by: 900)
            await world.round()
        }
        #expect(try await world.observation(tx)?.state == "SEEN_CONFIRMED", "two hours of Omni down is not a missing record")
        guard case .unhealthy(let why) = await world.service.health() else {
            Issue.record("Omni down for 8 rounds should make the reconciler unhealthy")
            return
        }
        #expect(why.contains("Omni"))
        #expect(await world.omniState()?["healthy"] == false)

        world.omni.setDown(false)
        await world.round()
        #expect(try await world.observation(tx)?.state == "SEEN_CONFIRMED", "back up, not indexed: the budget starts again")
        #expect(await world.service.health() == .healthy)
        world.omni.addTransfer(txHash: tx, vout: 0, amount: "50000", statuses: ["Initialised"])
        world.clock.advance(by: 900)
        await world.round()
        #expect(try await world.observation(tx)?.state == "CREDIT_PENDING")
    }

    @Test func theStoredMessageReproducesTheSameAddressAfterARestart() async throws {
        var world = try await OmniWorld.start(["refund_address": "bcrt1qrefundaddress"])
        defer { world.stop() }
        await world.round()
        let address = try await world.omniAddress()
        let stored = try #require(try await world.repository.omniHandles(chain: "bitcoin").first)
        #expect(stored.depositMessage == #"{"recipient_id":"intents.near","safe_deposit":{"msg":"{\"receiver_id\":\"a.near\"}"},"refund_address":"bcrt1qrefundaddress"}"#)

        // A restart: a new process (fresh state) asks Omni again with the stored bytes.
        world.service = try OmniWorld.makeService(db: world.db, poa: world.poa, omni: world.omni, clock: world.clock, world.omniSettings, near: world.near)
        let before = world.omni.requests("deposit_address")
        await world.round()
        #expect(world.omni.requests("deposit_address") == before + 1)
        let check = await world.omniState()?["deposit_addresses"]?.arrayValue?.first
        #expect(check?["reproduced"] == true)
        #expect(check?["address"] == .string(address))
        #expect(try await world.repository.omniHandles(chain: "bitcoin").count == 1)

        // Stored bytes that no longer give the address (another receiver): refused, the handle kept.
        try await world.db.pool.withConnection { conn in
            _ = try conn.query("UPDATE funding_handles SET deposit_msg = replace(deposit_msg, 'a.near', 'z.near') WHERE bridge = 'omni'")
        }
        world.service = try OmniWorld.makeService(db: world.db, poa: world.poa, omni: world.omni, clock: world.clock, world.omniSettings, near: world.near)
        await world.round()
        let refused = await world.omniState()?["deposit_addresses"]?.arrayValue?.first
        #expect(refused?["reproduced"] != true)
        #expect(refused?["last_error"]?.stringValue?.contains("credits z.near, not its account a.near") == true, "\(String(describing: refused))")
        #expect(try await world.omniAddress() == address)
        // Its deposits stay watched, but a verifier rise of the account is not given to them.
        let tx = String(repeating: "7c", count: 32)
        try await world.pay(tx, [(address, 30_000)])
        try await world.snapshot("r-0", hours: -24, [OmniWorld.nbtc: 0])
        try await world.snapshot("r-1", hours: 1, [OmniWorld.nbtc: 30_000])
        await world.round()
        #expect(try await world.observation(tx)?.state == "SEEN_CONFIRMED")
    }
}
