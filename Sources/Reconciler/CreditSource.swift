import Foundation
import PostgresStore
import WatchCore

/// A bridge the reconciler takes credit evidence from, beside POA's `recent_deposits` (which the
/// service reads itself). Each source reads its bridge once per round, links what it learns to
/// open observations as stored deposits, and says how its statuses weigh. A source never
/// credits: `CREDITED` comes only from `ReconcileDecision` on bridge or verifier evidence.
public protocol CreditSource: Sendable {
    /// The bridge's name (`CreditBridge`), as handles, events and labels carry it.
    var bridge: String { get }
    /// The verifier token this bridge credits.
    var token: String { get }
    /// The stuck budgets of this bridge's transfers.
    var policy: CreditPolicy { get }
    /// Deposit addresses from the bridge, made and checked when due.
    func refreshHandles() async
    /// Reads the bridge for `open` (the round's open observations of this bridge) and stores
    /// what it says. False when the bridge could not be read.
    func poll(_ open: [CreditRepository.OpenObservation]) async -> Bool
    /// How a stored status of this bridge weighs.
    func evidence(status: String) -> BridgeEvidence.Status
    /// The moment an observation's no-record budget counts from, nil while it may not count yet
    /// (short of the confirmations the bridge requires, or the bridge unreadable since).
    func recordBudgetStart(_ o: CreditRepository.OpenObservation) -> Date?
    /// The moment a `CREDIT_PENDING` observation's credit budget counts from, nil while it may
    /// not count yet (the bridge may know a transfer before it has the confirmations it requires).
    func creditBudgetStart(_ o: CreditRepository.OpenObservation) -> Date?
    /// False for a transfer to a handle this bridge refuses (an Omni address its stored message
    /// does not give): watched and shown, but no verifier rise is allocated to it.
    func mayBeCredited(_ o: CreditRepository.OpenObservation) -> Bool
    /// The bridge's minimum deposit, when known.
    var minimum: Amount? { get }
    /// What the transition of `o` says of this bridge (status, fees, confirmations, refund path).
    func details(_ o: CreditRepository.OpenObservation, to target: FundingTarget) -> [String: JSONValue]
    func state() -> JSONValue
    func health() -> PluginHealth
}
