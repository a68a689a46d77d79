import ArgumentParser
import BitcoinPlugin
import Foundation

struct BitcoinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bitcoin", abstract: "Bitcoin operator tools.", subcommands: [ScanBlock.self])

    struct ScanBlock: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scan-block",
            abstract: "Print one JSON line {txid, vout, value_sats, address} per output paying a watched address.")

        @Option(help: "mainnet, testnet, signet or regtest (litecoin: mainnet, testnet or regtest).")
        var network: String = "mainnet"

        @Option(help: "The chain's parameter set: bitcoin or litecoin (its address formats; MWEB blocks parse either way).")
        var chain: String = "bitcoin"

        @Option(name: .customLong("watch"), help: "An address to watch (repeatable).")
        var watch: [String] = []

        @Argument(help: "A raw block file (binary, or hex as `bitcoin-cli getblock <hash> 0` prints).")
        var file: String

        func run() throws {
            do {
                for line in try ScanBlockTool.run(chain: chain, network: network, watch: watch, file: file) { print(line) }
            } catch {
                FileHandle.standardError.write(Data("scan-block: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
