import CPostgres
import Foundation
import Logging
import Synchronization
import WatchCore

#if canImport(Glibc)
    import Glibc
#endif

/// Listens on a PostgreSQL NOTIFY channel on its own connection and thread, and signals
/// `signal` for every notification, so a waiter wakes when a writer (in any process) commits.
/// While the connection is down it reconnects with backoff and signals at every attempt (the
/// waiter falls back to its own polling). Notifications are hints: a waiter re-reads durable state.
public final class NotificationListener: Sendable {
    public let signal: ChangeSignal
    private let url: String
    private let channel: String
    private let logger: Logger
    private let running = Atomic<Bool>(true)
    private let connected = Atomic<Bool>(false)
    private let received = Mutex((count: 0, lastPayload: ""))
    private let finished = DispatchSemaphore(value: 0)

    public init(url: String, channel: String, signal: ChangeSignal = ChangeSignal(), logger: Logger) {
        self.url = url
        self.channel = channel
        self.signal = signal
        self.logger = logger
        let thread = Thread { [self] in
            self.loop()
            self.finished.signal()
        }
        thread.name = "unrip.pg-listen"
        thread.start()
    }

    /// Whether the LISTEN connection is up (otherwise waiters fall back to polling).
    public var isListening: Bool { connected.load(ordering: .relaxed) }

    /// Notifications received since start, and the payload of the last (PostgreSQL delivers
    /// them in commit order).
    public var notificationsReceived: (count: Int, lastPayload: String) { received.withLock { $0 } }

    /// Stops the thread (blocking for up to 250 ms: call off the cooperative pool).
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    private func loop() {
        var backoff: UInt32 = 100_000
        while running.load(ordering: .acquiring) {
            do {
                let conn = try PGConnection(url: url)
                try conn.exec("LISTEN \(channel)")
                connected.store(true, ordering: .relaxed)
                backoff = 100_000
                signal.signal()  // anything committed while we were not listening
                listen(on: conn)
                connected.store(false, ordering: .relaxed)
            } catch {
                connected.store(false, ordering: .relaxed)
                logger.debug("cannot LISTEN; polling meanwhile", metadata: ["channel": "\(channel)", "error": "\(error)"])
                signal.signal()
                // The reconnect back-off of a dedicated thread blocked in libpq (not a task, so not
                // on the injected clock): it only paces reconnects; waiters poll on their own clock.
                var slept: UInt32 = 0
                while slept < backoff, running.load(ordering: .acquiring) {
                    usleep(50_000)
                    slept += 50_000
                }
                backoff = min(backoff * 2, 5_000_000)
            }
        }
    }

    /// Waits on the connection's socket until it fails or the listener stops.
    private func listen(on conn: PGConnection) {
        let socket = PQsocket(conn.conn)
        guard socket >= 0 else { return }
        while running.load(ordering: .acquiring) {
            var fds = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, 250)
            if ready < 0, errno != EINTR { return }
            if ready <= 0 { continue }
            guard PQconsumeInput(conn.conn) == 1 else { return }
            var any = false
            while let note = PQnotifies(conn.conn) {
                let payload = note.pointee.extra.map { String(cString: $0) } ?? ""
                PQfreemem(note)
                received.withLock { $0 = ($0.count + 1, payload) }
                any = true
            }
            if any { signal.signal() }
            if PQstatus(conn.conn) != CONNECTION_OK { return }
        }
    }
}
