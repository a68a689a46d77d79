import Hummingbird
import WatchCore

/// `GET /healthz` (PostgreSQL and its schema) and `GET /state` (the host's state, each plugin's).
public struct HealthRoutes: ControlRoutes {
    let plugins: [any ManagedPlugin]
    let checks: HealthChecks
    /// Host part of `/state`: version, uptime, effective config (secrets redacted), …
    let hostState: @Sendable () async -> JSONValue

    public init(plugins: [any ManagedPlugin], checks: HealthChecks, hostState: @escaping @Sendable () async -> JSONValue) {
        self.plugins = plugins
        self.checks = checks
        self.hostState = hostState
    }

    public func routes() -> RouteCollection<BasicRequestContext> {
        let router = RouteCollection(context: BasicRequestContext.self)
        router.getAndHead("/healthz") { _, _ -> Response in
            do {
                try await self.checks.databaseAnswers()
                if let problem = self.checks.schemaProblem() {
                    return JSONResponse.ok(["status": "unavailable", "database": "ok", "database_schema": .string(problem)], status: .serviceUnavailable)
                }
                return JSONResponse.ok(["status": "ok", "database": "ok"])
            } catch {
                return JSONResponse.ok(["status": "unavailable", "database": .string(Excerpt.of("\(error)"))], status: .serviceUnavailable)
            }
        }
        router.getAndHead("/state") { _, _ -> Response in
            let healths = await HealthChecks.healths(of: self.plugins)
            let plugins: [JSONValue] = zip(self.plugins, healths).map { p, health in
                [
                    "name": .string(p.name), "kind": .string(p.kind), "status": .string(p.status.rawValue),
                    "paused": .bool(p.isPaused), "healthy": .bool(health == .healthy),
                    "role": .string(p.status == .standby ? "standby" : "active"), "lease": p.lease,
                ]
            }
            let hostState = self.hostState
            guard var state = try? await withDeadline(HealthChecks.deadline, { await hostState() }) else {
                return JSONResponse.error(.serviceUnavailable, "host state did not answer within \(HealthChecks.deadline) (is PostgreSQL responding?)")
            }
            if case .object(var fields) = state {
                fields["plugins"] = .array(plugins)
                state = .object(fields)
            }
            return JSONResponse.ok(state)
        }
        return router
    }
}
