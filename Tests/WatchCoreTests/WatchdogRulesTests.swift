import Foundation
import Testing
import WatchCore

/// The chain and node watchdog's rules, on injected time (issue 11).
@Suite struct WatchdogRulesTests {
    let start = Date(timeIntervalSince1970: 1_780_000_000)
    let policy = WatchdogPolicy(tipStaleAfterSeconds: 5400, maxCursorLagBlocks: 3, zmqSilentAfterSeconds: 600)

    func rules(_ findings: [WatchdogFinding]) -> [String] { findings.map(\.rule) }

    func assess(
        _ v: NodeVitals, cursor: Int? = nil, signals: ChainSignals.Snapshot = .init(), memory: inout WatchdogMemory,
        recheck: (height: Int, hash: String?)? = nil, at t: TimeInterval
    ) -> [WatchdogFinding] {
        WatchdogRules.assess(
            chain: "bitcoin", vitals: v, cursorHeight: cursor ?? v.tipHeight, signals: signals, policy: policy, memory: &memory,
            recheck: recheck, now: start.addingTimeInterval(t))
    }

    @Test func aTipOlderThanTheLimitOrAHeightThatStopsMovingIsStalled() {
        var memory = WatchdogMemory()
        let fresh = NodeVitals(tipHeight: 100, tipTime: start)
        #expect(assess(fresh, memory: &memory, at: 0).isEmpty)
        #expect(assess(fresh, memory: &memory, at: 5400).isEmpty)  // exactly the limit: not yet
        let stalled = assess(fresh, memory: &memory, at: 5401)
        #expect(rules(stalled) == ["chain_stalled"])
        #expect(stalled[0].details["tip_height"] == .int(100) && stalled[0].details["tip_age_s"] == .int(5401))
        // A new block clears it.
        #expect(assess(NodeVitals(tipHeight: 101, tipTime: start.addingTimeInterval(5402)), memory: &memory, at: 5402).isEmpty)
        // Without a tip time (or with a node clock ahead), a height unchanged that long is stalled too.
        var m2 = WatchdogMemory()
        let frozen = NodeVitals(tipHeight: 7, tipTime: start.addingTimeInterval(1_000_000))
        #expect(assess(frozen, memory: &m2, at: 0).isEmpty)
        #expect(rules(assess(frozen, memory: &m2, at: 5401)) == ["chain_stalled"])
    }

    @Test func syncingAndLaggingAreReportedWithTheirFigures() {
        var memory = WatchdogMemory()
        let syncing = assess(NodeVitals(tipHeight: 10, tipTime: start, syncing: "initialblockdownload", headers: 900), memory: &memory, at: 0)
        #expect(rules(syncing) == ["node_syncing"] && syncing[0].details["headers"] == .int(900))
        let v = NodeVitals(tipHeight: 110, tipTime: start)
        #expect(assess(v, cursor: 107, memory: &memory, at: 1).isEmpty)  // 3 behind: within max_cursor_lag_blocks
        let lagging = assess(v, cursor: 106, memory: &memory, at: 2)
        #expect(rules(lagging) == ["chain_lagging"])
        #expect(lagging[0].details["lag_blocks"] == .int(4) && lagging[0].details["cursor_height"] == .int(106))
    }

    @Test func anAdapterFollowingFinalizedBlocksLagsFromTheFinalizedBlockNotTheHead() {
        var following = policy
        following.lagFromFinalized = true
        var memory = WatchdogMemory()
        let v = NodeVitals(tipHeight: 200, tipTime: start, finalized: BlockRef(height: 150, hash: "0xf"))
        let at = start.addingTimeInterval(1)
        func lag(_ p: WatchdogPolicy, cursor: Int) -> [String] {
            WatchdogRules.assess(chain: "gnosis", vitals: v, cursorHeight: cursor, signals: .init(), policy: p, memory: &memory, recheck: nil, now: at)
                .map(\.rule)
        }
        #expect(lag(following, cursor: 148).isEmpty)  // 2 behind finalized, 52 behind the head
        #expect(lag(policy, cursor: 148) == ["chain_lagging"])
        #expect(lag(following, cursor: 146) == ["chain_lagging"])
    }

    @Test func zmqIsSilentOnlyWhenTheMempoolMovedWithoutIt() {
        var memory = WatchdogMemory()
        let v = NodeVitals(tipHeight: 1, tipTime: start)
        var s = ChainSignals.Snapshot()
        s.pushFeedConfigured = true
        s.listeningSince = start
        // Quiet node, quiet ZMQ: not silent however long.
        #expect(assess(v, signals: s, memory: &memory, at: 3000).filter { $0.rule == "zmq_silent" }.isEmpty)
        // The mempool moved (a resync found what ZMQ did not bring) and ZMQ said nothing for 600 s.
        s.mempoolChangedAt = start.addingTimeInterval(100)
        #expect(assess(v, signals: s, memory: &memory, at: 600).filter { $0.rule == "zmq_silent" }.isEmpty)
        let silent = assess(v, signals: s, memory: &memory, at: 601).filter { $0.rule == "zmq_silent" }
        #expect(silent.count == 1)
        // A message after the change clears it.
        s.lastPushMessageAt = start.addingTimeInterval(650)
        #expect(assess(v, signals: s, memory: &memory, at: 1300).filter { $0.rule == "zmq_silent" }.isEmpty)
        // Without ZMQ configured: never.
        #expect(assess(v, signals: .init(), memory: &memory, at: 9000).filter { $0.rule == "zmq_silent" }.isEmpty)
    }

    @Test func aFinalizedBlockWhoseHashChangesIsALatchedViolation() {
        var memory = WatchdogMemory()
        let a = BlockRef(height: 50, hash: "0xaa")
        #expect(assess(NodeVitals(tipHeight: 60, tipTime: start, finalized: a), memory: &memory, at: 0).isEmpty)
        #expect(memory.highestFinalized == 50)
        // Same height re-read: unchanged, nothing.
        #expect(assess(NodeVitals(tipHeight: 61, tipTime: start, finalized: a), memory: &memory, recheck: (50, "0xaa"), at: 1).isEmpty)
        // The node now has another block at height 50.
        let found = assess(NodeVitals(tipHeight: 62, tipTime: start, finalized: BlockRef(height: 52, hash: "0xcc")), memory: &memory, recheck: (50, "0xbb"), at: 2)
        #expect(rules(found) == ["finality_violated"] && found[0].latched && found[0].subject == "bitcoin:50")
        #expect(found[0].details["finalized_hash"] == .string("0xaa") && found[0].details["hash_now"] == .string("0xbb"))
        // Reported once: the new hash is what is remembered.
        #expect(assess(NodeVitals(tipHeight: 63, tipTime: start, finalized: BlockRef(height: 52, hash: "0xcc")), memory: &memory, recheck: (52, "0xcc"), at: 3).isEmpty)
        // The finalized tag itself moving to another hash at a height seen finalized.
        #expect(rules(assess(NodeVitals(tipHeight: 64, tipTime: start, finalized: BlockRef(height: 52, hash: "0xdd")), memory: &memory, at: 4)) == ["finality_violated"])
    }
}
