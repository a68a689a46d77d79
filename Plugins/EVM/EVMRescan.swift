import Foundation
import Synchronization
import WatchCore

/// What the history scan is doing, for `/plugins/gnosis/state` (`rescan`).
final class EVMRescanProgress: Sendable {
    let state = Mutex<JSONValue>(.null)
}

extension EVMAdapter {
    /// The history scan of handles added with `rescan_from`: `eth_getLogs` from the lowest such
    /// height up to the cursor, for those recipients only, the finds reported as
    /// `historicalTransfers`. Runs once per adapter instance, after the first poll; the host
    /// records it done (an interrupted scan runs again, which is harmless).
    func rescanHistory() async throws {
        let pending = context.handles.filter { $0.rescanFrom != nil }
        guard let first = pending.compactMap(\.rescanFrom).min(), let cursor = await context.pipeline.tip else { return }
        let from = max(0, first), to = cursor.height
        if from <= to {
            let recipients = pending.compactMap { try? EVMAddress($0.address) }.sorted { $0.lowercased < $1.lowercased }
            let history = LogScanner(
                client: client, filter: LogFilter(tokens: configuration.tokens.map(\.address), recipients: recipients),
                initialRange: configuration.maxBlockRange, concurrency: configuration.maxConcurrency, logger: context.logger)
            var found = 0
            let report = { (at: Int) -> JSONValue in
                let percent = Double(at - from) / Double(max(1, to - from + 1)) * 100
                return ["from": .int(Int64(from)), "to": .int(Int64(to)), "at": .int(Int64(at)), "percent": .double((percent * 10).rounded() / 10), "found": .int(Int64(found))]
            }
            rescanProgress.state.withLock { $0 = report(from) }
            context.logger.info("rescanning history for new handles", metadata: ["from": "\(from)", "to": "\(to)", "handles": "\(pending.count)"])
            let query = TransferBloomQuery(history.filter)
            let recheck: LogScanner.Recheck = { window, logs in
                try await recheckDeepWindow(window, logs: logs, filter: history.filter, query: query)
            }
            try await history.scan(from...to, recheck: recheck) { window, logs in
                for entry in try matchedTransfers(logs) {
                    try await context.pipeline.submit([.historicalTransfers(entry.block, transfers: entry.transfers)])
                    found += entry.transfers.count
                }
                rescanProgress.state.withLock { $0 = report(window.upperBound + 1) }
            }
            context.logger.info("rescan done", metadata: ["from": "\(from)", "to": "\(to)", "found": "\(found)"])
        }
        rescanProgress.state.withLock { $0 = .null }
        await context.onRescanFinished(pending)
    }
}
