import JSONRPCClient
import Logging
import Synchronization
import WatchCore

/// Fetches every matching log of a block range with `eth_getLogs` in windows that adapt to
/// the provider: a window refused as too large is split (to the provider's suggested range or
/// named maximum, else halved) and retried, nothing skipped; after full-size successes the
/// window grows again (never past a maximum the provider named). Up to `concurrency` windows
/// are in flight; results are delivered strictly in block order.
final class LogScanner: Sendable {
    /// The largest window ever tried when the provider names no limit.
    static let growthCeiling = 100_000

    struct Sizing: Sendable {
        var size: Int
        var cap: Int?
    }

    let client: EVMClient
    let filter: LogFilter
    let concurrency: Int
    let logger: Logger
    private let sizing: Mutex<Sizing>

    init(client: EVMClient, filter: LogFilter, initialRange: Int, concurrency: Int, logger: Logger) {
        self.client = client
        self.filter = filter
        self.concurrency = max(1, concurrency)
        self.logger = logger
        sizing = Mutex(Sizing(size: max(1, initialRange), cap: nil))
        client.stats.update { $0.currentRange = max(1, initialRange) }
    }

    var windowSize: Int { sizing.withLock { $0.size } }

    struct ProviderRefusedSingleBlock: Error, CustomStringConvertible {
        var height: Int
        var error: JSONRPCError
        var description: String { "the provider refuses eth_getLogs even for the single block \(height): \(error)" }
    }

    typealias Recheck = @Sendable (ClosedRange<Int>, [EVMLog]) async throws -> [EVMLog]

    private enum Outcome: Sendable {
        case logs(ClosedRange<Int>, [EVMLog])
        case split(ClosedRange<Int>, ClosedRange<Int>)
    }

    /// Scans `range`, calling `deliver` for consecutive windows in order. Throws the first
    /// failure that retries could not absorb; windows delivered before it stay delivered.
    /// `recheck`, when given, runs in each window's task once its logs have come (concurrently,
    /// like the reads) and returns the logs to deliver: the deep bloom check.
    func scan(
        _ range: ClosedRange<Int>, recheck: Recheck? = nil, deliver: (ClosedRange<Int>, [EVMLog]) async throws -> Void
    ) async throws {
        var todo: [ClosedRange<Int>] = []
        var nextStart = range.lowerBound
        var inFlight = 0
        var done: [Int: (ClosedRange<Int>, [EVMLog])] = [:]
        var deliverFrom = range.lowerBound
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            func launch() {
                while inFlight < concurrency, inFlight + done.count < 2 * concurrency {
                    let window: ClosedRange<Int>
                    if !todo.isEmpty {
                        window = todo.removeFirst()
                    } else if nextStart <= range.upperBound {
                        let size = sizing.withLock { $0.size }
                        window = nextStart...min(range.upperBound, nextStart + size - 1)
                        nextStart = window.upperBound + 1
                    } else {
                        return
                    }
                    inFlight += 1
                    group.addTask { try await self.fetch(window, recheck: recheck) }
                }
            }
            launch()
            while let outcome = try await group.next() {
                inFlight -= 1
                switch outcome {
                case .logs(let window, let logs):
                    done[window.lowerBound] = (window, logs)
                case .split(let first, let second):
                    todo.append(contentsOf: [first, second])
                    todo.sort { $0.lowerBound < $1.lowerBound }
                }
                while let (window, logs) = done.removeValue(forKey: deliverFrom) {
                    try await deliver(window, logs)
                    deliverFrom = window.upperBound + 1
                }
                launch()
            }
        }
    }

    private func fetch(_ window: ClosedRange<Int>, recheck: Recheck?) async throws -> Outcome {
        let logs: [EVMLog]
        do {
            logs = try await client.logs(window, filter: filter)
        } catch let error as JSONRPCError {
            let limit = ProviderLimit.classify(error)
            let timedOut = error == .transport(.timeout)
            guard limit != nil && limit != .beyondHead || timedOut else { throw error }
            guard window.count > 1 else { throw ProviderRefusedSingleBlock(height: window.lowerBound, error: error) }
            let length = shrink(window, limit)
            logger.debug("eth_getLogs window refused; splitting", metadata: ["from": "\(window.lowerBound)", "to": "\(window.upperBound)", "next_size": "\(length)", "error": "\(error)"])
            return .split(window.lowerBound...(window.lowerBound + length - 1), (window.lowerBound + length)...window.upperBound)
        }
        grew(after: window)
        return .logs(window, try await recheck?(window, logs) ?? logs)
    }

    /// The length of the first part of a refused window, and the new window size.
    private func shrink(_ window: ClosedRange<Int>, _ limit: ProviderLimit?) -> Int {
        let half = max(1, window.count / 2)
        var length = half
        let sizing = self.sizing.withLock { s -> Sizing in
            switch limit {
            case .rangeTooLarge(let named)?:
                let max = named.map { Swift.min($0, window.count - 1) } ?? half
                length = Swift.max(1, max)
                s.cap = Swift.min(s.cap ?? Int.max, length)
                s.size = Swift.min(s.size, length)
            case .tooManyResults(let suggested)?:
                if let suggested, suggested.lowerBound == window.lowerBound, suggested.count < window.count {
                    length = suggested.count
                }
                s.size = Swift.max(1, Swift.min(s.size, length))
            case .beyondHead?, nil:
                s.size = Swift.max(1, Swift.min(s.size, half))
            }
            return s
        }
        client.stats.update {
            $0.rangeSplits += 1
            $0.currentRange = sizing.size
            $0.learnedMaxRange = sizing.cap
        }
        return length
    }

    private func grew(after window: ClosedRange<Int>) {
        let grown: Int? = sizing.withLock { s in
            guard window.count >= s.size else { return nil }
            let next = Swift.min(s.size * 2, s.cap ?? Self.growthCeiling)
            guard next > s.size else { return nil }
            s.size = next
            return next
        }
        if let grown {
            client.stats.update {
                $0.rangeGrows += 1
                $0.currentRange = grown
            }
        }
    }
}
