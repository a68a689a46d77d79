import BitcoinPlugin
import GnosisPlugin
import WatchCore

/// The static adapter list: adding a chain is one folder under `Plugins/`, one line here,
/// and one config section.
public let registeredAdapters: [AdapterRegistration] = [
    .adapter(BitcoinAdapter.self),
    .adapter(GnosisAdapter.self),
]
