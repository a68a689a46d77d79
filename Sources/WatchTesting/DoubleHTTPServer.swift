import Hummingbird
import Logging
import ServiceLifecycle

/// A double's HTTP server on 127.0.0.1: Hummingbird, quiet, run in a service group so that
/// stopping it is a graceful shutdown (a request still being answered finishes first;
/// cancelling NIO's writer under it is a fatal error). `start` returns once it accepts
/// connections.
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

    func stop() { Task { await group.triggerGracefulShutdown() } }
}
