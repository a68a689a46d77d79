import Hummingbird
import WatchCore

extension ControlSurface {
    func addHealthRoutes(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ -> Response in
            do {
                try await self.repository.pool.withConnection { conn in _ = try conn.query("SELECT 1") }
                return JSONResponse.ok(["status": "ok", "database": "ok"])
            } catch {
                return JSONResponse.ok(["status": "unavailable", "database": .string("\(error)")], status: .serviceUnavailable)
            }
        }
        router.get("/state") { _, _ -> Response in
            var plugins: [JSONValue] = []
            for p in self.plugins {
                let health = await p.health()
                plugins.append([
                    "name": .string(p.name), "kind": .string(p.kind), "status": .string(p.status.rawValue),
                    "paused": .bool(p.isPaused), "healthy": .bool(health == .healthy),
                ])
            }
            var state = await self.hostState()
            if case .object(var fields) = state {
                fields["plugins"] = .array(plugins)
                state = .object(fields)
            }
            return JSONResponse.ok(state)
        }
    }
}
