import Hummingbird
import WatchCore

/// `/plugins/<name>/healthz`, `/state`, `/pause`, `/resume`.
public struct PluginRoutes: ControlRoutes {
    let plugins: [any ManagedPlugin]
    /// Its schema problem (gone, behind, ahead), which every plugin's state says.
    let checks: HealthChecks

    public init(plugins: [any ManagedPlugin], checks: HealthChecks) {
        self.plugins = plugins
        self.checks = checks
    }

    public func routes() -> RouteCollection<BasicRequestContext> {
        let router = RouteCollection(context: BasicRequestContext.self)
        let plugins = router.group("/plugins/:name")
        plugins.get("/healthz") { _, context -> Response in
            let p = try self.requirePlugin(context)
            switch await p.health() {
            case .healthy:
                return JSONResponse.ok(["plugin": .string(p.name), "status": "ok", "state": .string(p.status.rawValue)])
            case .unhealthy(let reason):
                return JSONResponse.ok(
                    ["plugin": .string(p.name), "status": "unhealthy", "state": .string(p.status.rawValue), "reason": .string(reason)],
                    status: .serviceUnavailable)
            }
        }
        plugins.get("/state") { _, context -> Response in
            var state = try await self.requirePlugin(context).state()
            if let problem = self.checks.schemaProblem(), case .object(var fields) = state {
                fields["database_schema"] = .string(problem)  // it cannot store anything meanwhile
                state = .object(fields)
            }
            return JSONResponse.ok(state)
        }
        plugins.post("/pause") { _, context -> Response in
            let p = try self.requirePlugin(context)
            p.pause()
            return JSONResponse.ok(["plugin": .string(p.name), "paused": true])
        }
        plugins.post("/resume") { _, context -> Response in
            let p = try self.requirePlugin(context)
            p.resume()
            return JSONResponse.ok(["plugin": .string(p.name), "paused": false])
        }
        return router
    }

    func requirePlugin(_ context: BasicRequestContext) throws -> any ManagedPlugin {
        let name = context.parameters.get("name") ?? ""
        guard let p = plugins.first(where: { $0.name == name }) else {
            let known = plugins.map(\.name).joined(separator: ", ")
            throw HTTPError(.notFound, message: "unknown plugin '\(name)'; enabled plugins: \(known.isEmpty ? "none" : known)")
        }
        return p
    }
}
