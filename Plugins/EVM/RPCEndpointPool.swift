import Foundation
import JSONRPCClient
import Synchronization
import WatchCore

/// The `rpc_urls` of one EVM plugin and which of them is in use (docs/evm.md, "Failover").
///
/// The first healthy endpoint is used. An endpoint that fails with a transient error (timeout,
/// connection refused, 429, 5xx) is benched (for its `Retry-After` when it sent one, capped by
/// `retry_max_ms`, else the retry backoff) and the next one takes over at once. At the start of
/// each poll every endpoint's head is read; one whose head lags the best by more than
/// `max_head_lag_blocks` is not used. A poll reads from one endpoint whose head reaches its
/// target, and fails over mid-poll only to an endpoint known to reach it: a lagging endpoint's
/// older head is never read as a reorg, nor its empty answer for blocks it lacks as "no logs".
final class RPCEndpointPool: Sendable {
    struct Endpoint: Sendable {
        var head: Int?
        var headReadAt: Date?
        var verifiedChainID: Int?
        /// Set when the endpoint serves another chain: it is never used.
        var refused: String?
        var benchedUntil: Date?
        var consecutiveErrors = 0
        var errors = 0
        var rateLimited = 0
        /// Times it answered no log for a block another endpoint had the watched logs of.
        var emptyLogsContradicted = 0
        var lastError: String?
        var calls = 0
    }

    struct State: Sendable {
        var endpoints: [Endpoint]
        var inUse = 0
        var failovers = 0
        var best: Int?
        /// The target of the poll in progress: failover mid-poll only to endpoints reaching it.
        var floor: Int?
    }

    let clients: [JSONRPCClient]
    let clock: any WatchClock
    let retry: RetryPolicy
    let maxHeadLag: Int
    /// When set, an endpoint is used only once its `eth_chainId` answered this.
    let chainID: Int?
    let state: Mutex<State>

    init(clients: [JSONRPCClient], clock: any WatchClock, retry: RetryPolicy, maxHeadLag: Int, chainID: Int? = nil) {
        precondition(!clients.isEmpty, "at least one RPC endpoint")
        self.clients = clients
        self.clock = clock
        self.retry = retry
        self.maxHeadLag = maxHeadLag
        self.chainID = chainID
        state = Mutex(State(endpoints: clients.map { _ in Endpoint() }))
    }

    /// Requests sent so far by method, over every endpoint.
    var requestCounts: [String: Int] {
        clients.reduce(into: [:]) { out, c in out.merge(c.requestCounts, uniquingKeysWith: +) }
    }

    var isSingle: Bool { clients.count == 1 }
    var inUse: Int { state.withLock { $0.inUse } }
    var current: JSONRPCClient { clients[inUse] }

    /// The endpoint to send the next call to: the one in use unless it is benched or refused,
    /// else the first usable one reaching the poll's floor; nil when none is (wait, then retry).
    func pick() -> Int? {
        let now = clock.now()
        return state.withLock { s in
            if usable(s.endpoints[s.inUse], now: now, floor: nil) { return s.inUse }
            guard let next = s.endpoints.indices.first(where: { usable(s.endpoints[$0], now: now, floor: s.floor) }) else { return nil }
            s.inUse = next
            s.failovers += 1
            return next
        }
    }

    private func usable(_ e: Endpoint, now: Date, floor: Int?) -> Bool {
        guard e.refused == nil, chainID == nil || e.verifiedChainID != nil, e.benchedUntil.map({ $0 <= now }) ?? true else { return false }
        if let floor { return (e.head ?? Int.min) >= floor }
        return true
    }

    func succeeded(_ index: Int) {
        state.withLock {
            $0.endpoints[index].consecutiveErrors = 0
            $0.endpoints[index].benchedUntil = nil
            $0.endpoints[index].calls += 1
        }
    }

