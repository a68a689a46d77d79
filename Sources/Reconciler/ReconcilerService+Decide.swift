import Foundation
import Logging
import Metrics
import PostgresStore
import WatchCore

/// One round of decisions: link deposits and verifier rises to open observations with
/// `CreditMatcher` and `VerifierAllocation`, then move each through `ReconcileDecision`.
extension ReconcilerService {
    /// What one open observation has going for it this round.
    struct Evidence {
        var depositID: String?
        var status: BridgeEvidence.Status?
        var nearTxHash: String?
        /// A link made this round (stored with the transition, or on its own).
        var newLink: CreditLink?
        var snapshotID: String?
        /// The account whose verifier rise the snapshot credit came from.
        var verifierAccount: String?
    }

    func decideAll() async throws {
        let now = clock.now()
        // A link to a deposit whose status is unknown: stored raw, and nothing changes, so such an
        // observation takes no part in the round (its deposit is linked, not free, in any case).
        let open = try await credits.openObservations(chains: configuration.reconciledChains).filter {
            source(of: $0) != nil && ($0.depositID == nil || status(of: $0) != nil)
        }
        guard let oldest = open.map(\.firstSeenAt).min() else {
            stats.withLock { $0.unmatchedDeposits = 0 }
            return
        }
        let free = try await credits.freeDeposits(bridgeChains: Array(Set(configuration.chains.values)))
            .filter { BridgeEvidence.Status(rawValue: $0.status) != nil }  // an unknown status changes nothing
        let matched = CreditMatcher.link(open.compactMap(matchable), free.compactMap(matchable))
        let deposits = Dictionary(free.map { ($0.depositID, $0) }, uniquingKeysWith: { first, _ in first })
        let links = Dictionary(matched.links.map { ($0.observationID, $0) }, uniquingKeysWith: { first, _ in first })
        stats.withLock { $0.unmatchedDeposits = matched.unmatched.count }

        var evidence: [Int: Evidence] = [:]
        for o in open {
            if let id = o.depositID {
                evidence[o.id] = Evidence(depositID: id, status: status(of: o), nearTxHash: o.nearTxHash)
            } else if let link = links[o.id], let d = deposits[link.depositID] {
                evidence[o.id] = Evidence(depositID: d.depositID, status: BridgeEvidence.Status(rawValue: d.status), nearTxHash: d.nearTxHash, newLink: link)
            }
        }
        for a in try await verifierAllocations(open, evidence: evidence, since: oldest) {
            evidence[a.observationID, default: Evidence()].snapshotID = a.snapshotID
            evidence[a.observationID]?.verifierAccount = a.account
        }
        for o in open {
            try await decide(o, evidence[o.id] ?? Evidence(), minimum: source(of: o)?.minimum(for: o), now: now)
        }
    }

    /// How the linked deposit's stored status weighs, by the observation's bridge (POA: its four
    /// statuses, any other unknown: nil, nothing changes).
    func status(of o: CreditRepository.OpenObservation) -> BridgeEvidence.Status? {
        o.depositStatus.flatMap { source(of: o)?.evidence(status: $0) }
    }

    func matchable(_ o: CreditRepository.OpenObservation) -> MatchableObservation? {
        guard source(of: o)?.linksByMatcher == true else { return nil }  // a bridge whose source links its records itself
        guard let chain = configuration.chains[o.chain], let amount = Amount(decimal: o.amount) else { return nil }
        return MatchableObservation(
            id: o.id, bridgeChain: chain, address: o.address, asset: o.asset, amount: amount, txHash: o.txHash,
            firstSeenAt: o.firstSeenAt, confirmed: o.state != .seenUnconfirmed && o.reason != FundingReason.reorgedOut.description,
            linkedDepositID: o.depositID)
    }

    func matchable(_ d: CreditRepository.FreeDeposit) -> MatchableDeposit? {
        guard let amount = Amount(decimal: d.amount) else { return nil }
        return MatchableDeposit(
            id: d.depositID, bridgeChain: d.chain, address: d.address, asset: configuration.asset(ofToken: d.nearTokenID, bridgeChain: d.chain),
            txHash: d.txHash, amount: amount, order: d.order)
    }

    /// Verifier rises for observations the bridge has not already credited.
    func verifierAllocations(_ open: [CreditRepository.OpenObservation], evidence: [Int: Evidence], since: Date) async throws -> [VerifierAllocation.Allocation] {
        let pending = open.compactMap { o -> AllocatableObservation? in
            let status = evidence[o.id]?.status
            guard status != .credited, status != .completed, let amount = Amount(decimal: o.amount) else { return nil }
            guard let source = source(of: o), source.mayBeCredited(o) else { return nil }
            // Allocated by verifier token, not asset name: USDC on two chains is two tokens, BTC
            // through POA and through Omni too.
            guard let token = source.token(for: o) else { return nil }
            return AllocatableObservation(id: o.id, asset: token, amount: amount, firstSeenAt: o.firstSeenAt, account: o.account)
        }
        guard !pending.isEmpty else { return [] }
        let routes = configuration.tokenRoutes.map { CreditRepository.TokenRoute(chain: $0.chain, asset: $0.asset, token: $0.token) }
        let rises = try await credits.balanceRises(routes: routes, since: since).compactMap { r -> SnapshotRise? in
            guard let rise = Amount(decimal: r.rise), let used = Amount(decimal: r.used) else { return nil }
            return SnapshotRise(snapshotID: r.snapshotID, asset: r.token, at: r.at, rise: rise, used: used, account: r.account)
        }
        return VerifierAllocation.allocate(rises, to: pending)
    }

