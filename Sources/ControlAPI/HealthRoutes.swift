import Hummingbird
import WatchCore

extension ControlSurface {
    /// How long a health or state answer may wait on PostgreSQL or a plugin.
    static let healthDeadline = Duration.seconds(3)

    func addHealthRoutes(to router: Router<BasicRequestContext>) {
        router.getAndHead("/healthz") { _, _ -> Response in
            do {
                try await self.databaseAnswers()
                if let problem = self.schemaProblem() {
                    return JSONResponse.ok(["status": "unavailable", "database": "ok", "database_schema": .string(problem)], status: .serviceUnavailable)
                }
                return JSONResponse.ok(["status": "ok", "database": "ok"])
            } catch {
                return JSONResponse.ok(["status": "unavailable", "database": .string(Excerpt.of("\(error)"))], status: .serviceUnavailable)
            }
        }
        router.getAndHead("/state") { _, _ -> Response in
            let healths = await self.pluginHealths()
            let plugins: [JSONValue] = zip(self.plugins, healths).map { p, health in
                [
                    "name": .string(p.name), "kind": .string(p.kind), "status": .string(p.status.rawValue),
                    "paused": .bool(p.isPaused), "healthy": .bool(health == .healthy),
                    "role": .string(p.status == .standby ? "standby" : "active"), "lease": p.lease,
                ]
            }
            let hostState = self.hostState
            guard var state = try? await withDeadline(Self.healthDeadline, { await hostState() }) else {
                return JSONResponse.error(.serviceUnavailable, "host state did not answer within \(Self.healthDeadline) (is PostgreSQL responding?)")
            }
            if case .object(var fields) = state {
                fields["plugins"] = .array(plugins)
                state = .object(fields)
            }
            return JSONResponse.ok(state)
        }
    }

    /// Throws unless PostgreSQL answers within `healthDeadline`: a frozen PostgreSQL must not
    /// freeze a health check (`/healthz`, `/readyz`).
    func databaseAnswers() async throws {
        let pool = repository.pool
        try await withDeadline(Self.healthDeadline) {
            try await pool.withConnection { conn in _ = try conn.query("SELECT 1") }
        }
    }

    /// Every plugin's health, asked side by side, each bounded by `healthDeadline`: with a
    /// frozen database, `/state` answers within one deadline, not one per plugin.
    func pluginHealths() async -> [PluginHealth] {
        await withTaskGroup(of: (Int, PluginHealth).self) { group in
            for (index, plugin) in plugins.enumerated() {
                group.addTask {
                    let health = try? await withDeadline(Self.healthDeadline) { await plugin.health() }
                    return (index, health ?? .unhealthy("no answer within \(Self.healthDeadline)"))
                }
            }
            var healths = [PluginHealth](repeating: .healthy, count: plugins.count)
            for await (index, health) in group { healths[index] = health }
            return healths
        }
    }
}
