import Synchronization

/// The live watch set of every chain: config handles, bridge-given ones and those added at
/// runtime, read by each adapter instance when it is built. Replacing a chain's set signals
/// its `changes`, and the host rebuilds that chain's adapter (it catches up from its cursor),
/// so a new handle is watched without a restart.
public final class HandleBook: Sendable {
    private let sets: Mutex<[ChainName: [FundingHandle]]>
    private let signals: [ChainName: ChangeSignal]

    public init(_ initial: [ChainName: [FundingHandle]]) {
        sets = Mutex(initial)
        signals = Dictionary(uniqueKeysWithValues: initial.keys.map { ($0, ChangeSignal()) })
    }

    public func handles(_ chain: ChainName) -> [FundingHandle] { sets.withLock { $0[chain] ?? [] } }

    /// Signalled each time `chain`'s watch set changes.
    public func changes(_ chain: ChainName) -> ChangeSignal? { signals[chain] }

    /// Replaces `chain`'s watch set; returns true (and signals) when it differs as a set.
    @discardableResult
    public func replace(_ chain: ChainName, with handles: [FundingHandle]) -> Bool {
        let changed = sets.withLock { s -> Bool in
            guard Set(s[chain] ?? []) != Set(handles) else { return false }
            s[chain] = handles
            return true
        }
        if changed { signals[chain]?.signal() }
        return changed
    }
}

/// What the host tells the parts that add handles about one enabled chain.
public struct HandleChain: Sendable {
    public let chain: ChainName
    public let network: String
    /// The address in the form the adapter matches, or an error naming what is wrong.
    public let canonicalAddress: @Sendable (String) throws -> String
    /// The assets a handle of this chain may name (its plugin watches them); nil: any.
    public let assets: [String]?
    /// What two spellings of one address share (`0xAbC…` and `0xabc…`).
    public let addressKey: @Sendable (String) -> String
    /// The height of the chain's committed tip, nil while unknown: a rescan may not start above it.
    public var tip: @Sendable () async -> Int? = { nil }

    public init(
        chain: ChainName, network: String, assets: [String]? = nil, canonicalAddress: @escaping @Sendable (String) throws -> String,
        addressKey: @escaping @Sendable (String) -> String = { $0 }
    ) {
        self.chain = chain
        self.network = network
        self.assets = assets
        self.canonicalAddress = canonicalAddress
        self.addressKey = addressKey
    }
}
