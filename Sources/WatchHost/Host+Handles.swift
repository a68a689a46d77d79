import Foundation
import PostgresStore
import WatchCore

/// The live watch sets: config handles registered at start, then everything the store says
/// each chain watches (bridge-given, added over HTTP, retired but still in their window).
extension UnripHost {
    /// How long a retired handle stays watched: `[bridge] retired_handle_watch_s`, 30 days without a bridge.
    var retiredHandleWatch: TimeInterval { config.reconciler?.retiredHandleWatch ?? 2_592_000 }

    /// Every enabled chain, with the adapter's address check and the assets it watches (its
    /// section's, and the one `[bridge] handle_assets` gives its deposit addresses).
    func handleChains(tips: [ChainName: @Sendable () async -> Int?] = [:]) -> [HandleChain] {
        config.adapters.map { adapter in
            let assets = Set(adapter.assets).union([config.reconciler?.handleAssets[adapter.kind]].compactMap { $0 })
            var chain = HandleChain(
                chain: adapter.kind, network: adapter.network, assets: assets.sorted(), canonicalAddress: adapter.canonicalAddress,
                addressKey: adapter.addressKey)
            if let tip = tips[adapter.kind] { chain.tip = tip }
            return chain
        }
    }

    func handleBook(repository: FundingRepository) async throws -> HandleBook {
        var initial: [ChainName: [FundingHandle]] = [:]
        for adapter in config.adapters {
            try await repository.syncHandles(chain: adapter.kind, adapter.handles)
            initial[adapter.kind] = try await repository.watchedHandles(chain: adapter.kind, retiredWatch: retiredHandleWatch, now: clock.now())
        }
        return HandleBook(initial)
    }

    /// Reloads every chain's watch set from the store; an adapter whose set changed is rebuilt.
    func handleReloader(book: HandleBook, repository: FundingRepository) -> @Sendable () async -> Void {
        let kinds = config.adapters.map(\.kind), watch = retiredHandleWatch, clock = self.clock, logger = self.logger
        return {
            for kind in kinds {
                do {
                    let handles = try await repository.watchedHandles(chain: kind, retiredWatch: watch, now: clock.now())
                    if book.replace(kind, with: handles) {
                        logger.info("watch set changed", metadata: ["chain": "\(kind)", "handles": "\(handles.count)"])
                    }
                } catch {
                    logger.warning("could not reload the watch set; the current one stays", metadata: ["chain": "\(kind)", "error": "\(error)"])
                }
            }
        }
    }
}
