import Hummingbird
import Logging
import ServiceLifecycle

/// A double's HTTP server on 127.0.0.1: Hummingbird, quiet, in a service group. `start`
/// returns once it accepts connections; it then serves until the test process ends (see `stop`).
final class DoubleHTTPServer: Sendable {
    private let group: ServiceGroup

    private init(group: ServiceGroup) { self.group = group }

    static func start(router: Router<BasicRequestContext>, port: Int, label: String) async throws -> DoubleHTTPServer {
        var logger = Logger(label: label)
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        Task { try await group.run() }
        for _ in 0..<200 where !LoopbackPort.canConnect(port) { try await Task.sleep(for: .milliseconds(10)) }
        return DoubleHTTPServer(group: group)
    }

    /// Nothing: the server serves until the process ends. A NIO server shut down (gracefully
    /// or not) while a client connects trips NIOAsyncWriter's "deinited without calling
    /// finish()" trap in this NIO version; doubles are stopped at a test's end, while the host
    /// or adapter under test may still be polling them, and that ended a whole run twice.
    func stop() { _ = group }
}
