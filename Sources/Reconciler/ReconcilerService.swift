import Foundation
import Logging
import Metrics
import PostgresStore
import Synchronization
import WatchCore

/// Links chain observations to bridge deposits and verifier credit, and moves them through
/// `CREDIT_PENDING` → `CREDITED`, or to `FAILED_OR_STUCK` with a reason when a budget runs
/// out. Runs as the host plugin `reconciler`. Each round every credit source (POA, Omni) and
/// the verifier read and store what they see; then one decision loop weighs it for every open
/// observation. Never writes anything spendable: credit comes only from the bridge's status or
/// a verifier snapshot.
public final class ReconcilerService: PluginService {
    let configuration: ReconcilerConfiguration
    let credits: CreditRepository
    let logger: Logger
    let clock: any WatchClock
    let stats = Mutex(Stats())
    /// POA (`[bridge]`), always first.
    let poa: POACreditSource
    /// Every bridge: POA, then Omni (`[bridge.omni]`) when configured.
    let sources: [any CreditSource]
    /// The verifier read over NEAR RPC, when `near_rpc_url` is set (snapshots also come from Kafka).
    let verifier: VerifierCreditSource?

    struct Stats {
        var polls = 0
        var errors = ErrorTally()
        /// Rounds in a row in which POA, the verifier or the decisions failed.
        var consecutiveErrors = 0
        var lastPollAt: Date?
        var transitions: [String: Int] = [:]
        var matches: [String: Int] = [:]
        /// Deposits the last round could not link (no observation, or amounts nothing sums to).
        var unmatchedDeposits = 0
    }

    public init(
        configuration: ReconcilerConfiguration, credits: CreditRepository, logger: Logger, clock: any WatchClock,
        handleChains: [HandleChain] = [], onHandlesChanged: @escaping @Sendable () async -> Void = {}
    ) {
        self.configuration = configuration
        self.credits = credits
        self.logger = logger
        self.clock = clock
        let handles = FundingRepository(pool: credits.pool, observationsTopic: credits.observationsTopic, logger: logger)
        let near = configuration.nearRPCURL.map { NEARVerifierClient(url: $0, contract: configuration.verifierContract, timeout: configuration.timeout) }
        poa = POACreditSource(
            configuration: configuration, credits: credits, handles: handles, handleChains: handleChains, logger: logger, clock: clock,
            onHandlesChanged: onHandlesChanged)
        let omni = configuration.omni.map { omni in
            OmniCreditSource(
                configuration: omni, credits: credits, handles: handles, target: handleChains.first { $0.chain == omni.chain }, near: near,
                logger: logger, clock: clock, onHandlesChanged: onHandlesChanged)
        }
        sources = [poa] + (omni.map { [$0] } ?? [])
        verifier = near.map {
            VerifierCreditSource(client: $0, accounts: configuration.accounts, tokenIDs: configuration.allTokenIDs, credits: credits, logger: logger, clock: clock)
        }
    }

    /// The credit source of an observation's bridge (POA for a handle naming none); nil for a
    /// bridge that is not configured.
    func source(of o: CreditRepository.OpenObservation) -> (any CreditSource)? {
        let bridge = o.bridge ?? CreditBridge.poa
        return sources.first { $0.bridge == bridge }
    }

    public func run() async throws {
        while !Task.isCancelled {
            await reconcileOnce()
            try? await clock.sleep(for: configuration.pollInterval)
        }
    }

    /// One round: each source refreshes its handles and reads its bridge, the verifier is read
    /// (failures are counted; linking still runs on what is stored), then every open
    /// observation is decided.
    public func reconcileOnce() async {
        for source in sources { await source.refreshHandles() }
        var roundOK = true
        let open: [CreditRepository.OpenObservation]
        do {
            open = try await credits.openObservations(chains: configuration.reconciledChains)
        } catch {
            open = []
            roundOK = false
            recordError("reading open observations: \(error)")
        }
        for source in sources {
            let ok = await source.poll(open.filter { ($0.bridge ?? CreditBridge.poa) == source.bridge })
            if !ok, source.bridge == CreditBridge.poa { roundOK = false }  // other bridges count their own failures
        }
        if let verifier, !(await verifier.poll(open)) { roundOK = false }
        do {
            try await decideAll()
        } catch {
            roundOK = false
            recordError("reconcile: \(error)")
        }
        let now = clock.now()
        stats.withLock {
            $0.polls += 1
            $0.lastPollAt = now
            $0.consecutiveErrors = roundOK ? 0 : $0.consecutiveErrors + 1
        }
    }

    func recordError(_ text: String) {
        let now = clock.now()
        stats.withLock { $0.errors.record(text, at: now) }
    }

    public func health() async -> PluginHealth {
        let s = stats.withLock { $0 }
        if s.consecutiveErrors >= 3 { return .unhealthy("bridge unreachable or failing: \(lastError(s) ?? "?")") }
        for source in sources where source.bridge != CreditBridge.poa {
            if case .unhealthy(let why) = source.health() { return .unhealthy(why) }
        }
        return .healthy
    }
}
