import Foundation
import Testing
import WatchCore
import EVMTesting
import WatchTesting

@testable import EVMPlugin
@testable import JSONRPCClient

@Suite struct GnosisScanTests {
    @Test func printsOneJSONObjectPerMatchingTransfer() async throws {
        var chain = EVMChainModel(tip: 10, limits: .init(maxBlockRange: 100, maxResults: 3, style: .infura))
        var wanted: [(String, Amount)] = []
        for i in 0..<12 {
            let amount = Amount(decimal: "\(i + 1)000000000000000000")!
            wanted.append((chain.transfer(token: EVM.eureV2, to: handleA.lowercased(), amount: amount), amount))
            _ = chain.transfer(token: EVM.eureV2, to: stranger.lowercased(), amount: Amount(1))
            _ = chain.transfer(token: otherToken, to: handleA.lowercased(), amount: Amount(1))
            chain.mine(1 + i * 13)
        }
        let node = EVMNodeDouble(chain: chain)
        let url = try await node.start()
        node.inject(.status(429, body: "Too Many Requests"), count: 3)
        var lines: [String] = []
        let scan = EVMTransferScan(
            rpcURL: url, tokens: [EVM.eureV2], watch: [handleA], from: 11, to: node.tip, maxBlockRange: 1000,
            retry: RetryPolicy(attempts: 6, baseDelay: .milliseconds(1), maxDelay: .milliseconds(10)))
        let summary = try await scan.run { lines.append($0) }
        #expect(summary.transfers == 12 && lines.count == 12)
        #expect(summary.splits > 0)
        for (line, (tx, amount)) in zip(lines, wanted) {
            let v = try JSONValue.parse(line)
            #expect(v["tx_hash"] == .string(tx))
            #expect(v["value"] == .string(amount.description))
            #expect(v["to"] == .string(handleA.lowercased()))
            #expect(v["log_index"]?.int64Value == 0)
            #expect(v["block_number"]?.int64Value ?? 0 > 10)
            #expect(v["block_hash"]?.stringValue?.count == 66)
            #expect(v["from"]?.stringValue?.count == 42)
            #expect(line.hasPrefix("{\"tx_hash\":"))
        }
        await node.stop()
    }

    @Test func badArgumentsAndUnusableRPCAreClearErrors() async throws {
        let node = EVMNodeDouble(chain: EVMChainModel(tip: 100))
        let url = try await node.start()
        func failure(_ scan: EVMTransferScan) async -> String? {
            do {
                _ = try await scan.run { _ in }
                return nil
            } catch { return error.description }
        }
        let fast = RetryPolicy(attempts: 2, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2))
        #expect(await failure(EVMTransferScan(rpcURL: url, tokens: [EVM.eureV2], watch: ["0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"], from: 1, to: 2))?.contains("EIP-55") == true)
        #expect(await failure(EVMTransferScan(rpcURL: url, tokens: [EVM.eureV2], watch: [], from: 1, to: 2))?.contains("--watch") == true)
        #expect(await failure(EVMTransferScan(rpcURL: url, tokens: [EVM.eureV2], watch: [handleA], from: 5, to: 2))?.contains("--from") == true)
        #expect(await failure(EVMTransferScan(rpcURL: url, tokens: [EVM.eureV2], watch: [handleA], from: 1, to: 500))?.contains("beyond the chain head 100") == true)
        #expect(await failure(EVMTransferScan(rpcURL: "rpc.example", tokens: [EVM.eureV2], watch: [handleA], from: 1, to: 2))?.contains("--rpc") == true)
        await node.stop()
        let dead = await failure(EVMTransferScan(rpcURL: url + "/v3/9aa3d95b3bc440fa88ea12eaa4456161", tokens: [EVM.eureV2], watch: [handleA], from: 1, to: 2, retry: fast))
        #expect(dead?.contains("unusable") == true)
        #expect(dead?.contains("9aa3d95b3bc440fa88ea12eaa4456161") == false)
    }
}

/// `evm scan --chain-id`: any EVM chain, its id checked before anything is scanned.
@Suite struct EVMScanTests {
    static let usdc = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"

    @Test func scansAnyChainAfterCheckingItsChainId() async throws {
        var chain = EVMChainModel(chainId: 8453, tip: 50)
        let tx = chain.transfer(token: Self.usdc, to: handleA.lowercased(), amount: Amount(1_500_000))  // 1.5 USDC
        chain.mine(2)
        let node = EVMNodeDouble(chain: chain, defaultToken: Self.usdc)
        let url = try await node.start()
        var lines: [String] = []
        var scan = EVMTransferScan(rpcURL: url, tokens: [Self.usdc], watch: [handleA], from: 40, to: node.tip)
        scan.chainId = 8453
        let summary = try await scan.run { lines.append($0) }
        #expect(summary.transfers == 1)
        #expect(try JSONValue.parse(lines[0])["tx_hash"] == .string(tx))
        #expect(try JSONValue.parse(lines[0])["value"] == .string("1500000"))

        scan.chainId = 1
        do {
            _ = try await scan.run { _ in Issue.record("scanned the wrong chain") }
            Issue.record("a chain id mismatch was not refused")
        } catch {
            #expect(error.description.contains("serves chain 8453, not --chain-id 1"), "\(error)")
        }
        await node.stop()
    }
}
