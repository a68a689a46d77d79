import Foundation
@testable import KafkaBus
import Testing

/// When the input consumer calls itself stuck (`InputStallCheck`): no partition held, or
/// messages waiting on the broker with none taken, for longer than the limit; never while it
/// keeps up or has nothing to do.
@Suite struct InputStallCheckTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    func at(_ seconds: TimeInterval) -> Date { start.addingTimeInterval(seconds) }

    @Test func holdingNoPartitionPastTheLimitIsAStall() {
        var check = InputStallCheck(limit: 30, startedAt: start)
        #expect(check.observe(assigned: 0, waiting: 0, at: at(10)) == nil)  // joining the group
        #expect(check.observe(assigned: 0, waiting: 0, at: at(29)) == nil)
        let verdict = check.observe(assigned: 0, waiting: 0, at: at(31))
        #expect(verdict?.contains("holds no partition") == true, "\(String(describing: verdict))")
        // Assigned again: fine at once.
        #expect(check.observe(assigned: 3, waiting: 0, at: at(32)) == nil)
    }

    @Test func messagesWaitingWithNoneTakenPastTheLimitIsAStall() {
        var check = InputStallCheck(limit: 30, startedAt: start)
        #expect(check.observe(assigned: 3, waiting: 0, at: at(5)) == nil)  // idle: nothing to take
        // One message at a partition's end is a transaction marker as often as not: not a stall.
        #expect(check.observe(assigned: 3, waiting: 1, at: at(100)) == nil)
        check.restart(at: at(5))
        #expect(check.observe(assigned: 3, waiting: 2, at: at(20)) == nil)
        #expect(check.observe(assigned: 3, waiting: 2, at: at(34)) == nil)  // 29 s since it last moved
        let verdict = check.observe(assigned: 3, waiting: 2, at: at(36))
        #expect(verdict?.contains("2 message(s) wait") == true, "\(String(describing: verdict))")
        // For a pausing consumer one is enough: the pause itself can starve it.
        var pausing = InputStallCheck(limit: 30, startedAt: start)
        #expect(pausing.observe(assigned: 1, waiting: 1, minimum: 1, at: at(31)) != nil)
        // A record taken: the clock starts again.
        check.tookRecord(at: at(37))
        #expect(check.observe(assigned: 3, waiting: 1, at: at(40)) == nil)
        #expect(check.observe(assigned: 3, waiting: nil, at: at(80)) == nil)  // the broker did not answer: no verdict
    }

    @Test func aBusyConsumerThatKeepsTakingIsNeverStalled() {
        var check = InputStallCheck(limit: 10, startedAt: start)
        for second in stride(from: 1.0, through: 300, by: 1) {
            check.tookRecord(at: at(second - 0.5))
            #expect(check.observe(assigned: 1, waiting: 500, at: at(second)) == nil)
        }
    }

    @Test func checksComeEveryFifthOfTheLimitBetweenOneAndFiveSeconds() {
        #expect(InputStallCheck(limit: 60, startedAt: start).every == 5)
        #expect(InputStallCheck(limit: 10, startedAt: start).every == 2)
        #expect(InputStallCheck(limit: 3, startedAt: start).every == 1)
        let check = InputStallCheck(limit: 10, startedAt: start)
        #expect(!check.due(at(1.9)) && check.due(at(2)))
    }
}
