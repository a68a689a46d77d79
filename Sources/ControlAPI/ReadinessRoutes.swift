import Hummingbird
import WatchCore

public struct ReadinessRoutes: ControlRoutes {
    let plugins: [any ManagedPlugin]
    let checks: HealthChecks
    /// The plugins that are chain adapters: each must run, not paused.
    let chainAdapters: Set<String>
    /// Other plugins that must be healthy (the input consumer: a stalled one leaves alerts blind).
    let readinessPlugins: Set<String>
    /// The chain watchdog's readings (syncing and lag reasons), and the chains it watches.
    let watchdog: WatchdogBoard?
    let watchdogChains: Set<String>

    public init(
        plugins: [any ManagedPlugin], checks: HealthChecks, chainAdapters: Set<String>, readinessPlugins: Set<String>,
        watchdog: WatchdogBoard?, watchdogChains: Set<String>
    ) {
        self.plugins = plugins
        self.checks = checks
        self.chainAdapters = chainAdapters
        self.readinessPlugins = readinessPlugins
        self.watchdog = watchdog
        self.watchdogChains = watchdogChains
    }

    /// `GET /livez`: 200 while the process serves (no dependency checks). `GET /readyz`: 200 only
    /// when PostgreSQL answers within the health deadline and every chain adapter runs, not
    /// paused, its node not syncing and its cursor within `max_cursor_lag_blocks` of the tip
    /// (the watchdog's last reading); otherwise 503 with the reasons. A standby (another host
    /// holds the adapter's lease) is ready: it takes over when the lease expires.
    public func routes() -> RouteCollection<BasicRequestContext> {
        let router = RouteCollection(context: BasicRequestContext.self)
        router.getAndHead("/livez") { _, _ -> Response in
            JSONResponse.ok(["status": "live"])
        }
        router.getAndHead("/readyz") { _, _ -> Response in
            let reasons = await self.notReadyReasons()
            guard reasons.isEmpty else {
                return JSONResponse.ok(["status": "not_ready", "reasons": .array(reasons.map(JSONValue.string))], status: .serviceUnavailable)
            }
            return JSONResponse.ok(["status": "ready"])
        }
        return router
    }

    func notReadyReasons() async -> [String] {
        var reasons: [String] = []
        do {
            try await checks.databaseAnswers()
        } catch {
            reasons.append("database: \(Excerpt.of("\(error)"))")
        }
        if let problem = checks.schemaProblem() { reasons.append("database schema: \(problem)") }
        for plugin in plugins where readinessPlugins.contains(plugin.name) && plugin.status != .standby {
            if case .unhealthy(let why) = await plugin.health() { reasons.append("\(plugin.name): \(why)") }
        }
        for plugin in plugins where chainAdapters.contains(plugin.name) {
            if plugin.isPaused {
                reasons.append("\(plugin.name): paused")
            } else if plugin.status != .running && plugin.status != .standby {
                reasons.append("\(plugin.name): \(plugin.status.rawValue)")
            }
            // A standby's tracker is not moving (the active host's is): its lag says nothing.
            if let watchdog, watchdogChains.contains(plugin.name), plugin.status != .standby {
                reasons += watchdog.readinessProblems(plugin.name)
            }
        }
        return reasons
    }
}

/// What the host serves while it waits for PostgreSQL and prepares (migrations, restores):
/// `/livez` 200, `/readyz` and `/healthz` 503 saying why, everything else 503.
public enum StartupSurface {
    public static func router(status: @escaping @Sendable () -> String) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: StartingMiddleware(status: status))
        router.getAndHead("/livez") { _, _ -> Response in JSONResponse.ok(["status": "live"]) }
        for path in ["/readyz", "/healthz"] {
            router.getAndHead(RouterPath(stringLiteral: path)) { _, _ -> Response in
                JSONResponse.ok(["status": "starting", "reasons": [.string(status())]], status: .serviceUnavailable)
            }
        }
        return router
    }
}

/// Every other route while starting: 503 with what the host is waiting for.
struct StartingMiddleware<Context: RequestContext>: RouterMiddleware {
    let status: @Sendable () -> String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if ["/livez", "/readyz", "/healthz"].contains(request.uri.path) { return try await next(request, context) }
        return JSONResponse.error(.serviceUnavailable, "starting: \(status())")
    }
}
