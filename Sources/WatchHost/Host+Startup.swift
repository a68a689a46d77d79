import ControlAPI
import Foundation
import Hummingbird
import Logging
import Synchronization

/// While the host waits for PostgreSQL and prepares (migrations, tracker restores), its port
/// already answers: `/livez` 200, `/readyz` and `/healthz` 503 naming what it waits for, so an
/// orchestrator sees a live process that is not ready rather than a closed port.
extension UnripHost {
    func preparedWhileServingStartup() async throws -> Prepared {
        let status = StartupStatus()
        let app = Application(
            router: StartupSurface.router { status.text },
            configuration: .init(address: .hostname(config.httpHost, port: config.httpPort), serverName: "unrip-watch"),
            logger: Logger(label: "unrip.startup", factory: { _ in SwiftLogNoOpLogHandler() }))
        let serving = Task { try await app.runService() }
        defer { serving.cancel() }
        status.set("waiting for PostgreSQL, then migrating and restoring (up to [database] startup_timeout_s = \(config.databaseStartupTimeoutSeconds) s)")
        let prepared: Prepared
        do {
            prepared = try await prepare()
        } catch {
            serving.cancel()
            _ = await serving.result
            throw error
        }
        serving.cancel()
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
