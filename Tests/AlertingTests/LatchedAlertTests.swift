import Alerting
import Foundation
import Testing
import WatchCore
import WatchTesting

/// Latched alerts and the watchdog's findings through the alert store (issue 11).
@Suite struct LatchedAlertTests {
    static let config: AlertsConfig = {
        var c = AlertsConfig(stalePriceMaxAgeSeconds: 0, staleInventoryMaxAgeSeconds: 0, forSeconds: 0)
        c.watchdog = true
        return c
    }()

    static let violation = WatchdogFinding(
        rule: "finality_violated", subject: "gnosis:92", chain: "gnosis", reason: "gnosis block 92 was finalized as 0xaa and is now 0xbb",
        details: ["height": 92, "finalized_hash": "0xaa", "hash_now": "0xbb"], latched: true)

    @Test func aFinalityViolationStaysFiringUntilResolvedByAPersonAndIsNotRaisedAgain() async throws {
        let f = try await AlertFixture.make()
        _ = try await f.store.evaluate(now: f.now, config: Self.config, health: nil, watchdog: [], latched: [Self.violation])
        let key = "finality_violated:gnosis:92"
        #expect(try await f.activeKeys().contains(key))
        // The finding is gone from the watchdog (reported once): the alert stays.
        f.clock.advance(by: 3600)
        _ = try await f.store.evaluate(now: f.now, config: Self.config, health: nil, watchdog: [], latched: [])
        #expect(try await f.activeKeys().contains(key))
        let state = try #require(try await f.store.alerts(status: .firing).first { $0["key"]?.stringValue == key })
        #expect(state["severity"] == "critical" && state["labels"]?["chain"] == "gnosis")
        // A condition-driven alert cannot be resolved by hand.
        #expect(try await f.store.resolveLatched(key: "watchdog:host", by: "bob", reason: "x", now: f.now) == .notLatched(rule: "watchdog"))
        #expect(try await f.store.resolveLatched(key: "nothing:here", by: "bob", reason: "x", now: f.now) == .notFound)
        guard case .resolved = try await f.store.resolveLatched(key: key, by: "bob", reason: "checked with the RPC provider", now: f.now) else {
            Issue.record("not resolved")
            return
        }
        #expect(try await !f.activeKeys().contains(key))
        // The same finding reported again does not raise it twice.
        _ = try await f.store.evaluate(now: f.now, config: Self.config, health: nil, watchdog: [], latched: [Self.violation])
        #expect(try await !f.activeKeys().contains(key))
        #expect(try await f.events().filter { $0.hasSuffix(key) } == ["firing \(key)", "resolved \(key)"])
        if case .alreadyResolved(let by, _) = try await f.store.resolveLatched(key: key, by: "carol", reason: "again", now: f.now) {
            #expect(by == "bob")
        } else {
            Issue.record("a second resolve should say who resolved it")
        }
    }

    /// What the watchdog's probe records (`AlertStore.latch`) raises the alert at the next
    /// evaluation with nothing handed over in memory: as after a crash and a restart.
    @Test func aLatchRecordedByTheProbeFiresAfterARestart() async throws {
        let f = try await AlertFixture.make()
        try await f.store.latch([Self.violation], now: f.now)
        _ = try await f.store.evaluate(now: f.now, config: Self.config, health: nil, watchdog: [], latched: [])
        #expect(try await f.activeKeys().contains("finality_violated:gnosis:92"))
    }

    @Test func watchdogFindingsRaiseWhileTheyHoldAndTheWatchdogAlertAlwaysFires() async throws {
        let f = try await AlertFixture.make()
        let stalled = WatchdogFinding(
            rule: "chain_stalled", subject: "bitcoin", chain: "bitcoin", reason: "the bitcoin node's best block 7 is 5401 s old",
            details: ["tip_height": 7, "tip_age_s": 5401])
        _ = try await f.store.evaluate(now: f.now, config: Self.config, health: nil, watchdog: [stalled])
        #expect(try await f.activeKeys().sorted() == ["chain_stalled:bitcoin", "watchdog:host"])
        // Findings not provided (no watchdog in this host): not evaluated, nothing resolves.
        f.clock.advance(by: 1)
        _ = try await f.store.evaluate(now: f.now, config: Self.config, health: nil, watchdog: nil)
        #expect(try await f.activeKeys().sorted() == ["chain_stalled:bitcoin", "watchdog:host"])
        // The finding clears: resolved. The watchdog alert stays.
        f.clock.advance(by: 1)
        _ = try await f.store.evaluate(now: f.now, config: Self.config, health: nil, watchdog: [])
        #expect(try await f.activeKeys() == ["watchdog:host"])
        // [alerts] watchdog = false: it resolves.
        var off = Self.config
        off.watchdog = false
        _ = try await f.store.evaluate(now: f.now, config: off, health: nil, watchdog: [])
        #expect(try await f.activeKeys().isEmpty)
    }
}
