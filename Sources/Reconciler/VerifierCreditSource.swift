import Foundation
import Logging
import PostgresStore
import Synchronization
import WatchCore

/// The verifier read directly (`[bridge] near_rpc_url`): each account's balances of every
/// bridge's token (`mt_batch_balance_of`), recorded as a snapshot when they changed. Rises
/// between snapshots are what `VerifierAllocation` credits; snapshots also come from Kafka.
public final class VerifierCreditSource: CreditReader {
    let client: NEARVerifierClient
    let accounts: [String]
    let tokenIDs: [String]
    let credits: CreditRepository
    let logger: Logger
    let clock: any WatchClock
    let stats = Mutex(Stats())

    struct Stats {
        var snapshotsRecorded = 0
        var errors = ErrorTally()
    }

    init(client: NEARVerifierClient, accounts: [String], tokenIDs: [String], credits: CreditRepository, logger: Logger, clock: any WatchClock) {
        self.client = client
        self.accounts = accounts
        self.tokenIDs = tokenIDs
        self.credits = credits
        self.logger = logger
        self.clock = clock
    }

    public func poll(_ open: [CreditRepository.OpenObservation]) async -> Bool {
        var ok = true
        for account in accounts where !(await readBalances(account: account)) { ok = false }
        return ok
    }

    /// Records one account's verifier balances as a snapshot. False when they could not be read.
    func readBalances(account: String) async -> Bool {
        do {
            let b = try await client.balances(account: account, tokenIDs: tokenIDs)
            let recorded = try await credits.recordSnapshot(
                id: "near:\(b.blockHeight):\(account)", account: account, at: clock.now(),
                balances: b.balances.mapValues(\.description))
            if recorded { stats.withLock { $0.snapshotsRecorded += 1 } }
            return true
        } catch {
            let now = clock.now()
            stats.withLock { $0.errors.record("mt_batch_balance_of \(account): \(error)", at: now) }
            logger.warning("verifier read failed", metadata: ["account": "\(account)", "error": "\(error)"])
            return false
        }
    }

    public func state() -> JSONValue {
        let s = stats.withLock { $0 }
        return [
            "contract": .string(client.contract), "snapshots_recorded": .int(Int64(s.snapshotsRecorded)),
            "errors": .int(Int64(s.errors.count)), "last_error": .optional(s.errors.last),
        ]
    }

    public func health() -> PluginHealth { .healthy }  // counted in the reconciler's rounds
}
