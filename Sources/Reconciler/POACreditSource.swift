import Foundation
import Logging
import Metrics
import PostgresStore
import Synchronization
import WatchCore

/// The POA bridge (`[bridge]`) as a credit source: `recent_deposits` per (account, chain) stored
/// as bridge deposits, which the core's `CreditMatcher` links to observations (tx hash, address
/// and amount, address and sum: a POA record is per balance, not per output); its deposit
/// addresses, `supported_tokens` minimums and `notify_deposit` (POACreditSource+Handles).
/// `CREDITED`/`COMPLETED` credit; `FAILED` is stuck; any other status changes nothing.
public final class POACreditSource: CreditSource {
    let configuration: ReconcilerConfiguration
    let client: POABridgeClient
    let credits: CreditRepository
    let handles: FundingRepository
    /// The enabled chains bridge-given handles may be added to.
    let handleChains: [HandleChain]
    let onHandlesChanged: @Sendable () async -> Void
    let logger: Logger
    let clock: any WatchClock
    let stats = Mutex(Stats())
    let bookkeeping = Mutex(Bookkeeping())

    /// When each periodic read last succeeded, the minimums it gave, and the backoff of failed
    /// notifications.
    struct Bookkeeping {
        var handlesRefreshedAt: Date?
        var tokensRefreshedAt: Date?
        var minimums: [String: Amount] = [:]
        var notifyBackoff: [String: (failures: Int, next: Date)] = [:]
    }

    /// The deposit address of one (account, chain), as last refreshed.
    struct HandleStatus {
        var address: String?
        var lastRefreshAt: Date?
        var lastError: String?
        var rotations = 0
    }

    struct Stats {
        var depositsSeen = 0
        var depositsChanged = 0
        var malformed = 0
        var errors = ErrorTally()
        var consecutiveFailures = 0
        /// Statuses other than PENDING, CREDITED, COMPLETED, FAILED in the last poll, by text.
        var unknownStatuses: [String: Int] = [:]
        var handleStatus: [String: HandleStatus] = [:]
        var notified = 0
        var notifyErrors = 0
        var lastNotifyError: String?
        var tokensError: String?
    }

    public var bridge: String { CreditBridge.poa }
    public var policy: CreditPolicy { configuration.policy }
    /// POA's records are per balance: the core's matcher links them.
    public var linksByMatcher: Bool { true }

    init(
        configuration: ReconcilerConfiguration, credits: CreditRepository, handles: FundingRepository, handleChains: [HandleChain],
        logger: Logger, clock: any WatchClock, onHandlesChanged: @escaping @Sendable () async -> Void
    ) {
        self.configuration = configuration
        client = POABridgeClient(url: configuration.rpcURL, timeout: configuration.timeout)
        self.credits = credits
        self.handles = handles
        self.handleChains = handleChains
        self.logger = logger
        self.clock = clock
        self.onHandlesChanged = onHandlesChanged
    }

    public func refreshHandles() async {
        await refreshHandlesIfDue()
        await refreshMinimumsIfDue()
    }

    /// `recent_deposits` of every (account, chain), then `notify_deposit` when on.
    public func poll(_ open: [CreditRepository.OpenObservation]) async -> Bool {
        var unknown: [String: Int] = [:]
        var ok = true
        for account in configuration.accounts {
            for (chain, bridgeChain) in configuration.chains.sorted(by: { $0.key < $1.key }) {
                if !(await pollDeposits(account: account, chain: chain, bridgeChain: bridgeChain, unknown: &unknown)) { ok = false }
            }
        }
        stats.withLock {
            $0.unknownStatuses = unknown
            $0.consecutiveFailures = ok ? 0 : $0.consecutiveFailures + 1
        }
        for (status, n) in unknown.sorted(by: { $0.key < $1.key }) {
            logger.warning("bridge sent deposits with an unknown status; stored raw, nothing changed", metadata: ["status": "\(Excerpt.of(status))", "count": "\(n)"])
        }
        await notifyDepositsIfEnabled()
        return ok
    }

