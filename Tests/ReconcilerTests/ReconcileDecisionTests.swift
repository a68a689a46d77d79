import Foundation
import Reconciler
import Testing
import WatchCore
import WatchTesting

@Suite struct ReconcileDecisionTests {
    let policy = CreditPolicy(noBridgeRecord: 600, notCredited: 900)
    let t0 = Date(timeIntervalSince1970: 1_780_000_000)

    func input(_ state: FundingState, reason: String? = nil, waited: TimeInterval = 0, bridge: BridgeEvidence.Status? = nil, snapshot: String? = nil) -> ReconcileInput {
        ReconcileInput(
            state: state, reason: reason, stateSince: t0, bridge: bridge.map { BridgeEvidence(depositID: "d1", status: $0, nearTxHash: "near1") },
            verifierSnapshotID: snapshot, now: t0.addingTimeInterval(waited))
    }

    @Test func rules() {
        #expect(ReconcileDecision.next(input(.seenConfirmed, bridge: .pending), policy: policy) == .creditPending)
        #expect(ReconcileDecision.next(input(.seenUnconfirmed, bridge: .pending), policy: policy) == nil)
        #expect(ReconcileDecision.next(input(.creditPending, bridge: .completed), policy: policy) == .credited(.bridgeDeposit(id: "d1", nearTxHash: "near1")))
        #expect(ReconcileDecision.next(input(.creditPending, bridge: .credited), policy: policy) == .credited(.bridgeDeposit(id: "d1", nearTxHash: "near1")))
        #expect(ReconcileDecision.next(input(.seenConfirmed, snapshot: "s9"), policy: policy) == .credited(.verifierSnapshot(id: "s9")))
        #expect(ReconcileDecision.next(input(.seenConfirmed, bridge: .failed), policy: policy) == .failedOrStuck(.bridgeFailed))
        #expect(ReconcileDecision.next(input(.failedOrStuck, reason: "bridge_failed", bridge: .failed), policy: policy) == nil)
        #expect(ReconcileDecision.next(input(.seenConfirmed, waited: 601), policy: policy) == .failedOrStuck(.noBridgeRecordWithinPolicy))
        #expect(ReconcileDecision.next(input(.seenConfirmed, waited: 599), policy: policy) == nil)
        #expect(ReconcileDecision.next(input(.creditPending, waited: 901, bridge: .pending), policy: policy) == .failedOrStuck(.notCreditedWithinPolicy))
        #expect(ReconcileDecision.next(input(.failedOrStuck, reason: "no_bridge_record_within_policy", bridge: .pending), policy: policy) == .creditPending)
        #expect(ReconcileDecision.next(input(.failedOrStuck, reason: "not_credited_within_policy", bridge: .completed), policy: policy) == .credited(.bridgeDeposit(id: "d1", nearTxHash: "near1")))
        #expect(ReconcileDecision.next(input(.credited, bridge: .failed), policy: policy) == nil)
    }

    /// Random interleavings: a transfer reaches CREDITED only with bridge or verifier evidence,
    /// and every step the reconciler takes is a legal transition.
    @Test(arguments: 0..<50)
    func creditNeedsEvidence(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        func next(_ n: UInt64) -> UInt64 { rng.next() % n }
        var state = FundingState.seenUnconfirmed
        var reason: String?
        var since = t0
        var now = t0
        var bridge: BridgeEvidence.Status?
        var snapshot: String?
        for _ in 0..<40 {
            now = now.addingTimeInterval(Double(next(400)))
            switch next(6) {
            case 0: if state == .seenUnconfirmed { state = .seenConfirmed; since = now }
            case 1: bridge = [BridgeEvidence.Status.pending, .failed, .credited, .completed][Int(next(4))]
            case 2: bridge = nil
            case 3: if next(4) == 0 { snapshot = "snap\(next(100))" }
            default: break
            }
            let evidence = bridge
            guard let target = ReconcileDecision.next(
                ReconcileInput(state: state, reason: reason, stateSince: since, bridge: evidence.map { BridgeEvidence(depositID: "d", status: $0, nearTxHash: nil) }, verifierSnapshotID: snapshot, now: now),
                policy: policy)
            else { continue }
            let to = try FundingStateMachine.transition(from: state, to: target)
            if to == .credited {
                #expect(evidence == .credited || evidence == .completed || snapshot != nil, "credited without evidence")
            }
            state = to
            reason = target.reason?.description
            since = now
        }
    }
}
