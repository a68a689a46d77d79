import Foundation
import WatchCore

/// A history scan for handles added with `rescan_from`: blocks from that height up to the
/// cursor, scanned for those handles only, a few blocks per turn of the worker so live blocks
/// and the mempool keep flowing. Finds are reported as `historicalTransfers` and enter the
/// normal state machine. An interrupted scan starts again from `rescan_from` (it is idempotent).
struct BitcoinRescan: Sendable {
    let handles: [FundingHandle]
    let watch: WatchScriptSet
    let from: Int
    var next: Int
    /// The cursor height when the scan started: it stops there (later blocks are the sync's).
    var to: Int?
    var found = 0
    var startedAt: Date

    init?(handles all: [FundingHandle], format: AddressFormat, at now: Date) {
        let pending = all.filter { $0.rescanFrom != nil }
        guard let from = pending.compactMap(\.rescanFrom).min() else { return nil }
        var watch = WatchScriptSet(format: format, capacity: pending.count)
        for (i, handle) in pending.enumerated() { _ = try? watch.insert(address: handle.address, tag: UInt32(i)) }
        handles = pending
        self.watch = watch
        self.from = max(0, from)
        next = max(0, from)
        startedAt = now
    }

    var percent: Double {
        guard let to else { return 0 }
        let total = to - from + 1
        return total <= 0 ? 100 : min(100, Double(next - from) / Double(total) * 100)
    }

    var json: JSONValue {
        [
            "from": .int(Int64(from)), "to": .optional(to), "at": .int(Int64(next)), "percent": .double((percent * 10).rounded() / 10),
            "found": .int(Int64(found)), "handles": .array(handles.map { .string($0.address) }),
        ]
    }
}

extension BitcoinSync {
    /// Scans up to `budget` blocks of the pending rescan; true while more remain.
    func rescanStep(budget: Int = 25) async throws -> Bool {
        guard var scan = rescan else { return false }
        guard let tip = await pipeline.tip else { return true }
        if scan.to == nil { scan.to = tip.height }
        let end = min(scan.to ?? tip.height, tip.height)
        var scanned = 0
        while scan.next <= end, scanned < budget, !Task.isCancelled {
            guard let hash = try await node.blockHash(height: scan.next) else { break }
            let raw = try await node.rawBlock(hash: hash)
            let result: BlockScanResult
            do {
                result = try BlockScanner.scan(block: raw, watching: scan.watch, verifyMerkleRoot: true, collectSpentOutpoints: false, mweb: configuration.chain.mweb)
            } catch {
                count("parse_errors")
                throw BitcoinAdapterError.badBlock(height: scan.next, reason: "\(error)")
            }
            if !result.matches.isEmpty {
                let block = BlockRef(height: scan.next, hash: result.blockHash.displayHex, parentHash: result.header.previousBlockHash.displayHex)
                try await submit([.historicalTransfers(block, transfers: result.matches.map(sighting))])
                scan.found += result.matches.count
                count("rescan_found", result.matches.count)
            }
            scan.next += 1
            scanned += 1
        }
        rescan = scan
        if scan.next > end {
            logger.info("rescan done", metadata: ["from": "\(scan.from)", "to": "\(end)", "found": "\(scan.found)"])
            rescan = nil
            await onRescanFinished(scan.handles)
            return false
        }
        if clock.now().timeIntervalSince(scan.startedAt) >= 5 || scanned == budget {
            logger.info("rescanning history for new handles", metadata: ["at": "\(scan.next)", "to": "\(end)", "percent": "\(Int(scan.percent))"])
        }
        return true
    }
}
