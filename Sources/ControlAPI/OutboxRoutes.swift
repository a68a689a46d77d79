import Hummingbird
import PostgresStore
import WatchCore

public struct OutboxRoutes: ControlRoutes {
    let store: OutboxStore

    public init(store: OutboxStore) { self.store = store }

    /// `GET /outbox?after_id=&topic=&limit=`: the produced events as stored, published or not —
    /// how consumers read them when Kafka is off. `GET /outbox/backlog`: what awaits publication.
    public func routes() -> RouteCollection<BasicRequestContext> {
        let router = RouteCollection(context: BasicRequestContext.self)
        router.getAndHead("/outbox") { request, _ -> Response in
            let q = request.uri.queryParameters
            let known: Set<Substring> = ["after_id", "topic", "limit"]
            for (key, _) in q where !known.contains(key) {
                throw HTTPError(.badRequest, message: "unknown query parameter '\(key)'; use after_id, topic, limit")
            }
            let after = try q["after_id"].map { text -> Int64 in
                guard let n = RequestNumber.parse(text).map(Int64.init) else { throw HTTPError(.badRequest, message: "after_id must be an integer ≥ 0") }
                return n
            } ?? 0
            let limit = try q["limit"].map { text -> Int in
                guard let n = RequestNumber.parse(text), (1...1000).contains(n) else { throw HTTPError(.badRequest, message: "limit must be 1–1000") }
                return n
            } ?? 100
            let rows = try await store.list(afterID: after, topic: q["topic"].map(String.init), limit: limit)
            let events = rows.map { row -> JSONValue in
                [
                    "id": .int(row.id), "topic": .string(row.topic), "key": .string(row.key), "event_id": .string(row.eventID),
                    "payload": (try? JSONValue.parse(row.payload)) ?? .string(row.payload),
                    "created_at": .string(row.createdAt), "published_at": .optional(row.publishedAt),
                ]
            }
            return JSONResponse.ok(["events": .array(events), "next_after_id": .int(rows.last?.id ?? after)])
        }
        router.getAndHead("/outbox/backlog") { _, _ -> Response in
            JSONResponse.ok(try await store.backlog().json)
        }
        return router
    }
}
