import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing
import WatchCore
import WatchTesting

@Suite struct PluginSupervisorTests {
    final class Counter: Sendable {
        let starts = Mutex(0)
        let failures: Int
        var failFirst: Bool { failures > 0 }
        init(failFirst: Bool) { failures = failFirst ? 1 : 0 }
        init(failures: Int) { self.failures = failures }
    }

    struct Looping: PluginService {
        let counter: Counter
        func run() async throws {
            let n = counter.starts.withLock { $0 += 1; return $0 }
            if n <= counter.failures { throw CancellationErrorLike() }
            while !Task.isCancelled { try await Task.sleep(for: .milliseconds(5)) }
        }
        func state() async -> JSONValue { ["starts": .int(Int64(counter.starts.withLock { $0 }))] }
    }
    struct CancellationErrorLike: Error {}

    @Test func pauseStopsTheInstanceAndResumeStartsAFreshOne() async throws {
        let counter = Counter(failFirst: false)
        let supervisor = PluginSupervisor(name: "p", kind: "k", logger: Logger(label: "t")) { Looping(counter: counter) }
        let task = Task { try await supervisor.run() }
        #expect(await waitUntil { supervisor.status == .running })
        supervisor.pause()
        #expect(await waitUntil { supervisor.status == .paused })
        #expect(supervisor.isPaused)
        #expect(await supervisor.health() == .healthy)
        supervisor.resume()
        #expect(await waitUntil { supervisor.status == .running && counter.starts.withLock { $0 } == 2 })
        task.cancel()
        _ = await task.result
        #expect(supervisor.status == .stopped)
    }

    @Test func failedInstanceIsRestartedAndReportedUnhealthyMeanwhile() async throws {
        let counter = Counter(failFirst: true)
        let clock = TestClock()
        let supervisor = PluginSupervisor(name: "p", kind: "k", logger: Logger(label: "t"), clock: clock) { Looping(counter: counter) }
        let task = Task { try await supervisor.run() }
        // The first instance failed; the restart waits its backoff on the supervisor's clock,
        // which stands still: meanwhile the plugin is unhealthy, naming the failure.
        #expect(await waitUntil { supervisor.status == .failed && clock.sleepers > 0 })
        guard case .unhealthy(let why) = await supervisor.health() else {
            Issue.record("a failed plugin waiting to restart reported healthy")
            task.cancel()
            return
        }
        #expect(why.contains("CancellationErrorLike"), "\(why)")
        #expect(counter.starts.withLock { $0 } == 1, "restarted before its backoff passed")
        // The backoff passes: a fresh instance runs and the plugin is healthy again.
        clock.advance(by: 1)
        #expect(await waitUntil { counter.starts.withLock { $0 } == 2 && supervisor.status == .running })
        #expect(await supervisor.health() == .healthy)
        let state = await supervisor.state()
        #expect(state["restarts"] == .int(1))
        #expect(state["last_error"]?.stringValue?.contains("CancellationErrorLike") == true)
        task.cancel()
        _ = await task.result
    }

    @Test func aRestartLoopIsUnhealthyEvenWhileAFreshInstanceRuns() async throws {
        let counter = Counter(failures: 2)
        let supervisor = PluginSupervisor(name: "p", kind: "k", logger: Logger(label: "t"), maxBackoff: .milliseconds(300)) { Looping(counter: counter) }
        let task = Task { try await supervisor.run() }
        #expect(await waitUntil { counter.starts.withLock { $0 } == 3 && supervisor.status == .running })
        guard case .unhealthy(let why) = await supervisor.health() else {
            Issue.record("healthy between restarts of a loop")
            task.cancel()
            return
        }
        #expect(why.contains("restarting in a loop: 2 failures in a row") && why.contains("CancellationErrorLike"), "\(why)")
        #expect(await supervisor.state()["failures_in_a_row"] == .int(2))
        task.cancel()
        _ = await task.result
    }

