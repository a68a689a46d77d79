/// A Bitcoin network, which decides address prefixes.
///
/// testnet (incl. testnet4), signet and regtest share the base58 version bytes;
/// testnet and signet also share the bech32 human-readable part `tb`.
public enum BitcoinNetwork: String, Sendable, CaseIterable, Codable {
    case mainnet
    case testnet
    case signet
    case regtest

    /// Base58Check version byte of pay-to-pubkey-hash addresses (`0x00` main, `0x6f` otherwise).
    public var p2pkhVersion: UInt8 {
        self == .mainnet ? 0x00 : 0x6f
    }

    /// Base58Check version byte of pay-to-script-hash addresses (`0x05` main, `0xc4` otherwise).
    public var p2shVersion: UInt8 {
        self == .mainnet ? 0x05 : 0xc4
    }

    /// Bech32/bech32m human-readable part of segwit addresses (`bc`, `tb`, `tb`, `bcrt`).
    public var bech32HRP: String {
        switch self {
        case .mainnet: "bc"
        case .testnet, .signet: "tb"
        case .regtest: "bcrt"
        }
    }

    /// Its address format, from `UTXOChainParameters.bitcoin`.
    public var format: AddressFormat { UTXOChainParameters.bitcoin.network(rawValue)!.format }
}
