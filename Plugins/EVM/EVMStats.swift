import Foundation
import Synchronization
import JSONRPCClient
import WatchCore

/// Counters and progress shown in `/plugins/gnosis/state` and the logs.
final class EVMStats: Sendable {
    struct Counters: Sendable {
        var polls = 0
        var failedPolls = 0
        var consecutiveFailures = 0
        var retries = 0
        var malformed = 0
        var rpcErrors = 0
        var httpErrors = 0
        var transportErrors = 0
        var rangeSplits = 0
        var rangeGrows = 0
        var currentRange = 0
        var learnedMaxRange: Int?
        var ignoredLogs = 0
        var reorgs = 0
        var blocksDisconnected = 0
        var transfersReported = 0
        /// `eth_getLogs` answered no log for a block whose `logsBloom` says one may exist.
        var emptyLogsContradictedByBloom = 0
        /// Of those, the re-asked block still had no log: a bloom false positive.
        var bloomFalsePositives = 0
        /// Headers of deep catch-up and rescan windows read to check their blooms (`deep_bloom_check`).
        var deepHeadersChecked = 0
        /// Headers per JSON-RPC batch now: `header_batch_size`, halved each time an endpoint
        /// refuses a batch (down to 1: one call per header).
        var headerBatchSize = 1
        var lastError: String?
        var lastErrorAt: Date?
        var chainIdVerified: Int?
        var chainIdMismatch: String?
        var head: Int?
        var target: Int?
        var finalized: Int?
        var catchUp: CatchUp?
    }

    /// One catch-up run: from where, to where, since when.
    struct CatchUp: Sendable {
        var startHeight: Int
        var startedAt: Date
        var height: Int
        var target: Int
        var lastLog: Date

        var blocksPerSecond: Double {
            let elapsed = lastLog.timeIntervalSince(startedAt)
            return elapsed > 0 ? Double(height - startHeight) / elapsed : 0
        }
    }

    let counters = Mutex(Counters())
    /// When an error happened (`last_error_at`): the adapter's clock.
    let clock: any WatchClock

    init(clock: any WatchClock = SystemClock()) { self.clock = clock }

    func update(_ body: (inout Counters) -> Void) { counters.withLock { body(&$0) } }
    var snapshot: Counters { counters.withLock { $0 } }

    /// Counts a failed call by kind and remembers it (already redacted) as the last error.
    func record(_ error: JSONRPCError) {
        update { c in
            switch error {
            case .malformed: c.malformed += 1
            case .rpc: c.rpcErrors += 1
            case .http: c.httpErrors += 1
            case .transport: c.transportErrors += 1
            case .cancelled: return
            }
            c.lastError = Excerpt.of("\(error)")
            c.lastErrorAt = clock.now()
        }
    }

    func note(_ error: String) {
        update {
            $0.lastError = Excerpt.of(error)
            $0.lastErrorAt = clock.now()
        }
    }
}