    public func evidence(status: String) -> BridgeEvidence.Status? { BridgeEvidence.Status(rawValue: status) }
    public func token(for o: CreditRepository.OpenObservation) -> String? { configuration.token(chain: o.chain, asset: o.asset) }
    public func minimum(for o: CreditRepository.OpenObservation) -> Amount? {
        guard let token = token(for: o) else { return nil }
        return bookkeeping.withLock { $0.minimums[token] }
    }
    public func recordBudgetStart(_ o: CreditRepository.OpenObservation) -> Date? { o.stateSince }
    public func creditBudgetStart(_ o: CreditRepository.OpenObservation) -> Date? { o.stateSince }
    public func mayBeCredited(_ o: CreditRepository.OpenObservation) -> Bool { true }
    public func details(_ o: CreditRepository.OpenObservation, to target: FundingTarget) -> [String: JSONValue] { [:] }

    /// Stores one account's recent bridge deposits on one chain; counts unknown statuses into
    /// `unknown`. False when the bridge could not be read.
    func pollDeposits(account: String, chain: String, bridgeChain: String, unknown: inout [String: Int]) async -> Bool {
        do {
            let page = try await client.allRecentDeposits(account: account, chain: bridgeChain, pageSize: configuration.pageSize, maxPages: configuration.maxPages)
            let rows = page.deposits.map { d in
                CreditRepository.DepositRow(
                    chain: d.chain, accountID: d.accountID, depositID: d.depositID, txHash: d.txHash,
                    nearTxHash: d.mintTxHash, address: d.address, asset: configuration.asset(ofToken: d.nearTokenID, bridgeChain: d.chain),
                    amount: d.amount.description, status: d.statusText, raw: d.raw)
            }
            for d in page.deposits where d.status == nil { unknown[d.statusText, default: 0] += 1 }
            let refusedRows = Mutex(0)
            let changed = try await credits.upsertDeposits(rows) { row, error in
                refusedRows.withLock { $0 += 1 }
                self.logger.warning("bridge deposit refused by PostgreSQL; skipped", metadata: ["deposit": "\(Excerpt.of(row.depositID))", "error": "\(error)"])
            }
            let refused = refusedRows.withLock { $0 }
            stats.withLock {
                $0.depositsSeen += rows.count
                $0.depositsChanged += changed
                $0.malformed += page.malformed.count + refused
            }
            for reason in page.malformed { logger.warning("bridge sent a malformed deposit; skipped", metadata: ["chain": "\(chain)", "reason": "\(reason)"]) }
            return true
        } catch {
            Counter(label: "unrip_bridge_errors_total").increment()
            recordError("recent_deposits \(account) \(bridgeChain): \(error)")
            logger.warning("bridge poll failed", metadata: ["account": "\(account)", "chain": "\(bridgeChain)", "error": "\(error)"])
            return false
        }
    }

    func recordError(_ text: String) {
        let now = clock.now()
        stats.withLock { $0.errors.record(text, at: now) }
    }

    /// POA's own fields, as `/plugins/reconciler/state` has always shown them at its top level.
    public func state() -> JSONValue {
        let s = stats.withLock { $0 }
        return [
            "url": .string(client.redactedURL), "healthy": .bool(s.consecutiveFailures < 3), "consecutive_errors": .int(Int64(s.consecutiveFailures)),
            "errors": .int(Int64(s.errors.count)), "last_error": .optional(s.errors.last),
            "deposits_seen": .int(Int64(s.depositsSeen)), "deposits_changed": .int(Int64(s.depositsChanged)),
            "malformed_deposits": .int(Int64(s.malformed)), "unknown_statuses": .object(s.unknownStatuses.mapValues { .int(Int64($0)) }),
            "deposit_addresses": depositAddressesState(s), "tokens": tokensState(s), "token_routes": .int(Int64(configuration.tokenRoutes.count)),
            "notify_deposit": [
                "enabled": .bool(configuration.notifyDeposit), "notified": .int(Int64(s.notified)),
                "errors": .int(Int64(s.notifyErrors)), "last_error": .optional(s.lastNotifyError),
            ],
        ]
    }

    public func health() -> PluginHealth {
        let s = stats.withLock { $0 }
        return s.consecutiveFailures >= 3 ? .unhealthy("bridge unreachable or failing: \(s.errors.last ?? "?")") : .healthy
    }
}
