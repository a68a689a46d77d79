import Foundation
import Logging
import Metrics
import PostgresStore
import WatchCore

/// POA's periodic reads besides `recent_deposits`: deposit addresses (the handles),
/// `supported_tokens` (the minimums), and `notify_deposit`.
extension POACreditSource {
    /// Asks `deposit_address` for every (account, enabled chain) when due; a new address becomes
    /// a handle, a changed one rotates it. The adapters' watch sets are reloaded after each
    /// refresh (retired handles also age out of them). A failed refresh is retried next round.
    func refreshHandlesIfDue() async {
        guard configuration.handlesFromBridge, !handleChains.isEmpty else { return }
        let now = clock.now()
        if let last = bookkeeping.withLock({ $0.handlesRefreshedAt }), now.timeIntervalSince(last) < configuration.depositAddressRefresh { return }
        var allOK = true
        for account in configuration.accounts {
            for target in handleChains {
                guard let bridgeChain = configuration.chains[target.chain], let asset = configuration.handleAssets[target.chain] else { continue }
                if await !refreshHandle(account: account, target, bridgeChain: bridgeChain, asset: asset, now: now) { allOK = false }
            }
        }
        if allOK { bookkeeping.withLock { $0.handlesRefreshedAt = now } }
        await onHandlesChanged()
    }

    /// One (account, chain): true when the bridge answered with a usable address and it is stored.
    func refreshHandle(account: String, _ target: HandleChain, bridgeChain: String, asset: String, now: Date) async -> Bool {
        let key = "\(account)|\(target.chain)"
        do {
            let given = try await client.depositAddress(account: account, chain: bridgeChain)
            let address: String
            do {
                address = try target.canonicalAddress(given)
            } catch {
                throw HandleRefusal(description: "deposit_address gave \(Excerpt.of(given, limit: 130)), not a \(target.chain) \(target.network) address: \(error)")
            }
            let handle = FundingHandle(chain: target.chain, network: target.network, asset: asset, address: address, label: "bridge:\(account)", source: "bridge")
            let change = try await handles.recordBridgeAddress(handle, account: account, at: now, alertFor: configuration.depositAddressChangedResolve)
            stats.withLock {
                $0.handleStatus[key, default: HandleStatus()].address = address
                $0.handleStatus[key]?.lastRefreshAt = now
                $0.handleStatus[key]?.lastError = nil
                if case .rotated = change { $0.handleStatus[key]?.rotations += 1 }
            }
            switch change {
            case .unchanged: break
            case .added:
                logger.info("deposit address from the bridge is now watched", metadata: ["account": "\(account)", "chain": "\(target.chain)", "address": "\(address)"])
            case .rotated(let old):
                Counter(label: "unrip_deposit_address_rotations_total", dimensions: [("chain", target.chain)]).increment()
                logger.warning(
                    "the bridge rotated a deposit address: the new one is watched, the old one stays watched while retired",
                    metadata: ["account": "\(account)", "chain": "\(target.chain)", "old": "\(old)", "new": "\(address)"])
            }
            return true
        } catch {
            let text = Excerpt.of("deposit_address \(account) \(bridgeChain): \(error)")
            recordError(text)
            stats.withLock { $0.handleStatus[key, default: HandleStatus()].lastError = text }
            Counter(label: "unrip_bridge_errors_total").increment()
            logger.warning("deposit address refresh failed; retried next round", metadata: ["account": "\(account)", "chain": "\(target.chain)", "error": "\(text)"])
            return false
        }
    }

    struct HandleRefusal: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads `supported_tokens` when due: each token's `min_deposit_amount`.
    func refreshMinimumsIfDue() async {
        let now = clock.now()
        if let last = bookkeeping.withLock({ $0.tokensRefreshedAt }), now.timeIntervalSince(last) < configuration.supportedTokensRefresh { return }
        do {
            let tokens = try await client.supportedTokens(chains: Array(Set(configuration.chains.values)).sorted())
            let minimums = Dictionary(tokens.compactMap { t in t.minDepositAmount.map { (t.tokenID, $0) } }, uniquingKeysWith: { first, _ in first })
            bookkeeping.withLock {
                $0.minimums = minimums
                $0.tokensRefreshedAt = now
            }
            stats.withLock { $0.tokensError = nil }
        } catch {
            let text = Excerpt.of("supported_tokens: \(error)")
            stats.withLock { $0.tokensError = text }  // counted apart: a bridge without minimums still credits
            logger.warning("supported_tokens failed; minimums unchanged, retried next round", metadata: ["error": "\(text)"])
        }
    }

    /// Tells the bridge of each transfer to a bridge-given handle once (`[bridge] notify_deposit`),
    /// retrying a failed one with backoff. Nothing waits for it.
    func notifyDepositsIfEnabled() async {
        guard configuration.notifyDeposit else { return }
        let now = clock.now()
        let due: [CreditRepository.Unnotified]
        do {
            due = try await credits.unnotified(chains: Array(configuration.chains.keys))
        } catch {
            logger.warning("could not read transfers to notify", metadata: ["error": "\(error)"])
            return
        }
        for u in due {
            guard let bridgeChain = configuration.chains[u.chain] else { continue }
            let key = "\(u.chain)|\(u.txHash)|\(u.address)"
            if let backoff = bookkeeping.withLock({ $0.notifyBackoff[key] }), backoff.next > now { continue }
            do {
                try await client.notifyDeposit(chain: bridgeChain, depositAddress: u.address, txHash: u.txHash, account: nil)
                try await credits.markNotified(u.observationIDs, at: now)
                bookkeeping.withLock { _ = $0.notifyBackoff.removeValue(forKey: key) }
                stats.withLock { $0.notified += 1 }
            } catch {
                let failures = (bookkeeping.withLock { $0.notifyBackoff[key]?.failures } ?? 0) + 1
                let delay = min(3_600, 30 * pow(2, Double(min(failures - 1, 7))))
                bookkeeping.withLock { $0.notifyBackoff[key] = (failures, now.addingTimeInterval(delay)) }
                stats.withLock {
                    $0.notifyErrors += 1
                    $0.lastNotifyError = Excerpt.of("notify_deposit \(u.txHash): \(error)")
                }
                logger.warning("notify_deposit failed; retried with backoff", metadata: ["tx": "\(u.txHash)", "retry_in_s": "\(Int(delay))", "error": "\(error)"])
            }
        }
    }

    func depositAddressesState(_ s: Stats) -> JSONValue {
        .array(s.handleStatus.keys.sorted().map { key in
            let h = s.handleStatus[key] ?? HandleStatus()
            let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
            return [
                "account_id": .string(parts.first ?? ""), "chain": .string(parts.count > 1 ? parts[1] : ""),
                "address": .optional(h.address), "last_refresh_at": .optional(h.lastRefreshAt.map(Timestamp.string)),
                "last_error": .optional(h.lastError), "rotations": .int(Int64(h.rotations)),
            ]
        })
    }

    func tokensState(_ s: Stats) -> JSONValue {
        let minimums = bookkeeping.withLock { $0.minimums }
        var out: [String: JSONValue] = [:]
        for (asset, token) in configuration.tokens {
            out[asset] = ["token_id": .string(token), "min_deposit_amount": .optional(minimums[token]?.description)]
        }
        var byChain: [String: JSONValue] = [:]
        for (chain, table) in configuration.tokensByChain {
            byChain[chain] = .object(table.mapValues { token in ["token_id": .string(token), "min_deposit_amount": .optional(minimums[token]?.description)] })
        }
        return ["by_asset": .object(out), "by_chain": .object(byChain), "last_error": .optional(s.tokensError)]
    }
}
