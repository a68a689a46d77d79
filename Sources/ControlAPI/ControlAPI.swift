import Hummingbird
import Prometheus
import WatchCore

/// One resource's routes (Hummingbird's `RouteCollection`), built from what they need, given
/// at init: a route cannot be served with a hook left out.
public protocol ControlRoutes: Sendable {
    func routes() -> RouteCollection<BasicRequestContext>
}

/// What the control surface serves: the routes of each resource, behind JSON errors and the
/// bearer token. The host builds it from every collection; tests build the ones they need.
public struct ControlSurface: Sendable {
    /// The plugins it serves (the host's signal handlers read them too).
    public let plugins: [any ManagedPlugin]
    let controlToken: String?
    let resources: [any ControlRoutes]

    public init(plugins: [any ManagedPlugin], controlToken: String?, routes: [any ControlRoutes]) {
        self.plugins = plugins
        self.controlToken = controlToken
        self.resources = routes
    }

    /// Builds the router with every route of the control surface.
    public func router() -> PercentDecodedPathRouter<Router<BasicRequestContext>> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: BearerAuthMiddleware(token: controlToken))
        for resource in resources { router.addRoutes(resource.routes()) }
        return PercentDecodedPathRouter(router)
    }
}

/// `GET /metrics`: Prometheus text format.
public struct MetricsRoute: ControlRoutes {
    let metrics: PrometheusCollectorRegistry

    public init(metrics: PrometheusCollectorRegistry) { self.metrics = metrics }

    public func routes() -> RouteCollection<BasicRequestContext> {
        let router = RouteCollection(context: BasicRequestContext.self)
        router.getAndHead("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            metrics.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        return router
    }
}
