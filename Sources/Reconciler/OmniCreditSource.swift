import Foundation
import Logging
import Metrics
import PostgresStore
import Synchronization
import WatchCore

/// The Omni Bridge (nBTC) as a credit source. Each output paying an Omni handle is its own
/// transfer, looked up by `(txid, vout)`: once Omni knows it the observation is linked to it
/// (deposit id `txid@vout`) and waits in `CREDIT_PENDING`. Omni's statuses never credit, not
/// even `Finalised`: a safe deposit whose `ft_transfer_call` intents.near refuses is burnt
/// after the mint, so only the verifier's `nep141:nbtc.bridge.near` rise on the handle's
/// account is credit (docs/omni.md, "The credit rule").
public final class OmniCreditSource: CreditSource {
    public let configuration: OmniConfiguration
    let client: OmniBridgeClient
    /// NEAR RPC (`[bridge] near_rpc_url`), to read the connector's `get_config`; nil: configured numbers only.
    let near: NEARVerifierClient?
    let credits: CreditRepository
    let handles: FundingRepository
    /// The chain the Omni handles are watched on (nil when that chain is not enabled).
    let target: HandleChain?
    let onHandlesChanged: @Sendable () async -> Void
    let logger: Logger
    let clock: any WatchClock
    let stats = Mutex(Stats())

    struct Stats {
        var rounds = 0
        var lookups = 0
        var notIndexed = 0
        var linked = 0
        var errors = 0
        var consecutiveErrors = 0
        var lastError: String?
        var lastPollAt: Date?
        /// Statuses outside the documented set, by text: stored raw, non-terminal.
        var unknownStatuses: [String: Int] = [:]
        /// When every Omni address was last made or reproduced (checked again every `address_check_s`).
        var handlesCheckedAt: Date?
        var addresses: [String: AddressStatus] = [:]
        /// Per observation: since when Omni answered "not indexed" with the confirmations met.
        var unindexedSince: [Int: Date] = [:]
        /// Per observation: the last transfer Omni gave (without its raw JSON), for the
        /// transition's details.
        var transfers: [Int: OmniTransfer] = [:]
        /// Per observation: since when it has the confirmations Omni requires (the credit
        /// budget counts from then), and when Omni was last asked about it (lookups rotate).
        var enoughSince: [Int: Date] = [:]
        var lastLookup: [Int: Date] = [:]
        var awaiting: [Int: (confirmations: Int, required: Int)] = [:]
        /// The connector's `get_config`, when read; when it is next due; the last failure.
        var connector: OmniConnectorConfig?
        var connectorReadAt: Date?
        var connectorNextRead: Date?
        var connectorError: String?
    }

    /// One Omni handle's address check.
    struct AddressStatus {
        var account: String?
        var address: String?
        var reproduced: Bool?
        var lastError: String?
    }

    public var bridge: String { CreditBridge.omni }
    /// Each Omni record is one output: the source links it itself.
    public var linksByMatcher: Bool { false }
    public var policy: CreditPolicy { configuration.policy }
    public func token(for o: CreditRepository.OpenObservation) -> String? { configuration.token }
    /// The connector's `min_deposit_amount` once read, else the configured one.
    public func minimum(for o: CreditRepository.OpenObservation) -> Amount? {
        stats.withLock { $0.connector?.minDepositAmount } ?? configuration.minDepositSats
    }

    public init(
        configuration: OmniConfiguration, credits: CreditRepository, handles: FundingRepository, target: HandleChain?, near: NEARVerifierClient?,
        logger: Logger, clock: any WatchClock, onHandlesChanged: @escaping @Sendable () async -> Void
    ) {
        self.configuration = configuration
        self.near = near
        client = OmniBridgeClient(baseURL: configuration.apiURL, timeout: configuration.timeout)
        self.credits = credits
        self.handles = handles
        self.target = target
        self.logger = logger
        self.clock = clock
        self.onHandlesChanged = onHandlesChanged
    }

    public func evidence(status: String) -> BridgeEvidence.Status? {
        configuration.failedStatuses.contains(status) ? .failed : .pending
    }

    public func recordBudgetStart(_ o: CreditRepository.OpenObservation) -> Date? {
        stats.withLock { $0.unindexedSince[o.id] }
    }

