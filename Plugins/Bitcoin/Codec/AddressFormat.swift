/// How one network of a Bitcoin-family chain writes addresses: its bech32 prefix and its
/// Base58Check version bytes.
public struct AddressFormat: Hashable, Sendable {
    /// The chain's parameter set (`bitcoin`, `litecoin`), as in `[utxo.<name>] chain`.
    public var chain: String
    /// `mainnet`, `testnet`, `signet`, `regtest`.
    public var network: String
    /// Bech32/bech32m human-readable part of segwit addresses (`bc`, `ltc`, `rltc`).
    public var bech32HRP: String
    /// Base58Check version byte of pay-to-pubkey-hash addresses.
    public var p2pkhVersion: UInt8
    /// Base58Check version bytes of pay-to-script-hash addresses read; the first is the one
    /// written (Litecoin writes `M…` (50) and still reads the legacy `3…` (5)).
    public var p2shVersions: [UInt8]

    public init(chain: String, network: String, bech32HRP: String, p2pkhVersion: UInt8, p2shVersions: [UInt8]) {
        self.chain = chain
        self.network = network
        self.bech32HRP = bech32HRP
        self.p2pkhVersion = p2pkhVersion
        self.p2shVersions = p2shVersions.isEmpty ? [0x05] : p2shVersions
    }

    /// The P2SH version byte addresses are written with.
    public var p2shVersion: UInt8 { p2shVersions[0] }

    /// `bitcoin mainnet`, `litecoin regtest`.
    public var name: String { "\(chain) \(network)" }

    /// Whether `version` is one of this format's Base58Check versions.
    func base58Type(_ version: UInt8) -> AddressType? {
        if version == p2pkhVersion { return .p2pkh }
        if p2shVersions.contains(version) { return .p2sh }
        return nil
    }

    /// The networks among `known` an address with this prefix or version belongs to, named
    /// for someone who configured `self`: by network within the same chain, else chain and
    /// network ("testnet or signet", "litecoin mainnet").
    func wrongNetwork(_ known: [AddressFormat], where matches: (AddressFormat) -> Bool) -> AddressError.Reason? {
        let all = known.filter { $0 != self && matches($0) }
        let same = all.filter { $0.chain == chain }
        let names = same.isEmpty ? all.map(\.name) : same.map(\.network)
        var unique: [String] = []
        for n in names where !unique.contains(n) { unique.append(n) }
        guard let last = unique.last else { return nil }
        let owner = unique.count == 1 ? last : unique.dropLast().joined(separator: ", ") + " or " + last
        return .wrongNetwork(addressNetwork: owner, configured: same.isEmpty ? name : network)
    }
}
