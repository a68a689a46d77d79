import Testing
import WatchCore

@Suite struct FundingStateMachineTests {
    static let evidence = CreditEvidence.bridgeDeposit(id: "dep-1", nearTxHash: nil)

    static func target(_ s: FundingState) -> FundingTarget {
        switch s {
        case .seenUnconfirmed: .seenUnconfirmed
        case .seenConfirmed: .seenConfirmed
        case .creditPending: .creditPending
        case .credited: .credited(evidence)
        case .failedOrStuck: .failedOrStuck(.manual("test"))
        }
    }

    /// The full table of DESIGN §5: every pair is either legal or refused with a typed error.
    @Test(arguments: [FundingState?.none] + FundingState.allCases.map(Optional.some), FundingState.allCases)
    func everyTransition(from: FundingState?, to: FundingState) {
        let legal: Set<String> = [
            "nil>SEEN_UNCONFIRMED", "nil>SEEN_CONFIRMED",
            "SEEN_UNCONFIRMED>SEEN_CONFIRMED", "SEEN_UNCONFIRMED>CREDIT_PENDING", "SEEN_UNCONFIRMED>CREDITED",
            "SEEN_UNCONFIRMED>FAILED_OR_STUCK",
            "SEEN_CONFIRMED>SEEN_UNCONFIRMED", "SEEN_CONFIRMED>CREDIT_PENDING", "SEEN_CONFIRMED>CREDITED",
            "SEEN_CONFIRMED>FAILED_OR_STUCK",
            "CREDIT_PENDING>SEEN_UNCONFIRMED", "CREDIT_PENDING>CREDITED", "CREDIT_PENDING>FAILED_OR_STUCK",
            "FAILED_OR_STUCK>SEEN_UNCONFIRMED", "FAILED_OR_STUCK>SEEN_CONFIRMED", "FAILED_OR_STUCK>CREDIT_PENDING",
            "FAILED_OR_STUCK>CREDITED", "FAILED_OR_STUCK>FAILED_OR_STUCK",
        ]
        let key = "\(from?.rawValue ?? "nil")>\(to.rawValue)"
        do {
            let result = try FundingStateMachine.transition(from: from, to: Self.target(to))
            #expect(legal.contains(key), "\(key) should be refused")
            #expect(result == to)
        } catch {
            #expect(!legal.contains(key), "\(key) should be legal")
            #expect(error == IllegalFundingTransition(from: from, to: to))
        }
    }

    @Test func creditedIsFinal() {
        for to in FundingState.allCases {
            #expect(throws: IllegalFundingTransition.self) { try FundingStateMachine.transition(from: .credited, to: Self.target(to)) }
        }
    }

    @Test func reasonsRoundTripThroughTheirStoredText() {
        let reasons: [FundingReason] = [
            .reorgedOut, .replaced(by: "ab"), .evicted, .bridgeFailed, .noBridgeRecordWithinPolicy,
            .notCreditedWithinPolicy, .manual("operator saw it stuck"),
        ]
        for r in reasons {
            #expect(FundingReason(stored: r.description, replacedBy: r.replacedBy) == r)
        }
        #expect(FundingReason(stored: "spendable") == nil)
    }
}
