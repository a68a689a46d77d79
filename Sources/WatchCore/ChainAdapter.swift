import Logging
import ServiceLifecycle

/// Anything the host runs as a plugin: one `run()` until cancelled, and a state document
/// served at `/plugins/<name>/state`.
public protocol PluginService: Service {
    func state() async -> JSONValue
    /// Whether the plugin considers itself healthy; served at `/plugins/<name>/healthz`.
    func health() async -> PluginHealth
}

extension PluginService {
    public func health() async -> PluginHealth { .healthy }
}

public enum PluginHealth: Sendable, Equatable {
    case healthy
    case unhealthy(String)
}

/// What a chain adapter reads from its config section.
public protocol AdapterConfiguration: Sendable {
    /// Reads and validates the section; problems are recorded in it, named by key.
    init(section: ConfigSection)
    var network: String { get }
    var handles: [FundingHandle] { get }
    var policy: ChainPolicy { get }
    /// An address as this chain's adapter matches it (canonical form), or an error saying why it
    /// is not an address of this chain and network: for handles the bridge hands out or an
    /// operator adds at runtime.
    func canonicalAddress(_ text: String) throws -> String
    /// The section's watchdog thresholds (`tip_stale_after_s`, `max_cursor_lag_blocks`, …).
    var watchdog: WatchdogPolicy? { get }
    /// A probe of the node for the watchdog, independent of any adapter instance.
    func makeProbe() throws -> (any ChainProbe)?
}

extension AdapterConfiguration {
    public func canonicalAddress(_ text: String) throws -> String { text }
    public var watchdog: WatchdogPolicy? { nil }
    public func makeProbe() throws -> (any ChainProbe)? { nil }
}

/// A chain backend (DESIGN §4). It only reports what its node says, normalized, to
/// `context.pipeline`; the core derives confirmations, states, reorg depth and the cursor.
///
/// `run()` starts from the cursor (`context.pipeline.tip`), catches up, then follows the
/// chain until cancelled. Pause is handled by the host: it cancels `run()` and, on resume,
/// builds a fresh instance that catches up from the cursor.
public protocol ChainAdapter: PluginService {
    associatedtype Configuration: AdapterConfiguration
    /// The config section and chain name: `bitcoin`, `gnosis`.
    static var kind: String { get }
    init(configuration: Configuration, context: AdapterContext) throws
}

/// What the host hands an adapter: and nothing else.
public struct AdapterContext: Sendable {
    public let name: String
    public let chain: ChainName
    public let network: String
    /// The live watch set for this chain.
    public let handles: [FundingHandle]
    /// The observation sink: back-pressured; when `submit` returns, the reports are durable.
    public let pipeline: ChainPipeline
    public let logger: Logger
    public let clock: any WatchClock
    /// Called when the history scan of the handles with `rescanFrom` reached the cursor: the
    /// host records it, so the scan is not repeated (and rebuilds the adapter without it).
    public var onRescanFinished: @Sendable ([FundingHandle]) async -> Void = { _ in }
    /// What the adapter tells the watchdog that its node's RPC cannot (ZMQ traffic).
    public var signals = ChainSignals()

    public init(name: String, chain: ChainName, network: String, handles: [FundingHandle], pipeline: ChainPipeline, logger: Logger, clock: any WatchClock) {
        self.name = name
        self.chain = chain
        self.network = network
        self.handles = handles
        self.pipeline = pipeline
        self.logger = logger
        self.clock = clock
    }
}

/// An adapter's config, parsed and validated, ready to build instances from.
public struct LoadedAdapter: Sendable {
    public let kind: String
    public let network: String
    public let handles: [FundingHandle]
    public let policy: ChainPolicy
    public let make: @Sendable (AdapterContext) throws -> any ChainAdapter
    public var canonicalAddress: @Sendable (String) throws -> String = { $0 }
    /// The chain's watchdog thresholds and node probe (none: the chain is not watched).
    public var watchdog: WatchdogPolicy? = nil
    public var makeProbe: @Sendable () throws -> (any ChainProbe)? = { nil }
}

/// One entry of the host's static adapter list.
public struct AdapterRegistration: Sendable {
    public let kind: String
    public let load: @Sendable (ConfigSection) -> LoadedAdapter

    public static func adapter<A: ChainAdapter>(_ type: A.Type) -> AdapterRegistration {
        AdapterRegistration(kind: A.kind) { section in
            let configuration = A.Configuration(section: section)
            var loaded = LoadedAdapter(
                kind: A.kind, network: configuration.network, handles: configuration.handles,
                policy: configuration.policy,
                make: { context in try A(configuration: configuration, context: context) },
                canonicalAddress: { try configuration.canonicalAddress($0) })
            loaded.watchdog = configuration.watchdog
            loaded.makeProbe = { try configuration.makeProbe() }
            return loaded
        }
    }
}
