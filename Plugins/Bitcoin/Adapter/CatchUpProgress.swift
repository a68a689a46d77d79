import Foundation
import WatchCore

/// Catch-up progress: height, target, blocks/s and ETA, for logs and `/state`. Every time is
/// the adapter's injected clock, so a test clock gives the rate and ETA a test expects.
struct CatchUpProgress: Sendable {
    var startHeight = 0
    var height = 0
    var target = 0
    var startedAt = Date.distantPast
    var lastLogAt = Date.distantPast

    mutating func begin(from height: Int, to target: Int, at now: Date) {
        if target != self.target || self.height >= self.target {
            startHeight = height
            startedAt = now
        }
        self.height = height
        self.target = target
    }

    func blocksPerSecond(at now: Date) -> Double {
        let elapsed = now.timeIntervalSince(startedAt)
        return elapsed > 0 ? Double(height - startHeight) / elapsed : 0
    }

    func etaSeconds(at now: Date) -> Double? {
        let rate = blocksPerSecond(at: now)
        return rate > 0 ? Double(max(0, target - height)) / rate : nil
    }

    func json(at now: Date) -> JSONValue {
        [
            "height": .int(Int64(height)), "target": .int(Int64(target)),
            "behind": .int(Int64(max(0, target - height))),
            "blocks_per_s": .double((blocksPerSecond(at: now) * 10).rounded() / 10),
            "eta_s": etaSeconds(at: now).map { .int(Int64($0.rounded())) } ?? .null,
        ]
    }
}
