import Alerting
import Foundation
import PostgresStore
import Testing
import WatchCore
import WatchTesting

@Suite("AlertPush: Alertmanager and webhook delivery", .serialized)
struct AlertPushTests {
    @Test("a raise then a clear reach the Alertmanager as firing then resolved, in the API v2 shape")
    func alertmanagerFiringThenResolved() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        let pusher = h.pusher(h.config(alertmanager: true))
        let running = try await h.startReady(pusher)
        defer { running.cancel() }

        let firedAt = try await h.raise("BTC/EUR")
        try await eventually("firing delivered") { h.receiver.accepted.count == 1 }
        h.f.clock.advance(by: 30)
        let resolvedAt = try await h.clear("BTC/EUR")
        try await eventually("resolved delivered") { h.receiver.accepted.count == 2 }

        let posts = h.receiver.accepted
        #expect(posts.map(\.path) == ["/api/v2/alerts", "/api/v2/alerts"])
        #expect(posts.allSatisfy { $0.contentType == "application/json" && $0.authorization == nil })
        let firingBatch = try #require(posts[0].json?.arrayValue)
        let resolvedBatch = try #require(posts[1].json?.arrayValue)
        #expect(firingBatch.count == 1 && resolvedBatch.count == 1)
        let firing = firingBatch[0], resolved = resolvedBatch[0]
        #expect(firing["labels"]?["alertname"] == "stale_reference_price")
        #expect(firing["labels"]?["severity"] == "critical")
        #expect(firing["labels"]?["pair"] == "BTC/EUR")
        #expect(firing["labels"]?["alert_key"] == "stale_reference_price:BTC/EUR")
        #expect(firing["labels"]?["subject"] == "BTC/EUR")
        #expect(firing["startsAt"] == .string(Timestamp.string(firedAt)))
        #expect(firing["endsAt"] == nil)
        #expect(firing["generatorURL"] == "http://127.0.0.1:8080/plugins/alerts/state")
        #expect(firing["annotations"]?["reason"]?.stringValue?.contains("no reference price for BTC/EUR") == true)
        let details = try JSONValue.parse(try #require(firing["annotations"]?["details"]?.stringValue))
        #expect(details["pair"] == "BTC/EUR")
        // Same labels (Alertmanager's fingerprint), the firing time, and when it resolved.
        #expect(resolved["labels"] == firing["labels"])
        #expect(resolved["startsAt"] == .string(Timestamp.string(firedAt)))
        #expect(resolved["endsAt"] == .string(Timestamp.string(resolvedAt)))
        #expect(try await h.eventIDs().count == 2)
        // The receiver records a request before the pusher has its answer and counts it.
        try await eventually("the pusher counted both") { await h.targetState(pusher, "alertmanager")["delivered"] == .int(2) }
        let state = await h.targetState(pusher, "alertmanager")
        #expect(state["backlog"] == .int(0))
        #expect(state["delivered"] == .int(2))
        #expect(state["rejected"] == .int(0))
        #expect(state["last_success_at"] != .null)
    }

    @Test("receiver down (503s) then up: retried with backoff, every event delivered once, in order")
    func receiverDownThenUp() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        h.receiver.setDefault(status: 503)
        let pusher = h.pusher(h.config(webhook: true))
        let running = try await h.startReady(pusher)
        defer { running.cancel() }

        _ = try await h.raise("BTC/EUR")
        _ = try await h.raise("ETH/EUR")
        _ = try await h.clear("BTC/EUR")
        try await eventually("several failed attempts", pumping: h.f.clock) { h.receiver.requests.count >= 4 }
        #expect(h.receiver.accepted.isEmpty)
        let failing = await h.targetState(pusher, "webhook")
        #expect(failing["backlog"] == .int(3))
        #expect((failing["retries_since_start"]?.int64Value ?? 0) >= 3)
        #expect(failing["last_error"]?.stringValue?.contains("HTTP 503") == true)

