import ArgumentParser
import Foundation
import EVMPlugin

/// `unrip-watch gnosis …`: operator tools for the Gnosis adapter.
struct GnosisCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gnosis", abstract: "Gnosis operator tools.", subcommands: [GnosisScanCommand.self])
}

/// What `gnosis scan` and `evm scan` share.
struct TransferScanOptions: ParsableArguments {
    @Option(help: "JSON-RPC URL of a node or provider.")
    var rpc: String

    @Option(help: "Token contract. Repeat for several.")
    var token: [String] = []

    @Option(help: "Recipient address to match (EIP-55 checked when mixed case). Repeat for several.")
    var watch: [String] = []

    @Option(help: "First block (inclusive).")
    var from: Int

    @Option(help: "Last block (inclusive).")
    var to: Int

    @Option(help: "Starting eth_getLogs window, in blocks; adapts to the provider's limits.")
    var maxBlockRange: Int = 2000

    @Option(help: "eth_getLogs requests in flight at once.")
    var concurrency: Int = 4

    @Option(help: "Per-request timeout, in milliseconds.")
    var timeoutMs: Int = 15_000

    static let discussion = """
        Each line: {"tx_hash","log_index","block_number","block_hash","from","to","value"} with value a decimal
        string of base units. Uses the adapter's range-adapting, retrying eth_getLogs client. Secrets in the
        RPC URL are redacted from every message.
        """

    func scan(tokens: [String], chainId: Int?, name: String) async throws {
        var scan = EVMTransferScan(
            rpcURL: rpc, tokens: tokens, watch: watch, from: from, to: to,
            maxBlockRange: max(1, maxBlockRange), concurrency: min(max(1, concurrency), 32), timeout: .milliseconds(max(50, timeoutMs)))
        scan.chainId = chainId
        do {
            let summary = try await scan.run { line in print(line) }
            FileHandle.standardError.write(Data("scanned blocks \(from)...\(to): \(summary.transfers) transfer(s), \(summary.requests) request(s)\n".utf8))
        } catch {
            FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

struct GnosisScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Print every ERC-20 Transfer of a token to the watched addresses between two blocks, one JSON object per line.",
        discussion: TransferScanOptions.discussion + "\nWith no --token: EURe v2 \(EVM.eureV2).")

    @OptionGroup var options: TransferScanOptions

    func run() async throws {
        try await options.scan(tokens: options.token.isEmpty ? [EVM.eureV2] : options.token, chainId: nil, name: "gnosis scan")
    }
}
