/// The names this plugin had while it watched Gnosis only; kept so code written against them
/// still builds. `[gnosis]` is the same plugin as any `[evm.<name>]`, with Gnosis defaults.
public typealias GnosisAdapter = EVMAdapter
public typealias GnosisConfiguration = EVMConfiguration
public typealias GnosisToken = EVMToken
public typealias GnosisScan = EVMTransferScan
