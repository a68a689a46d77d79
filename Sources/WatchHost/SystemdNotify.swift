import Foundation
import Logging
import ServiceLifecycle
import WatchCore

/// systemd's readiness protocol (sd_notify(3)): datagrams to `$NOTIFY_SOCKET` (a path, or an
/// abstract name written `@name`). Without the variable (not under `Type=notify`) it does
/// nothing. Messages: `READY=1` once migrations are applied and the HTTP port is bound,
/// `STOPPING=1` when the drain begins, `WATCHDOG=1` every half `$WATCHDOG_USEC` when set.
final class SystemdNotifier: Sendable {
    let socketPath: String?
    /// Half the watchdog timeout systemd gave (`WATCHDOG_USEC`), when it gave one to this pid.
    let watchdogInterval: Duration?
    let logger: Logger

    init(environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) {
        self.logger = logger
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        let pidMatches = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if pidMatches, let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 {
            watchdogInterval = .microseconds(Int64(min(usec / 2, UInt64(Int64.max))))
        } else {
            watchdogInterval = nil
        }
    }

    var isActive: Bool { socketPath != nil }

    /// Sends one message; failures are logged, never fatal (systemd may have gone away).
    func send(_ message: String) {
        guard let path = socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            logger.warning("NOTIFY_SOCKET is too long; systemd is not told", metadata: ["length": "\(bytes.count)"])
            return
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let payload = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, payload, payload.count, 0, $0, length) }
        }
        if sent < 0 { logger.warning("sd_notify failed", metadata: ["message": "\(message)", "errno": "\(errno)"]) }
    }
}

/// Runs beside the plugins: `WATCHDOG=1` pings while the host runs, `STOPPING=1` when the
/// graceful shutdown reaches it (it is shut down first, so systemd hears it at the drain's start).
struct SystemdNotifyService: Service {
    let notifier: SystemdNotifier
    let clock: any WatchClock

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                guard let interval = notifier.watchdogInterval else {
                    try await gracefulShutdown()
                    return
                }
                notifier.send("WATCHDOG=1")
                try await clock.sleep(for: interval)
            }
        }
        notifier.send("STOPPING=1")
    }
}
