/// A Bitcoin-family chain as data: its asset, its bridge id and, per network, how addresses
/// are written, the default RPC port and the name its node reports (`getblockchaininfo.chain`).
/// `[utxo.<name>] chain` picks one; its keys override the address parameters, so a further
/// chain of the family is configuration, not code (docs/utxo.md).
public struct UTXOChainParameters: Sendable {
    public struct Network: Sendable {
        public var format: AddressFormat
        public var rpcPort: Int
        /// What the node's `getblockchaininfo` may say as `chain` (`main`, `test`, `signet`, `regtest`).
        public var nodeChains: Set<String>
        public var name: String { format.network }
    }

    /// `bitcoin`, `litecoin`.
    public var name: String
    /// The asset a deposit is booked under (`BTC`, `LTC`) and its decimals.
    public var asset: String
    public var decimals: Int
    /// The POA bridge's id of the chain (`btc:mainnet`, `ltc:mainnet`).
    public var bridgeChain: String
    /// In the order they are offered in errors.
    public var networks: [Network]
    /// Litecoin's MWEB: blocks end with a HogEx and an MWEB block, and unconfirmed transactions
    /// may carry MWEB data (flag 0x08). Elsewhere that flag is refused, as Bitcoin Core does.
    public var mweb = false

    public func network(_ name: String) -> Network? { networks.first { $0.name == name } }

    public static let bitcoin = UTXOChainParameters(
        name: "bitcoin", asset: "BTC", decimals: 8, bridgeChain: "btc:mainnet",
        networks: [
            Network(format: .init(chain: "bitcoin", network: "mainnet", bech32HRP: "bc", p2pkhVersion: 0x00, p2shVersions: [0x05]), rpcPort: 8332, nodeChains: ["main"]),
            Network(format: .init(chain: "bitcoin", network: "testnet", bech32HRP: "tb", p2pkhVersion: 0x6f, p2shVersions: [0xc4]), rpcPort: 18332, nodeChains: ["test", "testnet4"]),
            Network(format: .init(chain: "bitcoin", network: "signet", bech32HRP: "tb", p2pkhVersion: 0x6f, p2shVersions: [0xc4]), rpcPort: 38332, nodeChains: ["signet"]),
            Network(format: .init(chain: "bitcoin", network: "regtest", bech32HRP: "bcrt", p2pkhVersion: 0x6f, p2shVersions: [0xc4]), rpcPort: 18443, nodeChains: ["regtest"]),
        ])

    /// Litecoin Core 0.21 (`chainparams.cpp`): `L`/`M` (and the legacy `3`) and `ltc1` on
    /// mainnet; testnet and regtest share `m`/`n` and `Q` (and `2`), with `tltc1` and `rltc1`.
    public static let litecoin = UTXOChainParameters(
        name: "litecoin", asset: "LTC", decimals: 8, bridgeChain: "ltc:mainnet",
        networks: [
            Network(format: .init(chain: "litecoin", network: "mainnet", bech32HRP: "ltc", p2pkhVersion: 48, p2shVersions: [50, 5]), rpcPort: 9332, nodeChains: ["main"]),
            Network(format: .init(chain: "litecoin", network: "testnet", bech32HRP: "tltc", p2pkhVersion: 111, p2shVersions: [58, 196]), rpcPort: 19332, nodeChains: ["test", "testnet4"]),
            Network(format: .init(chain: "litecoin", network: "regtest", bech32HRP: "rltc", p2pkhVersion: 111, p2shVersions: [58, 196]), rpcPort: 19443, nodeChains: ["regtest"]),
        ], mweb: true)

    /// The parameter sets `chain` may name.
    public static let builtIn = [bitcoin, litecoin]

    /// The built-in parameter set called `name`.
    public static func named(_ name: String) -> UTXOChainParameters? { builtIn.first { $0.name == name } }

    /// Every built-in network's format: what an address of another chain or network is named by.
    public static let knownFormats = builtIn.flatMap { $0.networks.map(\.format) }
}
