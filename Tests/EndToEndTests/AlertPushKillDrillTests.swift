import BitcoinTesting
import Foundation
import JSONRPCClient
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// Alert push through the real binary: a crash (`kill -9`) with a webhook delivery in flight
/// repeats that delivery, and only that one; a graceful stop (SIGTERM) repeats nothing.
@Suite(.serialized) struct AlertPushKillDrillTests {
    struct Drill {
        let db: TestDatabase
        let double: BitcoindDouble
        let receiver: HTTPReceiverDouble
        var host: HostProcess
        let http = HTTPPostClient(timeout: .seconds(5), headers: ["Authorization: Bearer drill-token"])

        static func make() async throws -> Drill {
            let db = try await TestDatabase.create()
            let double = try await BitcoindDouble.start()
            double.mine(1)
            let receiver = try await HTTPReceiverDouble.start()
            let config = KillDrillTests.config(db: db, double: double) + """

                [alerts]
                eval_interval_ms = 200
                for_s = 0
                # Only the drill's own alerts: their count is what is checked.
                watchdog = false
                [alerts.push]
                webhook_url = "\(receiver.hookURL)"
                poll_interval_ms = 100
                retry_initial_ms = 50
                retry_max_s = 1
                """
            let host = try HostProcess(config: config, port: try freePort())
            try host.start()
            return Drill(db: db, double: double, receiver: receiver, host: host)
        }

        /// Pays the handle, waits for the observation, marks it stuck over HTTP (which raises
        /// `funding_not_credited` for it); returns the observation id.
        func stuckDeposit(_ sats: Int64) async throws -> Int {
            let tx = double.pay(script: KillDrillTests.script, sats: sats, change: 500).txid
            let repository = FundingRepository(pool: db.pool)
            var id: Int?
            #expect(await waitUntil(.seconds(30)) {
                id = (try? await repository.listObservations(ObservationFilter(limit: 100)))?.first { $0.txHash == tx }?.id
                return id != nil
            }, "observation of \(tx)\n\(host.log.suffix(2000))")
            let observation = try #require(id)
            let url = "http://127.0.0.1:\(host.port)/funding/observations/\(observation)/stuck"
            let marked = await waitUntil(.seconds(30)) {
                ((try? await http.post(url: url, json: Array(#"{"reason": "drill"}"#.utf8)))?.status) == 200
            }
            #expect(marked, "marked stuck over HTTP\n\(host.log.suffix(2000))")
            return observation
        }

        /// Every alert event stored, oldest first (what the pusher delivers, in its order).
        func eventIDs() async throws -> [String] {
            try await db.pool.withConnection { conn in
                try conn.query("SELECT event_id::text AS e FROM alert_events ORDER BY id").compactMap { $0["e"] }
            }
        }

        /// How many events the pusher has committed as delivered.

        func cursorDelivered() async throws -> Int? {
            try await db.pool.withConnection { conn in
                try conn.query("SELECT delivered FROM alert_push_cursors WHERE target = 'webhook'").first?.int("delivered")
            }
        }

        var deliveredEventIDs: [String] { receiver.accepted.compactMap { $0.json?["event_id"]?.stringValue } }

        /// What the receiver took is the stored events in order, each once, but `repeated`
        /// twice (its first delivery was in flight at the crash), and at least every event the
        /// pusher counted as delivered. (The host may record more events meanwhile.)
        func expectDeliveredOnceInOrder(besides repeated: String) async throws {
            // The cursor first: the receiver records a request on arrival, before the pusher can
            // commit its answer, so whatever the cursor counts is already in the receiver's list
            // (read the other way round, a delivery landing in between was counted but not seen).
            let committed = try await cursorDelivered() ?? 0
            var delivered = deliveredEventIDs
            let stored = try await eventIDs()
            #expect(delivered.first == repeated)
            if !delivered.isEmpty { delivered.removeFirst() }
            #expect(delivered == Array(stored.prefix(delivered.count)), "delivered \(delivered)\nstored \(stored)")
            #expect(delivered.count + 1 >= committed, "the pusher counted \(committed), the receiver took \(delivered.count + 1)")
        }
    }

    @Test func killNineWithADeliveryInFlightRepeatsOnlyThatOne() async throws {
        var d = try await Drill.make()
        defer { d.receiver.stop() }
        d.receiver.enqueue([.held(200)])
        _ = try await d.stuckDeposit(41_000)
        #expect(await waitUntil(.seconds(30)) { d.receiver.holding == 1 }, "delivery in flight\n\(d.host.log.suffix(2000))")
        await d.host.kill9()
        d.receiver.release()
        let inFlight = try #require(d.deliveredEventIDs.first)
        #expect(try await d.eventIDs().first == inFlight)
        #expect(try await d.cursorDelivered() == 0, "the crash came before the cursor commit")

        d.host = try d.host.restarted()
        _ = try await d.stuckDeposit(42_000)
        var stored: [String] = []
        #expect(await waitUntil(.seconds(30)) {
            stored = (try? await d.eventIDs()) ?? []
            let delivered = (try? await d.cursorDelivered()) ?? nil
            return stored.count >= 2 && delivered == stored.count
        }, "\(d.host.log.suffix(2000))")
        // The event in flight at the crash arrives twice (at least once); nothing else repeats.
        try await d.expectDeliveredOnceInOrder(besides: inFlight)

        // A graceful stop, then a restart: nothing is delivered again.
        #expect(await d.host.terminate() == 0, "graceful shutdown on SIGTERM")
        d.host = try d.host.restarted()
        _ = try await d.stuckDeposit(43_000)
        let before = stored.count
        let settled = await waitUntil(.seconds(30)) {
            stored = (try? await d.eventIDs()) ?? []
            let delivered = (try? await d.cursorDelivered()) ?? nil
            return stored.count > before && delivered == stored.count
        }
        let cursor = try await d.cursorDelivered()
        #expect(settled, "stored \(stored), cursor \(String(describing: cursor)), receiver \(d.receiver.requests.map { "\($0.status ?? 0) \($0.body.prefix(300))" })\n\(d.host.log.suffix(2000))")
        try await d.expectDeliveredOnceInOrder(besides: inFlight)
        #expect(await d.host.terminate() == 0)
    }
}