    public func mayBeCredited(_ o: CreditRepository.OpenObservation) -> Bool {
        stats.withLock { s in !s.addresses.values.contains { $0.address == o.address && $0.reproduced == false } }
    }

    public func creditBudgetStart(_ o: CreditRepository.OpenObservation) -> Date? {
        stats.withLock { $0.enoughSince[o.id] }
    }

    /// Required confirmations of `o` by its amount: the connector's tiers once read, else the
    /// configured ones (the sources give no numbers).
    func required(_ o: CreditRepository.OpenObservation) -> Int {
        let amount = Amount(decimal: o.amount) ?? .zero
        return stats.withLock { $0.connector }?.confirmations(for: amount) ?? configuration.confirmations(for: amount)
    }

    public func poll(_ open: [CreditRepository.OpenObservation]) async -> Bool {
        let now = clock.now()
        let (last, failing) = stats.withLock { ($0.lastPollAt, $0.consecutiveErrors > 0) }
        if let last, now.timeIntervalSince(last) < configuration.pollInterval { return !failing }
        await readConnectorConfigIfDue(now: now)
        let enough = open.filter { $0.confirmations >= required($0) }.map(\.id)
        let lastLookup = stats.withLock { s in
            for id in enough where s.enoughSince[id] == nil { s.enoughSince[id] = now }
            return s.lastLookup
        }
        // The least recently asked first: a flood of outputs cannot starve the others.
        let due = open.filter(needsLookup).sorted { (lastLookup[$0.id] ?? .distantPast, $0.id) < (lastLookup[$1.id] ?? .distantPast, $1.id) }
        var ok = true
        var unknown: [String: Int] = [:]
        for o in due.prefix(configuration.maxLookupsPerRound) {
            stats.withLock { $0.lastLookup[o.id] = now }
            if await !lookUp(o, now: now, unknown: &unknown) { ok = false }
        }
        let openIDs = Set(open.map(\.id))
        stats.withLock { s in
            s.rounds += 1
            s.lastPollAt = now
            s.unknownStatuses = unknown
            s.consecutiveErrors = ok ? 0 : s.consecutiveErrors + 1
            s.forget(allBut: openIDs)
        }
        return ok
    }

    /// Whether Omni may still say something that matters of `o`: confirmed, waiting for a record
    /// or for credit (or stuck for lack of them), and not already finalised or failed at Omni.
    func needsLookup(_ o: CreditRepository.OpenObservation) -> Bool {
        let waiting: Bool
        switch o.state {
        case .seenConfirmed, .creditPending: waiting = true
        case .failedOrStuck:
            waiting = o.reason == FundingReason.noBridgeRecordWithinPolicy.description || o.reason == FundingReason.notCreditedWithinPolicy.description
        case .seenUnconfirmed, .credited: waiting = false
        }
        return waiting && !(o.depositStatus.map { OmniStatus($0).isDelivered || evidence(status: $0) == .failed } ?? false)
    }

    /// Looks up one output; stores and links what Omni knows. False when Omni could not be read.
    func lookUp(_ o: CreditRepository.OpenObservation, now: Date, unknown: inout [String: Int]) async -> Bool {
        let required = required(o)
        do {
            let transfer = try await client.transfer(txHash: o.txHash, vout: o.outputIndex)
            stats.withLock { $0.lookups += 1 }
            Counter(label: "unrip_credit_source_lookups_total", dimensions: [("bridge", bridge)]).increment()
            guard let transfer else {
                stats.withLock { s in
                    s.notIndexed += 1
                    if o.confirmations >= required {
                        if s.unindexedSince[o.id] == nil { s.unindexedSince[o.id] = now }
                        s.awaiting[o.id] = nil
                    } else {
                        s.awaiting[o.id] = (o.confirmations, required)
                    }
                }
                return true
            }
            if case .unknown(let text)? = transfer.status {
                unknown[text, default: 0] += 1
                Counter(label: "unrip_credit_source_unknown_statuses_total", dimensions: [("bridge", bridge)]).increment()
                logger.warning("Omni sent an unknown transfer status; stored raw, non-terminal", metadata: ["status": "\(Excerpt.of(text))", "tx": "\(o.txHash):\(o.outputIndex)"])
            }
            try await store(transfer, for: o, now: now)
            return true
        } catch {
            let text = Excerpt.of("transfer \(o.txHash):\(o.outputIndex): \(error)")
            stats.withLock { s in
                s.errors += 1
                s.lastError = text
                s.unindexedSince[o.id] = nil  // unknown while Omni cannot be read: the budget starts again
            }
            Counter(label: "unrip_credit_source_errors_total", dimensions: [("bridge", bridge)]).increment()
            logger.warning("Omni transfer lookup failed; retried next round", metadata: ["error": "\(text)"])
            return false
        }
    }

