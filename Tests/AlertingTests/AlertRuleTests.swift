import Alerting
import Foundation
import Synchronization
import Testing
import WatchCore
import WatchTesting

@Suite("Alert rules raise and clear", .serialized)
struct AlertRuleTests {
    static let config = AlertsConfig(
        stalePriceMaxAgeSeconds: 60, staleInventoryMaxAgeSeconds: 120,
        fundingBudgetSeconds: ["bitcoin": [.seenUnconfirmed: 600]], executionFailureClearAfter: 2, forSeconds: 0)

    @Test("stale_reference_price: raised when prices stop arriving, cleared by a fresh one")
    func stalePrice() async throws {
        let f = try await AlertFixture.make()
        try await f.price("BTC/EUR", at: f.now)
        #expect(try await f.evaluate(Self.config).isEmpty)
        f.clock.advance(by: 61)
        try await f.evaluate(Self.config)
        #expect(try await f.activeKeys() == ["stale_reference_price:BTC/EUR"])
        try await f.price("BTC/EUR", at: f.now)
        try await f.evaluate(Self.config)
        #expect(try await f.activeKeys().isEmpty)
        #expect(try await f.events() == ["firing stale_reference_price:BTC/EUR", "resolved stale_reference_price:BTC/EUR"])
        #expect(try await f.outboxAlertKeys() == ["stale_reference_price:BTC/EUR", "stale_reference_price:BTC/EUR"])
    }

