import Hummingbird
import Foundation
import HummingbirdCore
import PostgresStore
import WatchCore

/// `GET /funding/handles`, `/funding/observations[/<id>]`, `/funding/latency`.
public struct FundingRoutes: ControlRoutes {
    let repository: FundingRepository

    public init(repository: FundingRepository) { self.repository = repository }

    public func routes() -> RouteCollection<BasicRequestContext> {
        let router = RouteCollection(context: BasicRequestContext.self)
        router.getAndHead("/funding/handles") { _, _ -> Response in
            JSONResponse.ok(["handles": .array(try await self.repository.listHandles())])
        }
        router.getAndHead("/funding/observations") { request, _ -> Response in
            let filter = try Self.observationFilter(request.uri.queryParameters)
            let records = try await self.repository.listObservations(filter)
            return JSONResponse.ok(["observations": .array(records.map(\.json))])
        }
        router.getAndHead("/funding/latency") { request, _ -> Response in
            let query = request.uri.queryParameters
            for (key, _) in query where key != "chain" && key != "since" && key != "bridge" {
                throw HTTPError(.badRequest, message: "unknown query parameter '\(key)'; use chain, since, bridge")
            }
            let bridge = query["bridge"].flatMap { $0.isEmpty ? nil : String($0) }
            if let bridge, !CreditBridge.all.contains(bridge) {
                throw HTTPError(.badRequest, message: "bridge must be one of \(CreditBridge.all.joined(separator: ", ")); got \(quoted(bridge))")
            }
            var since: Date?
            if let text = query["since"], !text.isEmpty {
                guard let parsed = Timestamp.parse(String(text)) else {
                    throw HTTPError(
                        .badRequest, message: "since must be \(Timestamp.rangeText), such as 2026-11-25T00:00:00Z; got \(quoted(text))")
                }
                since = parsed
            }
            let chain = query["chain"].flatMap { $0.isEmpty ? nil : String($0) }
            return JSONResponse.ok(try await self.repository.latency(chain: chain, since: since, bridge: bridge))
        }
        router.getAndHead("/funding/observations/:id") { _, context -> Response in
            let text = context.parameters.get("id") ?? ""
            guard let id = RequestNumber.id(text) else {
                throw HTTPError(.badRequest, message: "observation id must be a positive integer, got \(quoted(text))")
            }
            guard let record = try await self.repository.observation(id: id) else {
                throw HTTPError(.notFound, message: "no observation with id \(id)")
            }
            let events = try await self.repository.events(observationId: id)
            guard case .object(var fields) = record.json else { return JSONResponse.ok(record.json) }
            fields["events"] = .array(events.map(\.json))
            return JSONResponse.ok(.object(fields))
        }
        return router
    }

    static func observationFilter(_ query: FlatDictionary<Substring, Substring>) throws -> ObservationFilter {
        var filter = ObservationFilter()
        let known: Set<Substring> = ["chain", "handle", "state", "limit"]
        for (key, _) in query where !known.contains(key) {
            throw HTTPError(.badRequest, message: "unknown query parameter '\(key)'; use chain, handle, state, limit")
        }
        if let chain = query["chain"], !chain.isEmpty { filter.chain = String(chain) }
        if let handle = query["handle"], !handle.isEmpty { filter.address = String(handle) }
        if let state = query["state"], !state.isEmpty {
            guard let s = FundingState(rawValue: String(state)) else {
                let all = FundingState.allCases.map(\.rawValue).joined(separator: ", ")
                throw HTTPError(.badRequest, message: "state must be one of \(all), got \(quoted(state))")
            }
            filter.state = s
        }
        if let limit = query["limit"] {
            guard let n = RequestNumber.parse(limit), (1...1000).contains(n) else {
                throw HTTPError(.badRequest, message: "limit must be an integer from 1 to 1000, got \(quoted(limit))")
            }
            filter.limit = n
        }
        return filter
    }
}
