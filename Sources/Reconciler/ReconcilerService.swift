import Foundation
import Logging
import Metrics
import PostgresStore
import Synchronization
import WatchCore

/// Links chain observations to bridge deposits and verifier credit, and moves them through
/// `CREDIT_PENDING` → `CREDITED`, or to `FAILED_OR_STUCK` with a reason when a budget runs
/// out. Runs as the host plugin `reconciler`. Never writes anything spendable: credit comes
/// only from the bridge's status or a verifier snapshot.
public final class ReconcilerService: PluginService {
    let configuration: ReconcilerConfiguration
    let bridge: POABridgeClient
    let verifier: NEARVerifierClient?
    let credits: CreditRepository
    let logger: Logger
    let clock: any WatchClock
    let stats = Mutex(Stats())

    struct Stats {
        var polls = 0
        var depositsSeen = 0
        var depositsChanged = 0
        var malformed = 0
        var errors = 0
        var consecutiveErrors = 0
        var lastError: String?
        var lastPollAt: Date?
        var snapshotsRecorded = 0
        var transitions: [String: Int] = [:]
    }

    public init(configuration: ReconcilerConfiguration, credits: CreditRepository, logger: Logger, clock: any WatchClock) {
        self.configuration = configuration
        bridge = POABridgeClient(url: configuration.rpcURL, timeout: configuration.timeout)
        verifier = configuration.nearRPCURL.map { NEARVerifierClient(url: $0, contract: configuration.verifierContract, timeout: configuration.timeout) }
        self.credits = credits
        self.logger = logger
        self.clock = clock
    }

    public func run() async throws {
        while !Task.isCancelled {
            await reconcileOnce()
            try? await clock.sleep(for: configuration.pollInterval)
        }
    }

    /// One round: poll the bridge (failures are counted; linking still runs on what is stored),
    /// then decide every open observation.
    public func reconcileOnce() async {
        var bridgeOK = true
        for account in configuration.accounts {
            for (chain, bridgeChain) in configuration.chains.sorted(by: { $0.key < $1.key }) {
                do {
                    let page = try await bridge.allRecentDeposits(account: account, chain: bridgeChain, pageSize: configuration.pageSize, maxPages: configuration.maxPages)
                    let rows = page.deposits.map { d in
                        CreditRepository.DepositRow(
                            chain: d.chain, accountID: d.accountID, depositID: d.depositID, txHash: d.txHash,
                            nearTxHash: d.mintTxHash, address: d.address, asset: nil, amount: d.amount.description,
                            status: d.status.rawValue, raw: d.raw)
                    }
                    let changed = try await credits.upsertDeposits(rows)
                    stats.withLock {
                        $0.depositsSeen += rows.count
                        $0.depositsChanged += changed
                        $0.malformed += page.malformed.count
                    }
                    for reason in page.malformed { logger.warning("bridge sent a malformed deposit; skipped", metadata: ["chain": "\(chain)", "reason": "\(reason)"]) }
                } catch {
                    bridgeOK = false
                    Counter(label: "unrip_bridge_errors_total").increment()
                    stats.withLock {
                        $0.errors += 1
                        $0.lastError = "recent_deposits \(account) \(bridgeChain): \(error)"
                    }
                    logger.warning("bridge poll failed", metadata: ["account": "\(account)", "chain": "\(bridgeChain)", "error": "\(error)"])
                }
            }
        }
        if let verifier {
            let tokens = configuration.tokens.values.sorted()
            for account in configuration.accounts {
                do {
                    let b = try await verifier.balances(account: account, tokenIDs: tokens)
                    let recorded = try await credits.recordSnapshot(
                        id: "near:\(b.blockHeight):\(account)", account: account, at: clock.now(),
                        balances: b.balances.mapValues(\.description))
                    if recorded { stats.withLock { $0.snapshotsRecorded += 1 } }
                } catch {
                    bridgeOK = false
                    stats.withLock {
                        $0.errors += 1
                        $0.lastError = "mt_batch_balance_of \(account): \(error)"
                    }
                    logger.warning("verifier read failed", metadata: ["account": "\(account)", "error": "\(error)"])
                }
            }
        }
        do {
            try await decideAll()
        } catch {
            bridgeOK = false
            stats.withLock {
                $0.errors += 1
                $0.lastError = "reconcile: \(error)"
            }
        }
        let now = clock.now()
        stats.withLock {
            $0.polls += 1
            $0.lastPollAt = now
            $0.consecutiveErrors = bridgeOK ? 0 : $0.consecutiveErrors + 1
        }
    }

    func decideAll() async throws {
        let now = clock.now()
        for c in try await credits.candidates(chains: configuration.chains, tokens: configuration.tokens) {
            let evidence = c.depositID.flatMap { id in
                c.depositStatus.flatMap(BridgeEvidence.Status.init(rawValue:)).map { BridgeEvidence(depositID: id, status: $0, nearTxHash: c.nearTxHash) }
            }
            let input = ReconcileInput(state: c.state, reason: c.reason, stateSince: c.stateSince, bridge: evidence, verifierSnapshotID: c.verifierSnapshotID, now: now)
            guard let target = ReconcileDecision.next(input, policy: configuration.policy) else { continue }
            let kind: String
            switch target {
            case .credited: kind = "credited"
            case .creditPending: kind = "bridge_pending"
            case .failedOrStuck(let reason): kind = "stuck: \(reason)"
            default: kind = "reconciled"
            }
            let applied = try await credits.transition(
                observationID: c.observationID, to: target, kind: kind, depositID: evidence?.depositID,
                nearTxHash: evidence?.nearTxHash, snapshotID: c.verifierSnapshotID, at: now)
            if applied {
                stats.withLock { $0.transitions[target.state.rawValue, default: 0] += 1 }
                Counter(label: "unrip_funding_transitions_total", dimensions: [("to", target.state.rawValue), ("by", "reconciler")]).increment()
                logger.info("funding transition", metadata: ["observation": "\(c.observationID)", "to": "\(target.state.rawValue)", "reason": "\(target.reason?.description ?? "-")"])
            }
        }
    }

    public func state() async -> JSONValue {
        let s = stats.withLock { $0 }
        return [
            "bridge_url": .string(bridge.redactedURL), "accounts": .array(configuration.accounts.map(JSONValue.string)),
            "chains": .object(configuration.chains.mapValues(JSONValue.string)), "polls": .int(Int64(s.polls)),
            "deposits_seen": .int(Int64(s.depositsSeen)), "deposits_changed": .int(Int64(s.depositsChanged)),
            "malformed_deposits": .int(Int64(s.malformed)), "verifier_snapshots_recorded": .int(Int64(s.snapshotsRecorded)),
            "verifier": verifier.map { .string("\($0.contract) via NEAR RPC") } ?? "snapshots from Kafka only", "errors": .int(Int64(s.errors)),
            "last_error": .optional(s.lastError), "last_poll_at": .optional(s.lastPollAt.map(Timestamp.string)),
            "transitions": .object(s.transitions.mapValues { .int(Int64($0)) }),
            "policy": ["no_bridge_record_s": .int(Int64(configuration.policy.noBridgeRecord)), "credit_budget_s": .int(Int64(configuration.policy.notCredited))],
        ]
    }

    public func health() async -> PluginHealth {
        let s = stats.withLock { $0 }
        return s.consecutiveErrors >= 3 ? .unhealthy("bridge unreachable or failing: \(s.lastError ?? "?")") : .healthy
    }
}
