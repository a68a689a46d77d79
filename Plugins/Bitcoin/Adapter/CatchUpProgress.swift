import Foundation
import WatchCore

/// Catch-up progress: height, target, blocks/s and ETA, for logs and `/state`.
struct CatchUpProgress: Sendable {
    var startHeight = 0
    var height = 0
    var target = 0
    var startedAt = Date()
    var lastLogAt = Date.distantPast

    mutating func begin(from height: Int, to target: Int, at now: Date) {
        if target != self.target || self.height >= self.target {
            startHeight = height
            startedAt = now
        }
        self.height = height
        self.target = target
    }

    var blocksPerSecond: Double {
        let elapsed = Date().timeIntervalSince(startedAt)
        return elapsed > 0 ? Double(height - startHeight) / elapsed : 0
    }

    var etaSeconds: Double? {
        let rate = blocksPerSecond
        return rate > 0 ? Double(max(0, target - height)) / rate : nil
    }

    var json: JSONValue {
        [
            "height": .int(Int64(height)), "target": .int(Int64(target)),
            "behind": .int(Int64(max(0, target - height))),
            "blocks_per_s": .double((blocksPerSecond * 10).rounded() / 10),
            "eta_s": etaSeconds.map { .int(Int64($0.rounded())) } ?? .null,
        ]
    }
}
