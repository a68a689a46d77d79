import BitcoinTesting
import Foundation
import Testing
import WatchCore

@testable import BitcoinPlugin

/// Every Litecoin network's addresses, as a real litecoind hands them out (offline nodes for
/// mainnet and testnet: nothing to sync to make a wallet), round-trip through the codec to the
/// scriptPubKey `getaddressinfo` reports; each is refused on the other networks, naming its own.
@Suite(.serialized) struct LitecoinAddressTests {
    @Test(arguments: [["main", "mainnet"], ["test", "testnet"], ["regtest", "regtest"]])
    func walletAddressesOfEachNetworkRoundTrip(_ names: [String]) async throws {
        let chain = (node: names[0], network: names[1])
        let node = try await LitecoindNode.start(chain: chain.node)
        let format = try #require(UTXOChainParameters.litecoin.network(chain.network)).format
        do {
            for type in ["legacy", "p2sh-segwit", "bech32"] {
                let address = try await node.newAddress(type)
                let info = try await node.call(wallet: "w", "getaddressinfo", [.string(address)])
                let script = try AddressCodec.scriptPubKey(for: address, format: format)
                #expect(Hex.encode(script) == info["scriptPubKey"]?.stringValue, "\(chain.network) \(type) \(address)")
                #expect(AddressCodec.address(forScript: script, format: format) == address, "\(chain.network) \(type)")
                for other in UTXOChainParameters.litecoin.networks where other.format.p2pkhVersion != format.p2pkhVersion || type == "bech32" {
                    guard other.name != chain.network else { continue }
                    #expect(throws: AddressError.self, "\(address) accepted on \(other.name)") {
                        try AddressCodec.scriptPubKey(for: address, format: other.format)
                    }
                }
            }
        } catch {
            await node.remove()
            throw error
        }
        await node.remove()
    }
}
