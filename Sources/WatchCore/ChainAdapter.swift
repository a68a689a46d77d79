import Logging
import ServiceLifecycle

/// Anything the host runs as a plugin: one `run()` until cancelled, and a state document
/// served at `/plugins/<name>/state`.
public protocol PluginService: Service {
    func state() async -> JSONValue
    /// Whether the plugin considers itself healthy; served at `/plugins/<name>/healthz`.
    func health() async -> PluginHealth
    /// True for a plugin whose `run()` ends by itself on graceful shutdown (it sees
    /// `Task.isShuttingDownGracefully`) after finishing what it started, as the relay waits for
    /// the acknowledgements of batches in flight. Any other plugin is cancelled at shutdown.
    var drainsOnShutdown: Bool { get }
}

extension PluginService {
    public func health() async -> PluginHealth { .healthy }
    public var drainsOnShutdown: Bool { false }
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
    /// The bridge's id for this chain (`eth:8453`) when the section names it (`bridge_chain`):
    /// merged into `[bridge.chains]` under the plugin's name.
    var bridgeChain: String? { get }
    /// The assets the section watches, so the host can refuse a bridge without their tokens.
    var assets: [String] { get }
    /// What two spellings of one address share (`0xAbC…` and `0xabc…` on an EVM chain): a
    /// handle added at runtime is refused when a watched one has the same key.
    func addressKey(_ address: String) -> String
}

extension AdapterConfiguration {
    public func canonicalAddress(_ text: String) throws -> String { text }
    public var watchdog: WatchdogPolicy? { nil }
    public func makeProbe() throws -> (any ChainProbe)? { nil }
    public var bridgeChain: String? { nil }
    public var assets: [String] { Array(Set(handles.map(\.asset))).sorted() }
    public func addressKey(_ address: String) -> String { (try? canonicalAddress(address)) ?? address }
}

/// A chain backend (DESIGN §4). It only reports what its node says, normalized, to
/// `context.pipeline`; the core derives confirmations, states, reorg depth and the cursor.
///
/// `run()` starts from the cursor (`context.pipeline.tip`), catches up, then follows the
/// chain until cancelled. Pause is handled by the host: it cancels `run()` and, on resume,
/// builds a fresh instance that catches up from the cursor.
public protocol ChainAdapter: PluginService {
    associatedtype Configuration: AdapterConfiguration
    /// The default plugin and chain name (`bitcoin`, `gnosis`); a registration may run the same
    /// type under other names (`AdapterRegistration.adapter(_:named:)`, `.family`).
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
    /// The plugin and chain name: `bitcoin`, `gnosis`, `base` (of `[evm.base]`).
    public let kind: String
    public let network: String
    public let handles: [FundingHandle]
    public let policy: ChainPolicy
    public let make: @Sendable (AdapterContext) throws -> any ChainAdapter
    public var canonicalAddress: @Sendable (String) throws -> String = { $0 }
    /// The chain's watchdog thresholds and node probe (none: the chain is not watched).
    public var watchdog: WatchdogPolicy? = nil
    public var makeProbe: @Sendable () throws -> (any ChainProbe)? = { nil }
    /// The bridge chain id the section names (`bridge_chain`), if any.
    public var bridgeChain: String? = nil
    /// The assets it watches.
    public var assets: [String] = []
    /// What two spellings of one address share (`AdapterConfiguration.addressKey`).
    public var addressKey: @Sendable (String) -> String = { $0 }

    public init(kind: String, network: String, handles: [FundingHandle], policy: ChainPolicy, make: @escaping @Sendable (AdapterContext) throws -> any ChainAdapter) {
        self.kind = kind
        self.network = network
        self.handles = handles
        self.policy = policy
        self.make = make
    }
}

/// One entry of the host's adapter list: data, so one adapter type can be registered under
/// several names.
public struct AdapterRegistration: Sendable {
    /// The config section (`[bitcoin]`), or for a family the table whose subtables each start
    /// one instance named by its key (`[evm.base]` → plugin and chain `base`).
    public let kind: String
    /// Whether `kind` names a family of instances rather than one plugin.
    public let isFamily: Bool
    /// Reads a section (its `pluginName` is the instance's name) into a loaded adapter.
    public let load: @Sendable (ConfigSection) -> LoadedAdapter

    public init(kind: String, isFamily: Bool = false, load: @escaping @Sendable (ConfigSection) -> LoadedAdapter) {
        self.kind = kind
        self.isFamily = isFamily
        self.load = load
    }

    /// `A` as the plugin `name` (its section `[name]`).
    public static func adapter<A: ChainAdapter>(_ type: A.Type, named name: String = A.kind) -> AdapterRegistration {
        AdapterRegistration(kind: name, load: loader(A.self))
    }

    /// `A` once per subtable of `[family]`: `[evm.base]` and `[evm.ethereum]` are two plugins.
    public static func family<A: ChainAdapter>(_ type: A.Type, named family: String) -> AdapterRegistration {
        AdapterRegistration(kind: family, isFamily: true, load: loader(A.self))
    }

    static func loader<A: ChainAdapter>(_ type: A.Type) -> @Sendable (ConfigSection) -> LoadedAdapter {
        { section in
            let configuration = A.Configuration(section: section)
            var loaded = LoadedAdapter(
                kind: section.pluginName, network: configuration.network, handles: configuration.handles,
                policy: configuration.policy,
                make: { context in try A(configuration: configuration, context: context) })
            loaded.canonicalAddress = { try configuration.canonicalAddress($0) }
            loaded.watchdog = configuration.watchdog
            loaded.makeProbe = { try configuration.makeProbe() }
            loaded.bridgeChain = configuration.bridgeChain
            loaded.assets = configuration.assets
            loaded.addressKey = { configuration.addressKey($0) }
            return loaded
        }
    }
}
