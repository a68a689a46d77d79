import BitcoinPlugin
import GnosisPlugin
import WatchCore

/// The adapter list, as data: adding a chain of a known kind is one config section
/// (`[evm.base]`); adding a new kind of chain is one folder under `Plugins/`, one line here,
/// and its config section.
public let registeredAdapters: [AdapterRegistration] = [
    .adapter(BitcoinAdapter.self),
    .adapter(GnosisAdapter.self),
    // Any EVM chain: each `[evm.<name>]` subtable is one plugin named `<name>`.
    .family(GnosisAdapter.self, named: "evm"),
]