    @Test("every alert carries its rule's severity: in the state, the Kafka event, and as [alerts.severity] sets it")
    func severity() async throws {
        let f = try await AlertFixture.make()
        try await f.price("BTC/EUR", at: f.now)
        f.clock.advance(by: 61)
        try await f.evaluate(Self.config)
        let active = try await f.store.alerts(status: .firing)
        #expect(active.first?["severity"] == "critical" && active.first?["labels"]?["severity"] == "critical")
        let published = try await f.db.pool.withConnection {
            try $0.query("SELECT payload::text AS p FROM outbox WHERE topic = 'unrip.alerts' ORDER BY id DESC LIMIT 1").first?["p"]
        }
        #expect(try JSONValue.parse(try #require(published))["severity"] == "critical")

        let problems = ConfigProblems()
        let section = ConfigSection(
            path: "alerts", table: ["severity": .table(["stale_reference_price": "info", "nope": "critical", "funding_not_credited": "loud"])],
            problems: problems)
        let configured = AlertsConfig(section: section)
        #expect(configured.severity(of: .staleReferencePrice) == .info && configured.severity(of: .adapterUnhealthy) == .critical)
        #expect(problems.all.map(\.key).sorted() == ["alerts.severity.funding_not_credited", "alerts.severity.nope"], "\(problems.all)")
        var quieter = Self.config
        quieter.severity = configured.severity
        let g = try await AlertFixture.make()
        try await g.price("BTC/EUR", at: g.now)
        g.clock.advance(by: 61)
        try await g.evaluate(quieter)
        #expect(try await g.store.alerts(status: .firing).first?["labels"]?["severity"] == "info")
        for rule in AlertRule.allCases { #expect(AlertSeverity.allCases.contains(rule.defaultSeverity)) }
    }

    @Test("stale_inventory_snapshot: raised past max age, cleared by a new snapshot")
    func staleInventory() async throws {
        let f = try await AlertFixture.make()
        try await f.snapshot("mm.near", id: "s1", at: f.now)
        f.clock.advance(by: 100)
        #expect(try await f.evaluate(Self.config).isEmpty)
        f.clock.advance(by: 21)
        try await f.evaluate(Self.config)
        #expect(try await f.activeKeys() == ["stale_inventory_snapshot:mm.near"])
        try await f.snapshot("mm.near", id: "s2", at: f.now)
        try await f.evaluate(Self.config)
        #expect(try await f.events() == ["firing stale_inventory_snapshot:mm.near", "resolved stale_inventory_snapshot:mm.near"])
    }

    @Test("funding_not_credited: over the per-chain per-state budget raises; credit clears")
    func fundingBudget() async throws {
        let f = try await AlertFixture.make()
        let tx = String(repeating: "cd", count: 32)
        try await f.observation(tx: tx, target: .seenUnconfirmed, kind: .seenInMempool, at: f.now)
        f.clock.advance(by: 599)
        #expect(try await f.evaluate(Self.config).isEmpty)
        f.clock.advance(by: 2)
        try await f.evaluate(Self.config)
        let key = "funding_not_credited:bitcoin:\(tx):0"
        #expect(try await f.activeKeys() == [key])
        let active = try #require(try await f.store.alerts(status: .firing).first)
        #expect(active["details"]?["budget_s"] == .int(600))
        #expect(active["details"]?["state"] == "SEEN_UNCONFIRMED")
        try await f.observation(tx: tx, target: .credited(.verifierSnapshot(id: "s9")), kind: .confirmed, at: f.now)
        try await f.evaluate(Self.config)
        #expect(try await f.events() == ["firing \(key)", "resolved \(key)"])
    }

    @Test("funding_not_credited: a FAILED_OR_STUCK transfer raises at once, whatever the budget")
    func fundingStuck() async throws {
        let f = try await AlertFixture.make()
        let tx = String(repeating: "ef", count: 32)
        try await f.observation(tx: tx, chain: "gnosis", target: .seenUnconfirmed, kind: .seenInMempool, at: f.now)
        try await f.observation(tx: tx, chain: "gnosis", target: .failedOrStuck(.evicted), kind: .evicted, at: f.now)
        try await f.evaluate(Self.config)
        let active = try #require(try await f.store.alerts(status: .firing).first)
        #expect(active["key"] == .string("funding_not_credited:gnosis:\(tx):0"))
        #expect(active["reason"]?.stringValue?.contains("evicted") == true)
    }

    @Test("execution_submission_failed: each real failure raises; N successes after the last failure clear")
    func executionFailure() async throws {
        let f = try await AlertFixture.make()
        try await f.execution("ok", quote: "q0", at: f.now)
        #expect(try await f.evaluate(Self.config).isEmpty)
        try await f.execution("timeout", quote: "q1", at: f.now)
        try await f.evaluate(Self.config)
        #expect(try await f.activeKeys() == ["execution_submission_failed:solver_relay"])
        try await f.execution("ok", quote: "q2", at: f.now)
        try await f.evaluate(Self.config)
        #expect(try await f.activeKeys().count == 1)  // 1 success < clear_after 2
        try await f.execution("rpc_error", quote: "q3", at: f.now)
        try await f.evaluate(Self.config)
        let active = try #require(try await f.store.alerts(status: .firing).first)
        #expect(active["details"]?["quote_id"] == "q3")
        try await f.execution("ok", quote: "q4", at: f.now)
        try await f.execution("ok", quote: "q5", at: f.now)
        try await f.evaluate(Self.config)
        #expect(try await f.activeKeys().isEmpty)
        #expect(try await f.events() == ["firing execution_submission_failed:solver_relay", "resolved execution_submission_failed:solver_relay"])
    }

    @Test("adapter_unhealthy: from the host's plugin health")
    func adapterUnhealthy() async throws {
        let f = try await AlertFixture.make()
        try await f.evaluate(Self.config, health: [("bitcoin", .healthy), ("relay", .unhealthy("backlog 40 s old"))])
        #expect(try await f.activeKeys() == ["adapter_unhealthy:relay"])
        try await f.evaluate(Self.config, health: [("bitcoin", .healthy), ("relay", .healthy)])
        #expect(try await f.events() == ["firing adapter_unhealthy:relay", "resolved adapter_unhealthy:relay"])
    }
}

@Suite("Alert lifecycle", .serialized)
struct AlertLifecycleTests {
    static let config = AlertsConfig(stalePriceMaxAgeSeconds: 60, forSeconds: 30)

    @Test("for_s: pending before firing; a condition gone while pending never fires")
    func pendingFor() async throws {
        let f = try await AlertFixture.make()
        try await f.price("BTC/EUR", at: f.now)
        f.clock.advance(by: 61)
        try await f.evaluate(Self.config)
        #expect(try await f.store.alerts(status: .pending).count == 1)
        #expect(try await f.events().isEmpty)
        try await f.price("BTC/EUR", at: f.now)  // recovers inside for_s
        try await f.evaluate(Self.config)
        #expect(try await f.store.alerts(status: .pending).isEmpty)
        f.clock.advance(by: 61)
        try await f.evaluate(Self.config)
        f.clock.advance(by: 29)
        try await f.evaluate(Self.config)
        #expect(try await f.events().isEmpty)
        f.clock.advance(by: 1)
        try await f.evaluate(Self.config)
        #expect(try await f.events() == ["firing stale_reference_price:BTC/EUR"])
    }