    /// Stores the transfer as deposit `txid@vout` and links the observation to it.
    func store(_ t: OmniTransfer, for o: CreditRepository.OpenObservation, now: Date) async throws {
        let depositID = "\(t.txHash)@\(t.vout)"
        let row = CreditRepository.DepositRow(
            chain: "omni:\(o.chain)", accountID: o.account ?? "", depositID: depositID, txHash: t.txHash, nearTxHash: t.nearTxHash,
            address: o.address, asset: o.asset, amount: (t.amount ?? Amount(decimal: o.amount) ?? .zero).description,
            status: t.status?.description ?? "", raw: t.raw)
        try await credits.upsertDeposits([row])
        stats.withLock { s in
            var kept = t
            kept.raw = .null  // stored with the deposit row; not held per observation
            s.transfers[o.id] = kept
            s.unindexedSince[o.id] = nil
            s.awaiting[o.id] = nil
        }
        guard o.depositID == nil else { return }
        if try await credits.link(observationID: o.id, depositID: depositID, match: "utxo_output", at: now) {
            stats.withLock { $0.linked += 1 }
            logger.info("Omni transfer linked", metadata: ["observation": "\(o.id)", "transfer": "\(depositID)", "status": "\(row.status)"])
        }
    }

    public func details(_ o: CreditRepository.OpenObservation, to target: FundingTarget) -> [String: JSONValue] {
        let t = stats.withLock { $0.transfers[o.id] }
        var out: [String: JSONValue] = [
            "bridge": .string(bridge), "required_confirmations": .int(Int64(required(o))),
            "confirmations": .int(Int64(o.confirmations)),
        ]
        if let status = t?.status?.description ?? o.depositStatus { out["omni_status"] = .string(status) }
        if let amount = t?.amount { out["omni_amount"] = .string(amount.description) }
        if let fee = t?.fee { out["omni_fee"] = .string(fee.description) }
        if case .failedOrStuck = target { out["refund"] = .string(refundPath(o)) }
        return out
    }

    /// What an operator can do for an output never finalised (reference/omni-bridge.md §3).
    public func refundPath(_ o: CreditRepository.OpenObservation) -> String {
        let withAddress = configuration.refundAddress != nil
        let connector = stats.withLock { $0.connector }
        // The contract's timelocks once read; else the defaults the SDK documents (2 and 14 days).
        let timelock = (withAddress ? connector?.refundTimelock : connector?.unsafeRefundTimelock) ?? (withAddress ? 172_800 : 1_209_600)
        return "refund of an output never finalised: request_refund(deposit_msg, refund_address, tx_bytes, vout=\(o.outputIndex), proof) on \(configuration.connector), "
            + "then after the timelock (\(Self.duration(timelock)): \(withAddress ? "the DepositMsg names a refund_address" : "no refund_address in the DepositMsg")) "
            + "execute_refund(\"\(o.txHash)@\(o.outputIndex)\"); a below-minimum output is kept as an unavailable UTXO and is likely not refundable"
    }

    static func duration(_ seconds: Int) -> String {
        seconds % 86_400 == 0 ? "\(seconds / 86_400) days" : seconds % 3_600 == 0 ? "\(seconds / 3_600) hours" : "\(seconds) s"
    }

    public func health() -> PluginHealth {
        let s = stats.withLock { $0 }
        return s.consecutiveErrors >= 3 ? .unhealthy("Omni Bridge API unreachable or failing: \(s.lastError ?? "?")") : .healthy
    }
}

extension OmniCreditSource.Stats {
    /// Drops what is kept per observation for those no longer open.
    mutating func forget(allBut open: Set<Int>) {
        unindexedSince = unindexedSince.filter { open.contains($0.key) }
        transfers = transfers.filter { open.contains($0.key) }
        awaiting = awaiting.filter { open.contains($0.key) }
        enoughSince = enoughSince.filter { open.contains($0.key) }
        lastLookup = lastLookup.filter { open.contains($0.key) }
    }
}
