import Foundation
import Hummingbird
import WatchCore

/// What resolving an alert by hand answered: the HTTP status and body.
public struct AlertResolveAnswer: Sendable {
    public var status: HTTPResponse.Status
    public var body: JSONValue

    public init(status: HTTPResponse.Status, body: JSONValue) {
        self.status = status
        self.body = body
    }
}

public struct AlertResolveRoute: ControlRoutes {
    /// Resolves a latched alert: key, who, why. Nil when alerts are off (the route answers 404).
    let resolveAlert: (@Sendable (String, String, String) async throws -> AlertResolveAnswer)?
    /// Called after a resolution (wakes the alert evaluator).
    let onFundingChange: @Sendable () -> Void

    public init(resolve: (@Sendable (String, String, String) async throws -> AlertResolveAnswer)?, onResolved: @escaping @Sendable () -> Void) {
        self.resolveAlert = resolve
        self.onFundingChange = onResolved
    }

    /// `POST /alerts/<key>/resolve` with `{"reason": "…", "by": "…"}` (bearer token): resolves a
    /// latched alert (`funding_double_spent`, `finality_violated`), recording who and why in
    /// `alert_events`. 400 bad body, 404 unknown key, 409 when the alert is not latched (it
    /// resolves by itself when its condition clears) or was already resolved.
    public func routes() -> RouteCollection<BasicRequestContext> {
        let router = RouteCollection(context: BasicRequestContext.self)
        router.post("/alerts/:key/resolve") { request, context -> Response in
            let key = context.parameters.get("key") ?? ""
            guard let resolve = self.resolveAlert else {
                throw HTTPError(.notFound, message: "alerts are off ([alerts] enabled = false)")
            }
            let body = try await collectBody(request, limit: 64 * 1024)
            guard let fields = (try? JSONValue.parse(Array(buffer: body)))?.objectValue,
                let reason = fields["reason"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty,
                Set(fields.keys).isSubset(of: ["reason", "by"]), fields["by"] == nil || fields["by"]?.stringValue?.isEmpty == false
            else {
                throw HTTPError(.badRequest, message: "expected a JSON body {\"reason\": \"<why it is resolved>\", \"by\": \"<who resolves it>\"} (reason required)")
            }
            let who = fields["by"]?.stringValue ?? "control-api"
            let answer = try await resolve(key, String(who.prefix(200)), String(reason.prefix(2000)))
            if answer.status == .ok { self.onFundingChange() }
            return JSONResponse.ok(answer.body, status: answer.status)
        }
        return router
    }
}
