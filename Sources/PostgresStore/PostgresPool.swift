import Dispatch
import Foundation
import Logging
import Synchronization
import WatchCore

/// A small pool of libpq connections. Blocking calls run on the pool's own dispatch queues,
/// never on Swift's cooperative thread pool. Broken connections are reset with backoff.
/// `fenced(by:)` gives a view of the same connections whose every transaction checks a
/// plugin's lease before COMMIT, and whose autocommit work runs as one transaction for that.
public final class PostgresPool: Sendable {
    private struct Slot: @unchecked Sendable {
        let connection: PGConnection
        let queue: DispatchQueue
    }
    private struct State {
        var idle: [Slot] = []
        var opened = 0
        var waiters: [CheckedContinuation<Slot?, Never>] = []
        var closed = false
    }

    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    let url: String
    private let size: Int
    private let logger: Logger
    private let shared: Shared
    private let maxAttempts: Int
    /// The lease every commit through this view checks (nil: not fenced).
    public let fence: PostgresFence?
    /// `SET …` statements run on every session the pool opens (or resets).
    private let sessionSettings: [String]
    /// The backoff between attempts after a lost connection sleeps on it.
    private let clock: any WatchClock

    /// - Parameters:
    ///   - url: a libpq connection URI or keyword string; never logged.
    ///   - size: connections at most.
    ///   - sessionSettings: `SET …` statements for every session (e.g. a timeout).
    public init(
        url: String, size: Int = 4, maxAttempts: Int = 5, logger: Logger = Logger(label: "unrip.postgres"), sessionSettings: [String] = [],
        clock: any WatchClock = SystemClock()
    ) {
        self.clock = clock
        self.sessionSettings = sessionSettings
        self.url = Self.withConnectTimeout(url)
        self.size = max(1, size)
        self.maxAttempts = max(1, maxAttempts)
        self.logger = logger
        shared = Shared()
        fence = nil
    }

    private init(sharing pool: PostgresPool, fence: PostgresFence) {
        url = pool.url
        size = pool.size
        maxAttempts = pool.maxAttempts
        logger = pool.logger
        shared = pool.shared
        sessionSettings = pool.sessionSettings
        clock = pool.clock
        self.fence = fence
    }

    /// The same connections, every commit fenced by `fence`: a plugin that lost its lease
    /// commits nothing (`LeaseLost`), whichever store it writes through.
    public func fenced(by fence: PostgresFence) -> PostgresPool {
        PostgresPool(sharing: self, fence: fence)
    }

    /// libpq waits forever for a server that accepts TCP but never answers; unless the URL sets
    /// its own, `connect_timeout=5` bounds every connection attempt.
    static func withConnectTimeout(_ url: String, seconds: Int = 5) -> String {
        guard !url.contains("connect_timeout") else { return url }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            let cut = url.firstIndex(of: "#") ?? url.endIndex
            let separator = url[..<cut].contains("?") ? "&" : "?"
            return url[..<cut] + "\(separator)connect_timeout=\(seconds)" + url[cut...]
        }
        return url.isEmpty ? url : url + " connect_timeout=\(seconds)"
    }

    /// Runs `body` with a connection on a dedicated thread. A lost connection is reset and the
    /// body retried (with backoff) up to `maxAttempts`; other errors are rethrown as they are.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        var attempt = 0
        var delay = Duration.milliseconds(100)
        while true {
            attempt += 1
            let slot = try await acquire()
            do {
                let value = try await run(slot, body)
                release(slot)
                return value
            } catch let error as PostgresError where error.isConnectionLost && attempt < maxAttempts {
                release(slot)
                logger.warning("PostgreSQL connection lost; retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try await clock.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            } catch {
                release(slot)
                throw error
            }
        }
    }

    /// Runs `body` in one transaction.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await withConnection { conn in try conn.transaction(body) }
    }

    private func run<T: Sendable>(_ slot: Slot, _ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        let fence = self.fence
        return try await withCheckedThrowingContinuation { continuation in
            slot.queue.async {
                do {
                    if !slot.connection.isHealthy { try slot.connection.reset() }
                    guard let fence else { return continuation.resume(returning: try body(slot.connection)) }
                    slot.connection.fence = fence
                    defer { slot.connection.fence = nil }
                    continuation.resume(returning: try slot.connection.transaction(body))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private func acquire() async throws -> Slot {
        enum Next { case slot(Slot), open, wait }
        let next = shared.state.withLock { s -> Next in
            if let slot = s.idle.popLast() { return .slot(slot) }
            if s.opened < size {
                s.opened += 1
                return .open
            }
            return .wait
        }
        switch next {
        case .slot(let slot): return slot
        case .open:
            do {
                let url = self.url, settings = self.sessionSettings
                let connection = try await withCheckedThrowingContinuation { (c: CheckedContinuation<PGConnection, Error>) in
                    DispatchQueue.global().async {
                        do { c.resume(returning: try PGConnection(url: url, sessionSettings: settings)) } catch { c.resume(throwing: error) }
                    }
                }
                return Slot(connection: connection, queue: DispatchQueue(label: "unrip.postgres.conn"))
            } catch {
                shared.state.withLock { $0.opened -= 1 }
                throw error
            }
        case .wait:
            let slot = await withCheckedContinuation { c in
                let ready = shared.state.withLock { s -> Slot?? in
                    if let slot = s.idle.popLast() { return .some(slot) }
                    s.waiters.append(c)
                    return .none
                }
                if let ready { c.resume(returning: ready) }
            }
            guard let slot else { throw PostgresError.connectionLost("pool closed") }
            return slot
        }
    }

    private func release(_ slot: Slot) {
        let waiter = shared.state.withLock { s -> CheckedContinuation<Slot?, Never>? in
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.idle.append(slot)
            return nil
        }
        waiter?.resume(returning: slot)
    }
}
