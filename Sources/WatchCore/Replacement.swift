/// What became of a transfer whose mempool transaction was replaced: another transaction spent
/// one of its inputs (BIP125 or full-RBF, signalled or not). The tracker decides it from what
/// the replacing transaction pays, which the adapter reports before the replacement itself.
public struct Replacement: Sendable, Hashable {
    public enum Outcome: String, Sendable {
        /// The replacement pays the same handle (a fee bump): it is its own transfer and this one
        /// is closed without an alert.
        case superseded
        /// The replacement pays no watched handle: the deposit was double-spent away
        /// (`funding_double_spent`, until a person resolves it).
        case doubleSpent = "double_spent"
        /// The replacement pays another watched handle, not this one.
        case paysAnotherHandle = "pays_another_handle"
        /// The node did not name the replacing transaction.
        case unknown
    }

    public var by: String?
    public var outcome: Outcome
    public var originalAmount: Amount
    /// What the replacement pays the same handle (superseded only).
    public var replacementAmount: Amount?

    public init(by: String?, outcome: Outcome, originalAmount: Amount, replacementAmount: Amount? = nil) {
        self.by = by
        self.outcome = outcome
        self.originalAmount = originalAmount
        self.replacementAmount = replacementAmount
    }

    /// The replacing transaction when the replaced transfer is superseded (paid again to the same handle).
    public var supersededBy: String? { outcome == .superseded ? by : nil }
    /// The replacing transaction when the deposit was double-spent away.
    public var doubleSpentBy: String? { outcome == .doubleSpent ? by : nil }

    /// The figures on the timeline event of the replacement.
    public var details: JSONValue {
        [
            "replacement": .string(outcome.rawValue), "replaced_by": .optional(by),
            "original_amount": .string(originalAmount.description),
            "replacement_amount": .optional(replacementAmount?.description),
        ]
    }
}
