import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, for the tests that run the real binary, the
/// Kafka mock or a script. Not Foundation's `Process`: on Linux its `run()` scans
/// `/proc/self/fd` with a 256-byte copy of each `dirent` name and crashes the whole test
/// process now and then (swiftlang/swift-corelibs-foundation#5472, fixed after 6.3.1), more
/// often the more descriptors the tests hold open. Here the child closes every descriptor above
/// 2 (`closefrom`), starts with the default signal dispositions and an empty signal mask, and is
/// reaped by whoever asks whether it still runs.
public final class ChildProcess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream {
        case inherit
        case null
        case file(FileHandle)
        /// The child gets the pipe's reading end as stdin, its writing end as stdout/stderr;
        /// the parent's copy of that end is closed once the child runs.
        case pipe(Pipe)
    }

    public struct SpawnFailed: Error, CustomStringConvertible {
        public let executable: String
        public let errno: Int32
        public var description: String { "posix_spawn \(executable): \(String(cString: strerror(errno)))" }
    }

    public let processIdentifier: pid_t
    private let lock = NSLock()
    private var waitStatus: Int32?

    /// Starts `executable` (a path) with `arguments`; `environment` nil inherits this process's.
    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil,
        stdin: Stream = .null, stdout: Stream = .inherit, stderr: Stream = .inherit
    ) throws {
        let environment = environment ?? ProcessInfo.processInfo.environment
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        Self.redirect(stdin, to: 0, &actions)
        Self.redirect(stdout, to: 1, &actions)
        Self.redirect(stderr, to: 2, &actions)
        Self.closeInheritedDescriptors(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        Self.resetSignals(&attributes)
        let argv = CStrings([executable] + arguments)
        let envp = CStrings(environment.map { "\($0.key)=\($0.value)" })
        var pid = pid_t()
        let result = withExtendedLifetime((argv, envp)) {
            posix_spawn(&pid, executable, &actions, &attributes, argv.pointers, envp.pointers)
        }
        guard result == 0 else { throw SpawnFailed(executable: executable, errno: result) }
        processIdentifier = pid
        for (stream, fd) in [(stdin, 0), (stdout, 1), (stderr, 2)] {
            if case .pipe(let pipe) = stream {
                try? (fd == 0 ? pipe.fileHandleForReading : pipe.fileHandleForWriting).close()
            }
        }
    }

    /// False once the child has exited (it is reaped then).
    public var isRunning: Bool {
        lock.withLock {
            if waitStatus != nil { return false }
            var status: Int32 = 0
            let reaped = waitpid(processIdentifier, &status, WNOHANG)
            if reaped == processIdentifier { waitStatus = status }
            if reaped == -1 { waitStatus = -1 }
            return waitStatus == nil
        }
    }

    /// The exit code, or the signal that ended it; -1 while it runs.
    public var terminationStatus: Int32 {
        guard !isRunning, let status = lock.withLock({ waitStatus }) else { return -1 }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    public var terminationReason: Process.TerminationReason {
        guard !isRunning, let status = lock.withLock({ waitStatus }) else { return .exit }
        return status & 0x7f == 0 ? .exit : .uncaughtSignal
    }

    public func send(_ signal: Int32) { kill(processIdentifier, signal) }

    /// SIGTERM.
    public func terminate() { send(SIGTERM) }

    /// Waits for the exit without holding a thread of the concurrency pool; false when it still
    /// runs after `timeout`.
    public func exited(within timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Blocks the calling thread until the exit (for work already off the pool).
    public func waitUntilExit() {
        while isRunning { usleep(5_000) }
    }

    /// `signal` (SIGKILL unless told), and a thread of its own that reaps the child, for a
    /// caller that cannot wait.
    public func killAndReap(_ signal: Int32 = SIGKILL) {
        send(signal)
        Thread.detachNewThread { [self] in waitUntilExit() }
    }

    private static func redirect(_ stream: Stream, to target: Int32, _ actions: inout posix_spawn_file_actions_t) {
        switch stream {
        case .inherit: break
        case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
        case .file(let handle): posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target)
        case .pipe(let pipe):
            let end = target == 0 ? pipe.fileHandleForReading : pipe.fileHandleForWriting
            posix_spawn_file_actions_adddup2(&actions, end.fileDescriptor, target)
        }
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+, not in Swift's Glibc module);
    /// without it, each descriptor listed in /proc/self/fd is closed by name.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            return
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }

    private static func resetSignals(_ attributes: inout posix_spawnattr_t) {
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    }
}

/// A NULL-terminated array of C strings, freed with it.
private final class CStrings {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    init(_ strings: [String]) {
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[strings.count] = nil
    }

    deinit {
        var index = 0
        while let pointer = pointers[index] { free(pointer); index += 1 }
        pointers.deallocate()
    }
}
