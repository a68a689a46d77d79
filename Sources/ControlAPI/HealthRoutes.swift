import Hummingbird
import WatchCore

extension ControlSurface {
    /// How long a health or state answer may wait on PostgreSQL or a plugin.
    static let healthDeadline = Duration.seconds(3)

    func addHealthRoutes(to router: Router<BasicRequestContext>) {
        router.getAndHead("/healthz") { _, _ -> Response in
            do {
                // A frozen PostgreSQL must not freeze the health check: 503 within the deadline.
                let pool = self.repository.pool
                try await withDeadline(Self.healthDeadline) {
                    try await pool.withConnection { conn in _ = try conn.query("SELECT 1") }
                }
                return JSONResponse.ok(["status": "ok", "database": "ok"])
            } catch {
                return JSONResponse.ok(["status": "unavailable", "database": .string(Excerpt.of("\(error)"))], status: .serviceUnavailable)
            }
        }
        router.getAndHead("/state") { _, _ -> Response in
            var plugins: [JSONValue] = []
            for p in self.plugins {
                let health = (try? await withDeadline(Self.healthDeadline) { await p.health() }) ?? .unhealthy("no answer within \(Self.healthDeadline)")
                plugins.append([
                    "name": .string(p.name), "kind": .string(p.kind), "status": .string(p.status.rawValue),
                    "paused": .bool(p.isPaused), "healthy": .bool(health == .healthy),
                ])
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
}
