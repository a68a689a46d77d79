import WatchCore

extension JSONRPCClient {
    /// One call of a batch: a method and its positional parameters.
    public struct BatchCall: Sendable {
        public var method: String
        public var params: [JSONValue]

        public init(_ method: String, _ params: [JSONValue]) {
            self.method = method
            self.params = params
        }
    }

    /// A batch's outcome: every call's `result`, in the order asked (replies may come in any
    /// order and are matched by id), or the failure of the whole batch, with any `Retry-After`.
    public struct BatchOutcome: Sendable {
        public var result: Result<[JSONValue], JSONRPCError>
        public var retryAfter: Duration?
    }

    /// Sends `calls` as one JSON-RPC 2.0 batch (one HTTP request). Any call's error fails the
    /// batch with that error; a server that refuses batches answers with one error object
    /// instead of an array, which fails it too (`.rpc`, or `.malformed` for anything else).
    public func batch(_ calls: [BatchCall], maxResponseBytes: Int? = nil) async -> BatchOutcome {
        guard !calls.isEmpty else { return BatchOutcome(result: .success([]), retryAfter: nil) }
        let first = nextID.add(Int64(calls.count), ordering: .relaxed).oldValue
        let ids = (0..<Int64(calls.count)).map { first + $0 }
        let body: JSONValue = .array(zip(ids, calls).map { id, call in
            ["jsonrpc": .string(configuration.version.rawValue), "id": .int(id), "method": .string(call.method), "params": .array(call.params)]
        })
        counters.withLock { c in
            for call in calls { c[call.method, default: 0] += 1 }
        }
        let response: HTTPResponse
        do {
            response = try await http.post(url: configuration.url, body: Array(body.serialized().utf8), maxResponseBytes: maxResponseBytes)
        } catch {
            return BatchOutcome(result: .failure(error), retryAfter: nil)
        }
        let retryAfter = response.retryAfterSeconds.map { Duration.seconds($0) }
        return BatchOutcome(result: Result { () throws(JSONRPCError) in try Self.decodeBatch(response, ids: ids) }, retryAfter: retryAfter)
    }

    /// Interprets the reply to a batch whose calls had `ids`.
    static func decodeBatch(_ response: HTTPResponse, ids: [Int64]) throws(JSONRPCError) -> [JSONValue] {
        let parsed = try? JSONValue.parse(response.body)
        guard (200..<300).contains(response.status), case .array(let replies)? = parsed else {
            // Not an array: an HTTP failure, or one error object for the whole batch.
            _ = try decodeReply(response, id: ids[0])
            throw .malformed("expected an array of replies to a batch of \(ids.count), got \(parsed?.typeName ?? "no JSON")")
        }
        guard replies.count == ids.count else {
            // geth refuses a batch over its limit with one error element ("batch too large").
            if let refusal = replies.first(where: { ($0["error"] ?? .null) != .null }) {
                _ = try decodeReply(refusal, status: response.status, body: response.body, id: ids[0])
            }
            throw .malformed("a batch of \(ids.count) calls got \(replies.count) replies")
        }
        var byID: [Int64: JSONValue] = [:]
        let first = ids[0], last = ids[ids.count - 1]
        for reply in replies {
            guard let id = reply["id"]?.int64Value, (first...last).contains(id), byID[id] == nil else {
                throw .malformed("a batch reply has a missing, unknown or repeated id: \(Excerpt.of(json: reply["id"] ?? .null))")
            }
            byID[id] = reply
        }
        return try ids.map { id throws(JSONRPCError) in
            try decodeReply(byID[id]!, status: response.status, body: response.body, id: id)
        }
    }
}
