import ControlAPI
import Foundation
import Hummingbird
import Logging
import PostgresStore
import ServiceLifecycle
import WatchCore
import Synchronization

/// While the host waits for PostgreSQL and prepares (migrations, tracker restores), its port
/// already answers: `/livez` 200, `/readyz` and `/healthz` 503 naming what it waits for, so an
/// orchestrator sees a live process that is not ready rather than a closed port.
extension UnripHost {
    func preparedWhileServingStartup() async throws -> Prepared {
        // The usual start: PostgreSQL answers at once, and no second server is needed.
        let probe = PostgresPool(url: config.databaseURL, size: 1, maxAttempts: 1, logger: logger)
        if (try? await withDeadline(.seconds(5), { try await probe.withConnection { conn in _ = try conn.query("SELECT 1") } })) != nil {
            return try await prepare()
        }
        let status = StartupStatus()
        let app = Application(
            router: StartupSurface.router { status.text },
            server: .http1(configuration: .init(additionalChannelHandlers: [HTTP10ConnectionClose()])),
            configuration: .init(address: .hostname(config.httpHost, port: config.httpPort), serverName: "unrip-watch"),
            logger: Logger(label: "unrip.startup", factory: { _ in SwiftLogNoOpLogHandler() }))
        // Stopped by a graceful shutdown, never by cancelling its task: cancelling a NIO server
        // with accepted connections still queued traps ("Deinited NIOAsyncWriter without calling
        // finish()"), which is what the drills hit when clients polled /healthz during the start.
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: app)], logger: Logger(label: "unrip.startup", factory: { _ in SwiftLogNoOpLogHandler() })))
        let serving = Task { try await group.run() }
        status.set("waiting for PostgreSQL, then migrating and restoring (up to [database] startup_timeout_s = \(config.databaseStartupTimeoutSeconds) s)")
        let prepared: Prepared
        do {
            prepared = try await prepare()
        } catch {
            await group.triggerGracefulShutdown()
            _ = await serving.result
            throw error
        }
        await group.triggerGracefulShutdown()
        _ = await serving.result  // the port is free again for the control surface
        return prepared
    }
}

/// What the host is doing while it starts, for the startup surface.
final class StartupStatus: Sendable {
    private let current = Mutex("starting")
    var text: String { current.withLock { $0 } }
    func set(_ text: String) { current.withLock { $0 = text } }
}
