import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresStore
import Testing
import WatchCore
import WatchHost
import WatchTesting

@Suite("AlertPush in the host", .serialized)
struct AlertPushHostTests {
    @Test func withoutATargetStateSaysPushIsOff() async throws {
        let h = try await HostHarness.make()
        #expect(!h.prepared.supervisors.contains { $0.name == "alert_push" })
        try await h.withRunningHost { client in
            try await client.execute(uri: "/state", method: .get) { r in
                #expect((r.json["alert_push"] as? String)?.hasPrefix("off") == true, "\(r.text)")
            }
            try await client.execute(uri: "/plugins/alert_push/state", method: .get) { r in #expect(r.status == .notFound) }
        }
    }

    @Test func theEvaluatorWakesThePusherAndStateShowsTheTarget() async throws {
        let receiver = try await HTTPReceiverDouble.start()
        defer { receiver.stop() }
        // Polling every hour: only the evaluator's wake-up can deliver within the test.
        let h = try await HostHarness.make(extraEnvironment: [
            "UNRIP_ALERTS_FOR_S": "0", "UNRIP_ALERTS_EVAL_INTERVAL_MS": "100", "UNRIP_ALERTS_STALE_PRICE_MAX_AGE_S": "60",
            "UNRIP_ALERTS_PUSH_WEBHOOK_URL": receiver.hookURL, "UNRIP_ALERTS_PUSH_WEBHOOK_TOKEN": "host-hook-token",
            "UNRIP_ALERTS_PUSH_POLL_INTERVAL_MS": "3600000", "UNRIP_ALERTS_WATCHDOG": "false",
        ])
        try await h.withRunningHost { client in
            let push = try #require(h.prepared.supervisors.first { $0.name == "alert_push" })
            #expect(await waitUntil { push.status == .running })
            _ = try await h.db.pool.withConnection { conn in
                try conn.query(
                    "INSERT INTO reference_prices (event_id, pair, price, source, occurred_at) VALUES (gen_random_uuid(), 'BTC/EUR', 1, 't', $1::timestamptz)",
                    [Timestamp.string(Date().addingTimeInterval(-600))])
            }
            #expect(await waitUntil { receiver.accepted.count == 1 })
            #expect(receiver.accepted.first?.json?["key"] == "stale_reference_price:BTC/EUR")
            try await client.execute(uri: "/state", method: .get) { r in
                #expect((r.json["alert_push"] as? String)?.hasPrefix("on") == true)
                #expect(!r.text.contains("host-hook-token"))
            }
            #expect(await waitUntil { await push.state()["plugin"]?["targets"]?["webhook"]?["delivered"] == .int(1) })
            try await client.execute(uri: "/plugins/alert_push/state", method: .get) { r in
                let webhook = (r.json["plugin"] as? [String: Any])?["targets"] as? [String: Any]
                let target = webhook?["webhook"] as? [String: Any]
                #expect(target?["backlog"] as? Int == 0, "\(r.text)")
                #expect(target?["url"] as? String == receiver.hookURL)
                #expect(!r.text.contains("host-hook-token"))
            }
            try await client.execute(uri: "/plugins/alert_push/healthz", method: .get) { r in #expect(r.status == .ok) }
        }
    }
}
