import Foundation
import Hummingbird
import Logging
import PostgresStore
import Prometheus
import WatchCore

/// What the control surface serves from. The host builds it; tests build their own.
public struct ControlSurface: Sendable {
    public var plugins: [any ManagedPlugin]
    public var repository: FundingRepository
    /// Host part of `/state`: version, uptime, effective config (secrets redacted), …
    public var hostState: @Sendable () async -> JSONValue
    public var metrics: PrometheusCollectorRegistry
    public var controlToken: String?
    /// Called after a funding change made over HTTP (manual stuck marking): wakes the alert evaluator.
    public var onFundingChange: @Sendable () -> Void = {}
    /// The enabled chains handles may be added to over HTTP, with each adapter's address check.
    public var handleChains: [HandleChain] = []
    /// Decides the times the routes record (a handle added, a manual mark, `since` defaults).
    public var clock: any WatchClock = SystemClock()
    /// How long a retired handle stays watched (`[bridge] retired_handle_watch_s`): a handle
    /// added over HTTP may not take an address still watched under another asset.
    public var retiredHandleWatch: TimeInterval = 2_592_000
    /// What is wrong with the database's schema now (gone, behind, ahead), or nil: `/healthz`,
    /// `/readyz` and every plugin's state say it.
    public var schemaProblem: @Sendable () -> String? = { nil }
    /// Reloads the adapters' watch sets after a handle was added or retired over HTTP.
    public var onHandlesChanged: @Sendable () async -> Void = {}
    /// The plugins that are chain adapters: `/readyz` needs each running and not paused.
    public var chainAdapters: Set<String> = []
    /// Other plugins `/readyz` needs healthy (the input consumer: a stalled one leaves alerts blind).
    public var readinessPlugins: Set<String> = []
    /// The chain watchdog's readings (`/readyz` adds its syncing and lag reasons), and the chains it watches.
    public var watchdog: WatchdogBoard? = nil
    public var watchdogChains: Set<String> = []
    /// Resolves a latched alert by hand (`POST /alerts/<key>/resolve`): key, who, why.
    public var resolveAlert: (@Sendable (String, String, String) async throws -> AlertResolveAnswer)? = nil

    public init(plugins: [any ManagedPlugin], repository: FundingRepository, metrics: PrometheusCollectorRegistry, controlToken: String?, hostState: @escaping @Sendable () async -> JSONValue) {
        self.plugins = plugins
        self.repository = repository
        self.metrics = metrics
        self.controlToken = controlToken
        self.hostState = hostState
    }

    func plugin(_ name: String) -> (any ManagedPlugin)? { plugins.first { $0.name == name } }

    /// Builds the router with every route of the control surface.
    public func router() -> PercentDecodedPathRouter<Router<BasicRequestContext>> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: BearerAuthMiddleware(token: controlToken))
        addHealthRoutes(to: router)
        addReadinessRoutes(to: router)
        addPluginRoutes(to: router)
        addFundingRoutes(to: router)
        addStuckRoute(to: router)
        addHandleRoutes(to: router)
        addOutboxRoutes(to: router)
        addAlertResolveRoute(to: router)
        router.getAndHead("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            self.metrics.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        return PercentDecodedPathRouter(router)
    }
}
