/// What the adapter asks bitcoind. The RPC/REST implementation talks to a real node (or the
/// double); tests may substitute their own.
public protocol BitcoinNodeClient: Sendable {
    /// `getblockchaininfo`: chain name (`main`, `test`, `testnet4`, `signet`, `regtest`), height, best hash, IBD.
    func chainInfo() async throws -> BitcoinChainInfo
    /// `getblockhash h`; nil when the height is above the tip (-8).
    func blockHash(height: Int) async throws -> String?
    /// The raw block: REST `/rest/block/<hash>.bin` when enabled, else `getblock <hash> 0`.
    func rawBlock(hash: String) async throws -> [UInt8]
    /// `getrawmempool false true`: txids and the next mempool sequence.
    func mempool() async throws -> (txids: [String], sequence: UInt64)
    /// `getrawtransaction txid 0`; nil when the node no longer has it (-5).
    func rawTransaction(txid: String) async throws -> [UInt8]?
}

public struct BitcoinChainInfo: Sendable, Equatable {
    public var chain: String
    public var blocks: Int
    public var bestBlockHash: String
    public var initialBlockDownload: Bool

    public init(chain: String, blocks: Int, bestBlockHash: String, initialBlockDownload: Bool) {
        self.chain = chain
        self.blocks = blocks
        self.bestBlockHash = bestBlockHash
        self.initialBlockDownload = initialBlockDownload
    }
}

/// The node is on another network than the config says: refused at start.
public struct BitcoinNetworkMismatch: Error, CustomStringConvertible {
    public let configured: String
    /// `[bitcoin]`, `[utxo.litecoin]`.
    public let section: String
    public let nodeChain: String
    public var description: String {
        "the node reports chain '\(nodeChain)' but \(section) network = \"\(configured)\": point rpc_url at a \(configured) node or fix the network"
    }
}
