import Dispatch
import Foundation
import Logging
import WatchCore

/// SIGHUP and SIGUSR1 would end the process at once (their default action), with no drain and
/// no log line: a log-rotation `kill -HUP` must not stop the service. The host logs and ignores
/// SIGHUP (it writes its logs to stderr, which the journal or the supervisor rotates: nothing to
/// reopen, and the config is read only at start: restart to apply a change), and answers SIGUSR1
/// with one log line per plugin (status and health). SIGTERM/SIGINT drain; SIGQUIT cancels.
final class OperatorSignals {
    private let sources: [any DispatchSourceSignal]

    init(logger: Logger, plugins: @escaping @Sendable () -> [any ManagedPlugin]) {
        let queue = DispatchQueue(label: "unrip.signals")
        signal(SIGHUP, SIG_IGN)
        signal(SIGUSR1, SIG_IGN)
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hup.setEventHandler {
            logger.notice("SIGHUP received: ignored (logs go to stderr, nothing to reopen; the config is read at start: restart to apply a change)")
        }
        let usr1 = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: queue)
        usr1.setEventHandler {
            let list = plugins()
            logger.notice("SIGUSR1 received: plugin states follow", metadata: ["plugins": "\(list.count)"])
            Task {
                for plugin in list {
                    let health = await plugin.health()
                    logger.notice("plugin state", metadata: [
                        "plugin": "\(plugin.name)", "status": "\(plugin.status.rawValue)", "paused": "\(plugin.isPaused)",
                        "health": "\(health == .healthy ? "healthy" : "\(health)")",
                    ])
                }
            }
        }
        hup.resume()
        usr1.resume()
        sources = [hup, usr1]
    }

    /// Stops answering (the host has stopped); the signals stay ignored.
    func cancel() {
        for source in sources { source.cancel() }
    }
}
