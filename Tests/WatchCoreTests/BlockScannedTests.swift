import Foundation
import Testing
import WatchCore

/// `ChainReport.blockScanned`: range-scanning adapters (EVM eth_getLogs) jump the tip over
/// heights that held nothing; depth stays exact by height.
@Suite struct BlockScannedTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    func block(_ h: Int, _ tag: String = "a", parent: String? = nil) -> BlockRef {
        BlockRef(height: h, hash: String(repeating: tag, count: 2) + String(h), parentHash: parent)
    }

    func pay(_ tx: String) -> TransferSighting {
        TransferSighting(txHash: tx, outputIndex: 0, address: "0xabc", asset: "EURe", amount: Amount(5))
    }

    @Test func jumpsAheadWhereBlockConnectedWouldReportAGap() throws {
        var t = ChainTracker(chain: "gnosis", network: "mainnet", policy: ChainPolicy(confirmations: 3))
        _ = try t.apply(.blockConnected(block(100), transfers: []), at: now)
        #expect(throws: TrackerError.self) { _ = try t.apply(.blockConnected(block(200), transfers: []), at: now) }
        let seen = try t.apply(.blockScanned(block(200), transfers: [pay("t1")]), at: now)
        #expect(seen.map(\.kind) == [.included] && seen[0].confirmations == 1)
        #expect(t.tip == block(200) && t.hash(at: 100) == nil)
        // A later jump leaves the unconfirmed transfer followed until its depth reaches the policy.
        let deeper = try t.apply(.blockScanned(block(201), transfers: []), at: now)
        #expect(deeper.map(\.confirmations) == [2])
        let confirmed = try t.apply(.blockScanned(block(5000), transfers: []), at: now)
        #expect(confirmed.map(\.kind) == [.confirmed] && confirmed[0].confirmations == 4801)
        #expect(t.transfers.isEmpty)
        // Contiguous blocks still get their parent checked.
        #expect(throws: TrackerError.self) {
            _ = try t.apply(.blockScanned(block(5001, parent: "nope"), transfers: []), at: now)
        }
        _ = try t.apply(.blockScanned(block(5001, parent: block(5000).hash), transfers: []), at: now)
        // Duplicates are ignored, as for blockConnected.
        #expect(try t.apply(.blockScanned(block(5001, parent: block(5000).hash), transfers: []), at: now).isEmpty)
    }

    @Test func unconfirmedTransferSurvivesAJumpThenAReorgOfItsBlock() throws {
        var t = ChainTracker(chain: "gnosis", network: "mainnet", policy: ChainPolicy(confirmations: 3, reorgGraceBlocks: 2))
        _ = try t.apply(.blockScanned(block(10), transfers: []), at: now)
        _ = try t.apply(.blockScanned(block(20), transfers: [pay("t1")]), at: now)
        _ = try t.apply(.blockScanned(block(21, parent: block(20).hash), transfers: []), at: now)
        let out = try t.apply(.blockDisconnected(block(20)), at: now)
        #expect(out.map(\.kind) == [.reorgedOut] && out[0].target == .seenUnconfirmed)
    }
}
