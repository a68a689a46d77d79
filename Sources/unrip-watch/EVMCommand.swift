import ArgumentParser
import Foundation

/// `unrip-watch evm …`: operator tools for any EVM chain (`[evm.<name>]`).
struct EVMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evm", abstract: "Operator tools for any EVM chain.", subcommands: [EVMScanCommand.self])
}

struct EVMScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Print every ERC-20 Transfer of a token to the watched addresses between two blocks of any EVM chain, one JSON object per line.",
        discussion: TransferScanOptions.discussion + "\nThe node's eth_chainId must equal --chain-id.")

    @OptionGroup var options: TransferScanOptions

    @Option(help: "The chain's EIP-155 id (1 Ethereum, 8453 Base, 42161 Arbitrum, 100 Gnosis), checked against eth_chainId.")
    var chainId: Int

    func validate() throws {
        guard !options.token.isEmpty else { throw ValidationError("--token is required: the ERC-20 contract to scan (e.g. USDC on Base: 0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913)") }
        guard chainId > 0 else { throw ValidationError("--chain-id \(chainId): expected a positive EIP-155 chain id") }
    }

    func run() async throws {
        try await options.scan(tokens: options.token, chainId: chainId, name: "evm scan")
    }
}
