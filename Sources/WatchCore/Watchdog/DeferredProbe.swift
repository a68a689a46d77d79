import Synchronization

/// A probe built on first use, and again after building failed (a cookie file bitcoind has not
/// written yet): the watchdog starts whatever the node's state at start.
public final class DeferredProbe: ChainProbe {
    private let make: @Sendable () throws -> (any ChainProbe)?
    private let built = Mutex<(any ChainProbe)?>(nil)

    public init(_ make: @escaping @Sendable () throws -> (any ChainProbe)?) { self.make = make }

    private func probe() throws -> any ChainProbe {
        if let p = built.withLock({ $0 }) { return p }
        guard let p = try make() else { throw ProbeUnavailable() }
        built.withLock { $0 = p }
        return p
    }

    public func vitals() async throws -> NodeVitals { try await probe().vitals() }
    public func blockHash(at height: Int) async throws -> String? { try await probe().blockHash(at: height) }

    struct ProbeUnavailable: Error, CustomStringConvertible {
        var description: String { "this chain's adapter has no node probe" }
    }
}