        h.receiver.setDefault(status: 200)
        try await eventually("all delivered", pumping: h.f.clock) { h.receiver.accepted.count == 3 }
        let delivered = h.receiver.accepted.compactMap { $0.json?["event_id"]?.stringValue }
        let stored = try await h.eventIDs()
        #expect(delivered == stored)
        #expect(h.receiver.accepted.compactMap { $0.json?["status"]?.stringValue } == ["firing", "firing", "resolved"])
        try await eventually("the pusher counted all three", pumping: h.f.clock) { await h.targetState(pusher, "webhook")["backlog"] == .int(0) }
        let state = await h.targetState(pusher, "webhook")
        #expect(state["backlog"] == .int(0))
        #expect(state["consecutive_failures"] == .int(0))
        #expect(await pusher.health() == .healthy)
    }

    @Test("a target failing longer than unhealthy_after_s makes /healthz unhealthy, naming it; recovery clears it")
    func failingTargetTurnsUnhealthy() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        h.receiver.setDefault(status: 502)
        let pusher = h.pusher(h.config(webhook: true, unhealthyAfterS: 120))
        let running = try await h.startReady(pusher)
        defer { running.cancel() }

        _ = try await h.raise("BTC/EUR")
        try await eventually("a failed attempt") { await h.targetState(pusher, "webhook")["consecutive_failures"] != .int(0) }
        #expect(await pusher.health() == .healthy)
        h.f.clock.advance(by: 121)
        guard case .unhealthy(let why) = await pusher.health() else {
            Issue.record("still healthy after failing 121 s")
            return
        }
        #expect(why.contains("webhook") && why.contains("HTTP 502"))
        h.receiver.setDefault(status: 200)
        // The retry waits its backoff on the pusher's clock: move it while the pusher sleeps.
        try await eventually("delivered", pumping: h.f.clock) { h.receiver.accepted.count == 1 }
        try await eventually("healthy again", pumping: h.f.clock) { await pusher.health() == .healthy }
    }

    @Test("a 400 is skipped, counted and recorded; later events are still delivered (webhook and Alertmanager batch)")
    func rejectedEventIsSkipped() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        h.receiver.reject(containing: "POISON")
        let pusher = h.pusher(h.config(alertmanager: true, webhook: true))
        // Several transitions wait before the pusher starts, so the Alertmanager gets them in one batch.
        _ = try await h.raise("BTC/EUR")
        _ = try await h.raise("POISON/EUR")
        _ = try await h.raise("ETH/EUR")
        let running = h.start(pusher)
        defer { running.cancel() }
        try await eventually("both targets caught up") {
            let am = await h.targetState(pusher, "alertmanager"), hook = await h.targetState(pusher, "webhook")
            return am["backlog"] == .int(0) && hook["backlog"] == .int(0)
        }
        _ = try await h.clear("ETH/EUR")
        try await eventually("the later clear delivered to both") {
            h.receiver.accepted.filter { $0.body.contains("ETH/EUR") && ($0.body.contains("\"resolved\"") || $0.body.contains("endsAt")) }
                .count == 2
        }

        for target in ["alertmanager", "webhook"] {
            // The receiver records a request before the pusher has its answer and counts it.
            try await eventually("\(target) counted the clear") { await h.targetState(pusher, target)["delivered"] == .int(3) }
            let state = await h.targetState(pusher, target)
            #expect(state["rejected"] == .int(1), "\(target)")
            #expect(state["delivered"] == .int(3), "\(target)")
            #expect(state["last_error"]?.stringValue?.contains("HTTP 400") == true, "\(target)")
        }
        let accepted = h.receiver.accepted
        #expect(!accepted.contains { $0.body.contains("POISON") })
        let hookSubjects = accepted.filter { $0.path == "/hook" }.compactMap { $0.json?["subject"]?.stringValue }
        #expect(hookSubjects == ["BTC/EUR", "ETH/EUR", "ETH/EUR"])
        let amSubjects = accepted.filter { $0.path == "/api/v2/alerts" }.flatMap { $0.json?.arrayValue ?? [] }
            .compactMap { $0["labels"]?["subject"]?.stringValue }
        #expect(amSubjects == ["BTC/EUR", "ETH/EUR", "ETH/EUR"])
        let rejections = try await h.f.db.pool.withConnection { conn in
            try conn.query(
                """
                SELECT r.target, r.http_status, e.alert_key FROM alert_push_rejections r
                JOIN alert_events e ON e.id = r.alert_event_id ORDER BY r.target
                """
            ).map { "\($0["target"] ?? "") \($0["http_status"] ?? "") \($0["alert_key"] ?? "")" }
        }
        #expect(rejections == ["alertmanager 400 stale_reference_price:POISON/EUR", "webhook 400 stale_reference_price:POISON/EUR"])
    }

    @Test("a pusher stopped gracefully with a delivery in flight commits it first: a restart delivers nothing twice, loses nothing")
    func gracefulStopInFlightDeliversNothingTwice() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        let config = h.config(webhook: true)

        // The first delivery is in flight (the receiver took it and holds its answer) when SIGTERM's stop comes.
        h.receiver.enqueue([.held(200)])
        let first = h.hosted(h.pusher(config))
        try await eventually("cursor created") { try await h.cursor("webhook") != nil }
        _ = try await h.raise("BTC/EUR")
        try await eventually("first event in flight") { h.receiver.holding == 1 }
        let stopping = Task { try await first.stop() }
        h.receiver.release()
        try await stopping.value
        let afterFirst = try #require(try await h.cursor("webhook"))
        #expect(afterFirst.delivered == 1, "the answer that came during the stop was committed")

        // While it is stopped: another raise. Then a pusher that cannot deliver is stopped mid-retry.
        _ = try await h.raise("ETH/EUR")
        h.receiver.setDefault(status: 503)
        let second = h.hosted(h.pusher(config))
        try await eventually("second pusher retrying") { (try await h.cursor("webhook"))?.lastError?.contains("HTTP 503") == true }
        try await second.stop()

        _ = try await h.clear("BTC/EUR")
        h.receiver.setDefault(status: 200)
        let third = h.pusher(config)
        let running = h.start(third)
        defer { running.cancel() }
        try await eventually("all delivered") { await h.targetState(third, "webhook")["backlog"] == .int(0) }
        let delivered = h.receiver.accepted.compactMap { $0.json?["event_id"]?.stringValue }
        let stored = try await h.eventIDs()
        #expect(stored.count == 3)
        #expect(delivered == stored, "each event exactly once, in order")
        #expect(await h.targetState(third, "webhook")["delivered"] == .int(3))
    }

    @Test("a pusher cancelled outright (a pause, a second signal) with a delivery in flight still commits it: nothing twice")
    func cancelInFlightDeliversNothingTwice() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        let config = h.config(webhook: true)
        h.receiver.enqueue([.held(200)])
        let first = try await h.startReady(h.pusher(config))
        _ = try await h.raise("BTC/EUR")
        try await eventually("first event in flight") { h.receiver.holding == 1 }
        first.cancel()
        h.receiver.release()
        _ = await first.value
        #expect(try await h.cursor("webhook")?.delivered == 1)

        _ = try await h.raise("ETH/EUR")
        let second = h.pusher(config)
        let running = h.start(second)
        defer { running.cancel() }
        try await eventually("all delivered") { await h.targetState(second, "webhook")["backlog"] == .int(0) }
        let delivered = h.receiver.accepted.compactMap { $0.json?["event_id"]?.stringValue }
        #expect(delivered == (try await h.eventIDs()))
    }

    @Test("firing alerts are re-sent to the Alertmanager every resend_interval_s; resolved ones are not")
    func resendAtInterval() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        let pusher = h.pusher(h.config(alertmanager: true, resendS: 60))
        let firedAt = try await h.raise("BTC/EUR")
        let running = h.start(pusher)
        defer { running.cancel() }

        // The transition, then a re-send at start (the Alertmanager may have lost it while we were down).
        try await eventually("event and first re-send") { h.receiver.accepted.count == 2 }
        #expect(h.receiver.accepted[0].json?[0]?["annotations"]?["event_id"] != nil)
        // A poll before the interval is up: once the pusher is waiting again, it has decided.
        try await eventually("the pusher waits") { h.f.clock.sleepers == 1 }
        let sleeps = h.f.clock.sleeps
        h.f.clock.advance(by: 30)
        try await eventually("the pusher polled and waits again") { h.f.clock.sleeps > sleeps }
        #expect(h.receiver.accepted.count == 2, "re-sent before the interval passed")

        h.f.clock.advance(by: 61)
        try await eventually("re-sent after the interval") { h.receiver.accepted.count == 3 }
        let resent = try #require(h.receiver.accepted[2].json?.arrayValue)
        #expect(resent.count == 1)
        #expect(resent[0]["labels"] == h.receiver.accepted[0].json?[0]?["labels"])
        #expect(resent[0]["startsAt"] == .string(Timestamp.string(firedAt)))
        #expect(resent[0]["endsAt"] == nil)
        #expect(resent[0]["annotations"]?["event_id"] == nil)

        _ = try await h.clear("BTC/EUR")
        try await eventually("resolved delivered") { h.receiver.accepted.count == 4 }
        #expect(h.receiver.accepted[3].json?[0]?["endsAt"] != nil)
        try await eventually("the pusher waits again") { h.f.clock.sleepers == 1 }
        h.f.clock.advance(by: 61)
        let due = Timestamp.string(h.f.now)
        try await eventually("the next re-send ran") {
            await h.targetState(pusher, "alertmanager")["last_resend_at"] == .string(due)
        }
        #expect(h.receiver.accepted.count == 4, "a resolved alert was re-sent")
        #expect(await h.targetState(pusher, "alertmanager")["resent_since_start"] == .int(2))
    }

    @Test("the webhook gets the exact unrip.alert.v1 event of the outbox, with the bearer token, valid against docs/schemas")
    func webhookBodyIsTheOutboxEvent() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        let pusher = h.pusher(h.config(webhook: true, token: "hook-secret-42"))
        let running = try await h.startReady(pusher)
        defer { running.cancel() }
        _ = try await h.raise("BTC/EUR")
        h.f.clock.advance(by: 5)
        _ = try await h.clear("BTC/EUR")
        try await eventually("both delivered") { h.receiver.accepted.count == 2 }

        let posts = h.receiver.accepted
        #expect(posts.allSatisfy { $0.path == "/hook" && $0.authorization == "Bearer hook-secret-42" })
        let outbox = try await h.f.db.pool.withConnection { conn in
            try conn.query("SELECT payload::text AS p FROM outbox WHERE topic = 'unrip.alerts' ORDER BY id").compactMap { $0["p"] }
        }
        let produced = try outbox.map { try JSONValue.parse($0) }
        #expect(posts.compactMap(\.json) == produced)
        #expect(posts[1].json?["fired_at"] == posts[0].json?["occurred_at"])
        let (status, output) = try await EventSchemaValidator.validate(documents: posts.map(\.body))
        #expect(status == 0, "\(output)")
        #expect(output.contains("checked 2 document(s), 0 problem(s)"), "\(output)")
        #expect(!(await pusher.state()).serialized().contains("hook-secret-42"))
    }

    @Test("a receiver that hangs past timeout_s counts as a failure; the event goes again and arrives")
    func hangingReceiverTimesOut() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        h.receiver.enqueue([.hang(.seconds(4))])
        let pusher = h.pusher(h.config(webhook: true, timeoutS: 1))
        let running = try await h.startReady(pusher)
        defer { running.cancel() }
        _ = try await h.raise("BTC/EUR")
        try await eventually("delivered after the timeout", pumping: h.f.clock) { h.receiver.accepted.count == 1 }
        #expect(h.receiver.requests.count == 2)
        try await eventually("the pusher counted it", pumping: h.f.clock) { await h.targetState(pusher, "webhook")["delivered"] == .int(1) }
        let state = await h.targetState(pusher, "webhook")
        #expect(state["retries_since_start"] == .int(1))
        #expect(state["last_error"]?.stringValue?.contains("timeout") == true)
        #expect(state["delivered"] == .int(1))
    }

    @Test("a new target does not replay history: it starts at the alerts firing now")
    func newTargetStartsAtActiveAlerts() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        _ = try await h.raise("BTC/EUR")
        _ = try await h.clear("BTC/EUR")
        _ = try await h.raise("ETH/EUR")
        let pusher = h.pusher(h.config(webhook: true))
        let running = h.start(pusher)
        defer { running.cancel() }
        try await eventually("caught up") { await h.targetState(pusher, "webhook")["backlog"] == .int(0) }
        #expect(h.receiver.accepted.compactMap { $0.json?["key"]?.stringValue } == ["stale_reference_price:ETH/EUR"])
    }

    @Test("with no target configured push is off and says so")
    func pushOff() async throws {
        let h = try await PushHarness.make()
        defer { h.receiver.stop() }
        let pusher = h.pusher(AlertPushConfig())
        #expect(!AlertPushConfig().isEnabled)
        #expect(await pusher.state()["push"]?.stringValue?.hasPrefix("off") == true)
        #expect(await pusher.state()["targets"] == .object([:]))
    }
}