    /// Counts a failure; a transient one benches the endpoint. Returns whether another endpoint
    /// can take the next try at once (else the caller waits `pause`).
    func failed(_ index: Int, _ error: JSONRPCError, retryAfter: Duration?) -> (failover: Bool, pause: Duration) {
        let now = clock.now()
        let cap = retry.maxDelay
        return state.withLock { s in
            var e = s.endpoints[index]
            e.calls += 1
            e.errors += 1
            e.lastError = Excerpt.of("\(error)")
            if case .http(429, _) = error { e.rateLimited += 1 }
            var pause = retry.delay(retry: e.consecutiveErrors)
            if let retryAfter { pause = min(retryAfter, cap) }
            e.consecutiveErrors += 1
            if error.isTransient, !isSingle { e.benchedUntil = now.addingTimeInterval(pause.seconds) }
            s.endpoints[index] = e
            let other = s.endpoints.indices.contains { $0 != index && usable(s.endpoints[$0], now: now, floor: s.floor) }
            return (other, pause)
        }
    }

    func setFloor(_ floor: Int?) { state.withLock { $0.floor = floor } }

    /// A usable endpoint other than `index` whose last head reaches `height`, for a second opinion.
    func alternative(to index: Int, reaching height: Int) -> Int? {
        let now = clock.now()
        return state.withLock { s in s.endpoints.indices.first { $0 != index && usable(s.endpoints[$0], now: now, floor: height) } }
    }

    func contradicted(_ index: Int) { state.withLock { $0.endpoints[index].emptyLogsContradicted += 1 } }

    func refuse(_ index: Int, _ why: String) { state.withLock { $0.endpoints[index].refused = why } }

    func verified(_ index: Int, chainID: Int) { state.withLock { $0.endpoints[index].verifiedChainID = chainID } }

    /// Records the heads read at the start of a poll and picks the endpoint to use: the first
    /// usable one within `maxHeadLag` of the best head. Returns it and its head, or nil when no
    /// endpoint answered.
    func choose(heads: [Int: Int]) -> (index: Int, head: Int)? {
        let now = clock.now()
        return state.withLock { s in
            for (i, head) in heads { s.endpoints[i].head = head; s.endpoints[i].headReadAt = now }
            guard let best = heads.values.max() else { return nil }
            s.best = best
            let pick = s.endpoints.indices.first { i in
                heads[i].map { $0 >= best - maxHeadLag } ?? false && usable(s.endpoints[i], now: now, floor: nil)
            }
            guard let pick, let head = heads[pick] else { return nil }
            if pick != s.inUse { s.failovers += 1 }
            s.inUse = pick
            return (pick, head)
        }
    }

    /// `/plugins/<name>/state` → `rpc`: each endpoint (URL redacted) and the one in use.
    func stateJSON() -> JSONValue {
        let s = state.withLock { $0 }
        let now = clock.now()
        let endpoints: [JSONValue] = zip(clients, s.endpoints).enumerated().map { i, pair in
            let (client, e) = pair
            return [
                "url": .string(client.redactedURL), "in_use": .bool(i == s.inUse), "head": .optional(e.head),
                "lag_blocks": .optional(s.best.flatMap { best in e.head.map { best - $0 } }),
                "chain_id_verified": .optional(e.verifiedChainID), "refused": .optional(e.refused),
                "benched_for_ms": .optional(e.benchedUntil.flatMap { $0 > now ? Int(($0.timeIntervalSince(now) * 1000).rounded(.up)) : nil }),
                "errors": .int(Int64(e.errors)), "consecutive_errors": .int(Int64(e.consecutiveErrors)),
                "rate_limited": .int(Int64(e.rateLimited)), "requests": .int(Int64(client.requestTotal)),
                "empty_logs_contradicted": .int(Int64(e.emptyLogsContradicted)),
                "last_error": .optional(e.lastError),
            ]
        }
        return [
            "endpoints": .array(endpoints), "in_use": .string(clients[s.inUse].redactedURL), "failovers": .int(Int64(s.failovers)),
            "best_head": .optional(s.best), "max_head_lag_blocks": .int(Int64(maxHeadLag)),
        ]
    }
}

extension Duration {
    var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