    @Test("hysteresis: a flap while firing neither clears nor re-raises; resolved only after for_s gone")
    func hysteresis() async throws {
        let f = try await AlertFixture.make()
        let noFor = AlertsConfig(stalePriceMaxAgeSeconds: 60, forSeconds: 0)
        try await f.price("BTC/EUR", at: f.now)
        f.clock.advance(by: 61)
        try await f.evaluate(noFor)
        #expect(try await f.events().count == 1)
        try await f.price("BTC/EUR", at: f.now)  // condition gone
        try await f.evaluate(Self.config)
        #expect(try await f.activeKeys().count == 1)  // still firing, clearing
        f.clock.advance(by: 61)  // stale again: flap
        try await f.evaluate(Self.config)
        #expect(try await f.activeKeys().count == 1)
        try await f.price("BTC/EUR", at: f.now)
        try await f.evaluate(Self.config)
        f.clock.advance(by: 20)
        try await f.price("BTC/EUR", at: f.now)
        try await f.evaluate(Self.config)
        #expect(try await f.events().count == 1)
        f.clock.advance(by: 10)
        try await f.price("BTC/EUR", at: f.now)
        try await f.evaluate(Self.config)
        #expect(try await f.events() == ["firing stale_reference_price:BTC/EUR", "resolved stale_reference_price:BTC/EUR"])
    }

    @Test("restart with an active alert: nothing lost, nothing raised twice")
    func restart() async throws {
        let f = try await AlertFixture.make()
        let config = AlertsConfig(stalePriceMaxAgeSeconds: 60, forSeconds: 0)
        try await f.price("BTC/EUR", at: f.now)
        f.clock.advance(by: 61)
        let first = AlertEvaluator(store: f.store, config: config, clock: f.clock, logger: .init(label: "a"))
        try await first.evaluateOnce()
        // A new process: new evaluator, new store, same database.
        let store2 = AlertStore(pool: f.db.pool, topic: "unrip.alerts")
        let second = AlertEvaluator(store: store2, config: config, clock: f.clock, logger: .init(label: "b"))
        f.clock.advance(by: 5)
        let changes = try await second.evaluateOnce()
        #expect(!changes.contains { $0.isTransition })
        #expect(try await store2.alerts(status: .firing).compactMap { $0["key"]?.stringValue } == ["stale_reference_price:BTC/EUR"])
        #expect(try await f.events() == ["firing stale_reference_price:BTC/EUR"])
        #expect(try await f.outboxAlertKeys().count == 1)
    }

    @Test("pause stops evaluation and says so in /state; resume re-evaluates at once")
    func pauseResume() async throws {
        let f = try await AlertFixture.make()
        let config = AlertsConfig(evalIntervalMs: 3_600_000, stalePriceMaxAgeSeconds: 60, forSeconds: 0)
        let trigger = ChangeSignal()
        let plugin = AlertsPlugin(store: f.store, config: config, clock: f.clock, trigger: trigger, health: nil, logger: .init(label: "alerts"))
        let running = Task { try await plugin.supervisor.run() }
        defer { running.cancel() }
        #expect(await waitUntil { ((await plugin.state())["evaluator"]?["evaluations"]).map { $0 != .int(0) } ?? false })

        plugin.pause()
        #expect(await waitUntil { plugin.status == .paused })
        // Paused means the evaluator stopped: with no instance running, a trigger evaluates nothing.
        #expect(!plugin.supervisor.isInstanceRunning)
        try await f.price("BTC/EUR", at: f.now.addingTimeInterval(-600))
        trigger.signal()
        var state = await plugin.state()
        #expect(state["instance_running"] == false)
        #expect(state["paused"] == true)
        #expect(state["status"] == "paused")
        #expect(state["active"] == .array([]))
        #expect(try await f.events().isEmpty)

        plugin.resume()
        #expect(await waitUntil { (try? await f.activeKeys()) == ["stale_reference_price:BTC/EUR"] })
        state = await plugin.state()
        #expect(state["paused"] == false)
        guard case .array(let recent) = state["recent"] else {
            Issue.record("no recent: \(state.serialized())")
            return
        }
        #expect(recent.first?["status"] == "firing")
        #expect(state["active"]?.serialized().contains("\"reason\":\"no reference price for BTC/EUR within 60 s\"") == true)
    }

    @Test("an input arriving triggers an evaluation without waiting for the interval")
    func evaluatesOnInput() async throws {
        let f = try await AlertFixture.make()
        let config = AlertsConfig(evalIntervalMs: 3_600_000, forSeconds: 0)
        let trigger = ChangeSignal()
        let evaluator = AlertEvaluator(store: f.store, config: config, clock: f.clock, trigger: trigger, logger: .init(label: "e"))
        let running = Task { try await evaluator.run() }
        defer { running.cancel() }
        #expect(await waitUntil { (await evaluator.state())["evaluations"] == .int(1) })
        try await f.execution("transport", quote: "q1", at: f.now)
        trigger.signal()
        #expect(await waitUntil { (try? await f.activeKeys()) == ["execution_submission_failed:solver_relay"] })
    }
}
