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
    let handles: FundingRepository
    /// The enabled chains bridge-given handles may be added to.
    let handleChains: [HandleChain]
    /// Reloads every adapter's watch set from the store (the host's `HandleBook`).
    let onHandlesChanged: @Sendable () async -> Void
    let logger: Logger
    let clock: any WatchClock
    let stats = Mutex(Stats())
    let bookkeeping = Mutex(Bookkeeping())
    /// The bridges besides POA (`[bridge.omni]`), each its own credit source.
    let sources: [any CreditSource]

    /// When each periodic bridge read last succeeded, the minimums it gave, and the backoff of
    /// failed notifications.
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
        var matches: [String: Int] = [:]
        /// Deposits the last round could not link (no observation, or amounts nothing sums to).
        var unmatchedDeposits = 0
        /// Statuses other than PENDING, CREDITED, COMPLETED, FAILED in the last poll, by text.
        var unknownStatuses: [String: Int] = [:]
        var handleStatus: [String: HandleStatus] = [:]
        var notified = 0
        var notifyErrors = 0
        var lastNotifyError: String?
        var tokensError: String?
    }

    public init(
        configuration: ReconcilerConfiguration, credits: CreditRepository, logger: Logger, clock: any WatchClock,
        handleChains: [HandleChain] = [], onHandlesChanged: @escaping @Sendable () async -> Void = {}
    ) {
        self.configuration = configuration
        bridge = POABridgeClient(url: configuration.rpcURL, timeout: configuration.timeout)
        let near = configuration.nearRPCURL.map { NEARVerifierClient(url: $0, contract: configuration.verifierContract, timeout: configuration.timeout) }
        verifier = near
        self.credits = credits
        handles = FundingRepository(pool: credits.pool, observationsTopic: credits.observationsTopic, logger: logger)
        self.handleChains = handleChains
        self.onHandlesChanged = onHandlesChanged
        self.logger = logger
        self.clock = clock
        sources = configuration.omni.map { omni in
            [OmniCreditSource(
                configuration: omni, credits: credits, handles: FundingRepository(pool: credits.pool, observationsTopic: credits.observationsTopic, logger: logger),
                target: handleChains.first { $0.chain == omni.chain }, near: near, logger: logger, clock: clock, onHandlesChanged: onHandlesChanged)]
        } ?? []
    }

    /// The credit source of an observation's bridge; nil for POA.
    func source(of o: CreditRepository.OpenObservation) -> (any CreditSource)? {
        guard let bridge = o.bridge, bridge != CreditBridge.poa else { return nil }
        return sources.first { $0.bridge == bridge }
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
        await refreshHandlesIfDue()
        for source in sources { await source.refreshHandles() }
        await refreshMinimumsIfDue()
        var unknown: [String: Int] = [:]
        var bridgeOK = true
        for account in configuration.accounts {
            for (chain, bridgeChain) in configuration.chains.sorted(by: { $0.key < $1.key }) {
                if !(await pollDeposits(account: account, chain: chain, bridgeChain: bridgeChain, unknown: &unknown)) { bridgeOK = false }
            }
        }
        if let verifier {
            for account in configuration.accounts where !(await readBalances(verifier, account: account)) { bridgeOK = false }
        }
        stats.withLock { $0.unknownStatuses = unknown }
        for (status, n) in unknown.sorted(by: { $0.key < $1.key }) {
            logger.warning("bridge sent deposits with an unknown status; stored raw, nothing changed", metadata: ["status": "\(Excerpt.of(status))", "count": "\(n)"])
        }
        await notifyDepositsIfEnabled()
        await pollSources()
        do {
            try await decideAll()
        } catch {
            bridgeOK = false
            recordError("reconcile: \(error)")
        }
        let now = clock.now()
        stats.withLock {
            $0.polls += 1
            $0.lastPollAt = now
            $0.consecutiveErrors = bridgeOK ? 0 : $0.consecutiveErrors + 1
        }
    }

    /// Stores one account's recent bridge deposits on one chain; counts unknown statuses into
    /// `unknown`. False when the bridge could not be read.
    private func pollDeposits(account: String, chain: String, bridgeChain: String, unknown: inout [String: Int]) async -> Bool {
        do {
            let page = try await bridge.allRecentDeposits(account: account, chain: bridgeChain, pageSize: configuration.pageSize, maxPages: configuration.maxPages)
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

    /// Lets each credit source read its bridge for the open observations of its handles.
    private func pollSources() async {
        guard !sources.isEmpty else { return }
        do {
            let open = try await credits.openObservations(chains: configuration.reconciledChains)
            for source in sources { _ = await source.poll(open.filter { $0.bridge == source.bridge }) }
        } catch {
            recordError("reading open observations for the credit sources: \(error)")
        }
    }

    /// Records one account's verifier balances as a snapshot. False when they could not be read.
    private func readBalances(_ verifier: NEARVerifierClient, account: String) async -> Bool {
        do {
            let b = try await verifier.balances(account: account, tokenIDs: configuration.allTokenIDs)
            let recorded = try await credits.recordSnapshot(
                id: "near:\(b.blockHeight):\(account)", account: account, at: clock.now(),
                balances: b.balances.mapValues(\.description))
            if recorded { stats.withLock { $0.snapshotsRecorded += 1 } }
            return true
        } catch {
            recordError("mt_batch_balance_of \(account): \(error)")
            logger.warning("verifier read failed", metadata: ["account": "\(account)", "error": "\(error)"])
            return false
        }
    }

    private func recordError(_ text: String) {
        stats.withLock {
            $0.errors += 1
            $0.lastError = text
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
            "matches": .object(s.matches.mapValues { .int(Int64($0)) }),
            "unmatched_deposits": .int(Int64(s.unmatchedDeposits)),
            "unknown_statuses": .object(s.unknownStatuses.mapValues { .int(Int64($0)) }),
            "deposit_addresses": depositAddressesState(s),
            "tokens": tokensState(s),
            "notify_deposit": [
                "enabled": .bool(configuration.notifyDeposit), "notified": .int(Int64(s.notified)),
                "errors": .int(Int64(s.notifyErrors)), "last_error": .optional(s.lastNotifyError),
            ],
            "bridges": .object(bridgesState(s)),
        ]
    }

    /// Each bridge's own state: POA's health from its rounds, each credit source's own.
    func bridgesState(_ s: Stats) -> [String: JSONValue] {
        var out: [String: JSONValue] = [
            CreditBridge.poa: [
                "url": .string(bridge.redactedURL), "healthy": .bool(s.consecutiveErrors < 3), "consecutive_errors": .int(Int64(s.consecutiveErrors)),
                "last_error": .optional(s.lastError), "token_routes": .int(Int64(configuration.tokenRoutes.count)),
            ]
        ]
        for source in sources { out[source.bridge] = source.state() }
        return out
    }

    public func health() async -> PluginHealth {
        let s = stats.withLock { $0 }
        if s.consecutiveErrors >= 3 { return .unhealthy("bridge unreachable or failing: \(s.lastError ?? "?")") }
        for source in sources { if case .unhealthy(let why) = source.health() { return .unhealthy(why) } }
        return .healthy
    }
}
