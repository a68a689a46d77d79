import Foundation
import Logging
import PostgresStore
import Synchronization
import WatchCore

/// One plugin's lease on this host (`[ha] enabled`): takes and renews the `plugin_leases` row on
/// the database's clock, and holds the epoch its fenced pool's commits check. A new epoch runs
/// `onAcquired` first (an adapter reloads its tracker: the other host may have moved on).
final class LeaseKeeper: PluginLease {
    let plugin: String
    let holder: String
    let fence: PostgresFence
    let renewEvery: Duration
    let validFor: Duration
    private let seconds: Int
    private let store: PluginLeaseStore
    private let logger: Logger
    private let onAcquired: @Sendable () async throws -> Void
    private let seen = Mutex<(row: PluginLeaseRow?, held: Bool, error: String?)>((nil, false, nil))

    init(
        fence: PostgresFence, ha: HAConfig, store: PluginLeaseStore, logger: Logger,
        onAcquired: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.fence = fence
        plugin = fence.plugin
        holder = ha.hostID
        seconds = ha.leaseSeconds
        validFor = .seconds(ha.leaseSeconds)
        // At least every lease_s / 3.
        renewEvery = .milliseconds(ha.leaseSeconds * 1000 / 3)
        self.store = store
        self.logger = logger
        self.onAcquired = onAcquired
    }

    func acquire() async -> LeaseAttempt {
        let outcome: (held: Bool, row: PluginLeaseRow?)
        do {
            outcome = try await store.acquire(plugin, holder: holder, seconds: seconds)
        } catch {
            seen.withLock { $0.error = "\(error)" }
            return .failed("\(error)")
        }
        guard outcome.held, let row = outcome.row else {
            fence.hold(nil)  // whatever is in flight here commits nothing now
            record(outcome.row, held: false)
            return .heldElsewhere(outcome.row?.holder ?? "?")
        }
        if row.epoch != fence.epoch {
            do {
                try await onAcquired()
            } catch {
                seen.withLock { $0.error = "taking over: \(error)" }
                return .failed("taking over: \(error)")
            }
            fence.hold(row.epoch)
            logger.notice("lease taken: this host runs the plugin", metadata: ["plugin": "\(plugin)", "holder": "\(holder)", "epoch": "\(row.epoch)"])
        }
        record(row, held: true)
        return .held
    }

    func release() async {
        guard let epoch = fence.epoch else { return }
        fence.hold(nil)
        do {
            try await store.release(plugin, holder: holder, epoch: epoch)
            logger.info("lease released", metadata: ["plugin": "\(plugin)", "epoch": "\(epoch)"])
        } catch {
            logger.warning("could not release the lease; it expires by itself", metadata: ["plugin": "\(plugin)", "error": "\(error)"])
        }
        seen.withLock { $0.held = false }
    }

    func state() -> JSONValue {
        let s = seen.withLock { $0 }
        return [
            "host_id": .string(holder), "held": .bool(s.held), "holder": .optional(s.row?.holder),
            "epoch": s.row.map { .int($0.epoch) } ?? .null, "expires_at": .optional(s.row.map { Timestamp.string($0.expiresAt) }),
            "lease_s": .int(Int64(seconds)), "last_error": .optional(s.error),
        ]
    }

    private func record(_ row: PluginLeaseRow?, held: Bool) {
        seen.withLock { $0 = (row, held, nil) }
    }
}

extension UnripHost {
    /// The pool `plugin` writes through: fenced by its lease with `[ha] enabled`, else the pool.
    func pool(for plugin: String, _ pool: PostgresPool) -> (pool: PostgresPool, fence: PostgresFence?) {
        guard config.ha.enabled else { return (pool, nil) }
        let fence = PostgresFence(plugin: plugin, holder: config.ha.hostID)
        return (pool.fenced(by: fence), fence)
    }

    /// `plugin`'s lease on this host: its `plugin_leases` row with `[ha]`, else its session lock.
    func lease(
        _ fence: PostgresFence?, plugin: String, pool: PostgresPool, onAcquired: @escaping @Sendable () async throws -> Void = {}
    ) -> (any PluginLease)? {
        if let fence { return LeaseKeeper(fence: fence, ha: config.ha, store: PluginLeaseStore(pool: pool), logger: logger, onAcquired: onAcquired) }
        return soloLocks.map { SoloPluginLock(plugin: plugin, locks: $0, onTakenOver: onAcquired) }
    }
}