    /// Ends on graceful shutdown only once told to (what it "drains" is a test's go-ahead).
    struct Draining: PluginService {
        let counter: Counter
        let flags: Flags
        var drainsOnShutdown: Bool { true }
        func run() async throws {
            counter.starts.withLock { $0 += 1 }
            while !Task.isCancelled {
                if Task.isShuttingDownGracefully {
                    flags.sawShutdown.withLock { $0 = true }
                    if flags.released.withLock({ $0 }) { return }
                }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        func state() async -> JSONValue { .null }
    }

    final class Flags: Sendable {
        let released = Mutex(false)
        let sawShutdown = Mutex(false)
        let supervisorReturned = Mutex(false)
    }

    @Test func gracefulShutdownLetsADrainingInstanceFinishAndStartsNoOther() async throws {
        let counter = Counter(failFirst: false)
        let flags = Flags()
        let supervisor = PluginSupervisor(name: "relay", kind: "k", logger: Logger(label: "t")) {
            Draining(counter: counter, flags: flags)
        }
        await testGracefulShutdown { trigger in
            let task = Task {
                try? await supervisor.run()
                flags.supervisorReturned.withLock { $0 = true }
            }
            #expect(await waitUntil { supervisor.status == .running })
            trigger.triggerGracefulShutdown()
            // The instance hears the shutdown and is not cancelled: the supervisor waits for it.
            #expect(await waitUntil { flags.sawShutdown.withLock { $0 } })
            #expect(!flags.supervisorReturned.withLock { $0 } && supervisor.status == .running, "the draining instance was not waited for")
            flags.released.withLock { $0 = true }
            #expect(await waitUntil { flags.supervisorReturned.withLock { $0 } })
            #expect(supervisor.status == .stopped)
            #expect(counter.starts.withLock { $0 } == 1, "an instance was started after the shutdown")
            task.cancel()
        }
    }

    @Test func gracefulShutdownCancelsAnInstanceThatDoesNotDrain() async throws {
        let counter = Counter(failFirst: false)
        let supervisor = PluginSupervisor(name: "p", kind: "k", logger: Logger(label: "t")) { Looping(counter: counter) }
        await testGracefulShutdown { trigger in
            let task = Task { try? await supervisor.run() }
            #expect(await waitUntil { supervisor.status == .running })
            trigger.triggerGracefulShutdown()
            _ = await task.value
            #expect(supervisor.status == .stopped)
            #expect(counter.starts.withLock { $0 } == 1)
        }
    }

    /// A lease a test hands out and takes back.
    final class ScriptedLease: PluginLease {
        let available = Mutex(false)
        let attempts = Mutex(0)
        let released = Mutex(false)
        var renewEvery: Duration { .milliseconds(20) }
        var validFor: Duration { .milliseconds(60) }
        func acquire() async -> LeaseAttempt {
            attempts.withLock { $0 += 1 }
            return available.withLock { $0 } ? .held : .heldElsewhere("host-b")
        }
        func release() async { released.withLock { $0 = true } }
        func state() -> JSONValue { ["holder": available.withLock { $0 } ? "host-a" : "host-b"] }
    }

    @Test func aPluginRunsOnlyWhileThisHostHoldsItsLease() async throws {
        let counter = Counter(failFirst: false)
        let lease = ScriptedLease()
        let supervisor = PluginSupervisor(name: "bitcoin", kind: "bitcoin", logger: Logger(label: "t"), lease: lease) { Looping(counter: counter) }
        await testGracefulShutdown { trigger in
            let task = Task { try? await supervisor.run() }
            // Another host holds it: standing by, asking again, never starting an instance.
            #expect(await waitUntil { supervisor.status == .standby && lease.attempts.withLock { $0 } >= 3 })
            #expect(counter.starts.withLock { $0 } == 0, "an instance ran without the lease")
            #expect(await supervisor.health() == .healthy, "a standby is ready to take over")
            #expect(await supervisor.state()["role"] == "standby")
            // The lease comes free: this host takes over.
            lease.available.withLock { $0 = true }
            #expect(await waitUntil { supervisor.status == .running && counter.starts.withLock { $0 } == 1 })
            #expect(await supervisor.state()["role"] == "active")
            // Another host takes it (this one was frozen, say): the instance stops at once.
            lease.available.withLock { $0 = false }
            #expect(await waitUntil { supervisor.status == .standby })
            let attempts = lease.attempts.withLock { $0 }
            #expect(await waitUntil { lease.attempts.withLock { $0 } >= attempts + 2 })
            #expect(counter.starts.withLock { $0 } == 1, "restarted without the lease")
            lease.available.withLock { $0 = true }
            #expect(await waitUntil { supervisor.status == .running && counter.starts.withLock { $0 } == 2 })
            // A graceful shutdown gives the lease up for the standby.
            trigger.triggerGracefulShutdown()
            _ = await task.value
            #expect(lease.released.withLock { $0 })
        }
    }
}
