import Foundation
import PostgresStore
import WatchCore

/// What the reconciler reads credit evidence from, once per round: each bridge (POA, Omni), and
/// the verifier. A reader stores what it reads (bridge deposits, balance snapshots); it never
/// credits: `CREDITED` comes only from `ReconcileDecision` on bridge or verifier evidence.
public protocol CreditReader: Sendable {
    /// Reads once and stores what it read; `open` are the round's open observations of its
    /// bridge (every one for the verifier). False when it could not be read.
    func poll(_ open: [CreditRepository.OpenObservation]) async -> Bool
    func state() -> JSONValue
    func health() -> PluginHealth
}

/// A bridge as a credit source: its deposit addresses, its records of transfers, and how they
/// weigh. A third bridge is one more implementation and one more config section.
public protocol CreditSource: CreditReader {
    /// The bridge's name (`CreditBridge`), as handles, events and labels carry it.
    var bridge: String { get }
    /// Whether the core's `CreditMatcher` links this bridge's records (by tx hash, address and
    /// amount or sum: records per balance), or the source links each record itself.
    var linksByMatcher: Bool { get }
    /// The stuck budgets of this bridge's transfers.
    var policy: CreditPolicy { get }
    /// Deposit addresses (and other periodic reads) from the bridge, made and checked when due.
    func refreshHandles() async
    /// How a stored status of this bridge weighs; nil: unknown, it changes nothing.
    func evidence(status: String) -> BridgeEvidence.Status?
    /// The verifier token `o` is credited as.
    func token(for o: CreditRepository.OpenObservation) -> String?
    /// The bridge's minimum deposit for `o`, when known.
    func minimum(for o: CreditRepository.OpenObservation) -> Amount?
    /// The moment a confirmed observation's no-record budget counts from, nil while it may not
    /// count yet (short of the confirmations the bridge requires, or the bridge unreadable since).
    func recordBudgetStart(_ o: CreditRepository.OpenObservation) -> Date?
    /// The moment a `CREDIT_PENDING` observation's credit budget counts from, nil while it may
    /// not count yet (the bridge may know a transfer before it has the confirmations it requires).
    func creditBudgetStart(_ o: CreditRepository.OpenObservation) -> Date?
    /// False for a transfer to a handle this bridge refuses (an Omni address its stored message
    /// does not give): watched and shown, but no verifier rise is allocated to it.
    func mayBeCredited(_ o: CreditRepository.OpenObservation) -> Bool
    /// What the transition of `o` says of this bridge (status, fees, confirmations, refund path).
    func details(_ o: CreditRepository.OpenObservation, to target: FundingTarget) -> [String: JSONValue]
}