    func decide(_ o: CreditRepository.OpenObservation, _ e: Evidence, minimum: Amount?, now: Date) async throws {
        let bridgeEvidence = e.depositID.flatMap { id in e.status.map { BridgeEvidence(depositID: id, status: $0, nearTxHash: e.nearTxHash) } }
        let below = minimum.flatMap { min in Amount(decimal: o.amount).flatMap { $0 < min ? min : nil } }
        let source = source(of: o)
        let input = ReconcileInput(
            state: o.state, reason: o.reason, stateSince: budgetStart(o, source: source, evidence: bridgeEvidence, now: now), bridge: bridgeEvidence,
            verifierSnapshotID: e.snapshotID, now: now, belowMinimum: below)
        guard let target = ReconcileDecision.next(input, policy: source?.policy ?? configuration.policy) else {
            if let link = e.newLink { try await storeLink(link, observationID: o.id, now: now) }
            return
        }
        var match = e.newLink?.match.rawValue
        if case .credited(.verifierSnapshot) = target { match = CreditMatch.verifierDelta.rawValue }
        var details: JSONValue? = target.reason == .belowMinimumDeposit ? ["min_deposit_amount": .string(below?.description ?? "")] : nil
        if case .credited(.verifierSnapshot) = target { details = Self.accountDetails(handle: o.account, verifier: e.verifierAccount) }
        if let bridgeDetails = source?.details(o, to: target), !bridgeDetails.isEmpty {
            details = .object((details?.objectValue ?? [:]).merging(bridgeDetails) { first, _ in first })
        }
        let applied = try await credits.transition(
            observationID: o.id, to: target, kind: Self.kind(of: target), depositID: e.depositID, nearTxHash: e.nearTxHash,
            snapshotID: e.snapshotID, match: match, details: details,
            verifierToken: e.snapshotID.flatMap { _ in source?.token(for: o) }, at: now)
        if applied {
            stats.withLock {
                $0.transitions[target.state.rawValue, default: 0] += 1
                if let match, e.newLink != nil || match == CreditMatch.verifierDelta.rawValue { $0.matches[match, default: 0] += 1 }
            }
            Counter(label: "unrip_funding_transitions_total", dimensions: [("to", target.state.rawValue), ("by", "reconciler")]).increment()
            logger.info(
                "funding transition",
                metadata: ["observation": "\(o.id)", "to": "\(target.state.rawValue)", "reason": "\(target.reason?.description ?? "-")", "match": "\(match ?? "-")"])
        } else if let link = e.newLink {
            try await storeLink(link, observationID: o.id, now: now)
        }
    }

    /// When a transfer's budget counts from: its state's start for POA; for a credit source's
    /// transfer without a record, or credit pending, the moment the source says it may count
    /// (now while it may not: short of the bridge's confirmations, or the bridge unreadable).
    func budgetStart(_ o: CreditRepository.OpenObservation, source: (any CreditSource)?, evidence: BridgeEvidence?, now: Date) -> Date {
        guard let source else { return o.stateSince }
        switch o.state {
        case .seenConfirmed where evidence == nil: return source.recordBudgetStart(o).map { max($0, o.stateSince) } ?? now
        case .creditPending: return source.creditBudgetStart(o).map { max($0, o.stateSince) } ?? now
        default: return o.stateSince
        }
    }

    func storeLink(_ link: CreditLink, observationID: Int, now: Date) async throws {
        guard try await credits.link(observationID: observationID, depositID: link.depositID, match: link.match.rawValue, at: now) else { return }
        stats.withLock { $0.matches[link.match.rawValue, default: 0] += 1 }
        logger.info("bridge deposit linked", metadata: ["observation": "\(observationID)", "deposit": "\(link.depositID)", "match": "\(link.match.rawValue)"])
    }

    static func kind(of target: FundingTarget) -> String {
        switch target {
        case .credited: "credited"
        case .creditPending: "bridge_pending"
        case .failedOrStuck: "stuck"  // the reason is the event's `reason` (the schema's kind is [a-z_]+)
        default: "reconciled"
        }
    }

    /// Which account a verifier credit came from, and whether the handle named it: a handle
    /// without an account is matched by any account's rise, and its credit says so.
    static func accountDetails(handle: String?, verifier: String?) -> JSONValue {
        [
            "verifier_account": .optional(verifier), "handle_account": .optional(handle),
            "account_match": .string(handle == nil ? "any: the handle names no account" : "same"),
        ]
    }
}
