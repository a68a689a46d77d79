import Foundation
import Hummingbird
import PostgresStore
import WatchCore

public struct StuckRoute: ControlRoutes {
    let repository: FundingRepository
    /// Decides the time of the mark.
    let clock: any WatchClock
    /// Called after a mark (wakes the alert evaluator).
    let onFundingChange: @Sendable () -> Void

    public init(repository: FundingRepository, clock: any WatchClock, onFundingChange: @escaping @Sendable () -> Void) {
        self.repository = repository
        self.clock = clock
        self.onFundingChange = onFundingChange
    }

    /// `POST /funding/observations/<id>/stuck` with `{"reason": "…"}` (bearer token, like every POST):
    /// marks the transfer `FAILED_OR_STUCK` with reason `manual: <text>`. 400 bad body, 404 unknown
    /// id, 409 when the state machine refuses (a credited transfer is final).
    public func routes() -> RouteCollection<BasicRequestContext> {
        let router = RouteCollection(context: BasicRequestContext.self)
        router.post("/funding/observations/:id/stuck") { request, context -> Response in
            let text = context.parameters.get("id") ?? ""
            guard let id = RequestNumber.id(text) else {
                throw HTTPError(.badRequest, message: "observation id must be a positive integer, got \(quoted(text))")
            }
            let body = try await collectBody(request, limit: 64 * 1024)
            guard let fields = (try? JSONValue.parse(Array(buffer: body)))?.objectValue,
                let reason = fields["reason"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty,
                fields.count == 1
            else {
                throw HTTPError(.badRequest, message: "expected a JSON body {\"reason\": \"<why this transfer is stuck>\"}")
            }
            switch try await self.repository.markStuck(id: id, text: reason, at: self.clock.now()) {
            case .notFound:
                throw HTTPError(.notFound, message: "no observation with id \(id)")
            case .refused(let illegal):
                throw HTTPError(.conflict, message: "\(illegal): a credited transfer cannot be marked stuck")
            case .marked(let record):
                self.onFundingChange()
                return JSONResponse.ok(record.json)
            }
        }
        return router
    }
}
