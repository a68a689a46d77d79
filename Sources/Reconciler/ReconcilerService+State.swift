import Foundation
import PostgresStore
import WatchCore

/// `/plugins/reconciler/state`: the round's figures, POA's own fields at the top level (as they
/// always were), and each bridge's state under `bridges`.
extension ReconcilerService {
    public func state() async -> JSONValue {
        let s = stats.withLock { $0 }
        var fields: [String: JSONValue] = [
            "bridge_url": .string(poa.client.redactedURL), "accounts": .array(configuration.accounts.map(JSONValue.string)),
            "chains": .object(configuration.chains.mapValues(JSONValue.string)), "polls": .int(Int64(s.polls)),
            "verifier_snapshots_recorded": .int(Int64(verifier.map { $0.stats.withLock { $0.snapshotsRecorded } } ?? 0)),
            "verifier": verifier.map { .string("\($0.client.contract) via NEAR RPC") } ?? "snapshots from Kafka only",
            "errors": .int(Int64(tallies(s).map(\.count).reduce(0, +))),
            "last_error": .optional(lastError(s)), "last_poll_at": .optional(s.lastPollAt.map(Timestamp.string)),
            "transitions": .object(s.transitions.mapValues { .int(Int64($0)) }),
            "policy": ["no_bridge_record_s": .int(Int64(configuration.policy.noBridgeRecord)), "credit_budget_s": .int(Int64(configuration.policy.notCredited))],
            "matches": .object(s.matches.mapValues { .int(Int64($0)) }),
            "unmatched_deposits": .int(Int64(s.unmatchedDeposits)),
        ]
        let poaState = poa.state()
        for key in ["deposits_seen", "deposits_changed", "malformed_deposits", "unknown_statuses", "deposit_addresses", "tokens", "notify_deposit"] {
            fields[key] = poaState[key] ?? .null
        }
        var bridges: [String: JSONValue] = [:]
        for source in sources { bridges[source.bridge] = source.state() }
        fields["bridges"] = .object(bridges)
        fields["verifier_reads"] = verifier?.state() ?? .null
        return .object(fields)
    }

    /// The error tallies of the rounds, of POA and of the verifier.
    func tallies(_ s: Stats) -> [ErrorTally] {
        [s.errors, poa.stats.withLock { $0.errors }] + (verifier.map { [$0.stats.withLock { $0.errors }] } ?? [])
    }

    /// The newest error of the round, of POA and of the verifier.
    func lastError(_ s: Stats) -> String? { ErrorTally.newest(tallies(s)) }
}
