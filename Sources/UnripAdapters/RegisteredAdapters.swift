import BitcoinPlugin
import EVMPlugin
import WatchCore

/// The adapter list, as data: adding a chain of a known kind is one config section
/// (`[evm.base]`); adding a new kind of chain is one folder under `Plugins/`, one line here,
/// and its config section. It lives beside the executable, not in the host library: the host
/// runs the registry it is given and links no plugin.
public let registeredAdapters: [AdapterRegistration] = [
    .adapter(BitcoinAdapter.self),
    // Any Bitcoin-family chain: each `[utxo.<name>]` subtable is one plugin named `<name>`.
    .family(BitcoinAdapter.self, named: "utxo"),
    // Gnosis: the EVM plugin with Gnosis defaults (chain id 100, EURe v2), as `[gnosis]`.
    .adapter(EVMAdapter.self, named: "gnosis"),
    // Any EVM chain: each `[evm.<name>]` subtable is one plugin named `<name>`.
    .family(EVMAdapter.self, named: "evm"),
]
