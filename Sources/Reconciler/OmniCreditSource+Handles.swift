import Foundation
import Logging
import Metrics
import PostgresStore
import WatchCore

/// Omni deposit addresses: made from each account's DepositMsg through the API, stored with the
/// message's exact bytes, and checked again at every start by sending the stored bytes back.
extension OmniCreditSource {
    /// At start, and every `address_check_s` once every address was made or reproduced: each
    /// stored Omni handle is asked for again with its stored message (a config or HTTP handle
    /// without one, with its account's intents message), and each account without a handle gets one.
    public func refreshHandles() async {
        guard let target else { return }
        let now = clock.now()
        if let last = stats.withLock({ $0.handlesCheckedAt }), now.timeIntervalSince(last) < configuration.addressCheck { return }
        var allOK = true
        do {
            let stored = try await handles.omniHandles(chain: target.chain)
            for h in stored where await !reproduce(h, target, now: now) { allOK = false }
            let covered = Set(stored.compactMap(\.account))
            for account in configuration.accounts where !covered.contains(account) {
                if await !make(account: account, target, now: now) { allOK = false }
            }
        } catch {
            allOK = false
            recordAddressError(key: "store", account: nil, "reading Omni handles: \(error)")
        }
        if allOK { stats.withLock { $0.handlesCheckedAt = now } }
        await onHandlesChanged()
    }

    /// The message a stored handle is asked for with: its stored bytes, else its account's.
    func message(of h: FundingRepository.OmniHandle) -> OmniDepositMessage? {
        if let stored = h.depositMessage { return OmniDepositMessage(bytes: Array(stored.utf8)) }
        return h.account.map { OmniDepositMessage.intents(account: $0, verifier: configuration.verifier, refundAddress: configuration.refundAddress) }
    }

    /// Asks Omni for a stored handle's address again: the same address is the proof the bytes
    /// are the ones it was derived from; another is an error, and the stored handle stays.
    func reproduce(_ h: FundingRepository.OmniHandle, _ target: HandleChain, now: Date) async -> Bool {
        let key = "\(h.id)"
        guard let message = message(of: h) else {
            recordAddressError(key: key, account: h.account, "handle \(h.address): its stored deposit_msg is not a DepositMsg this service can send again byte for byte")
            return true  // nothing to retry
        }
        if let account = h.account, message.intentsAccount != account {
            refuse(h, key: key, "handle \(h.address): its DepositMsg credits \(message.intentsAccount ?? "no intents account"), not its account \(account)")
            return true
        }
        do {
            let given = try target.canonicalAddress(try await client.depositAddress(message))
            guard given == h.address else {
                Counter(label: "unrip_omni_address_mismatches_total").increment()
                refuse(
                    h, key: key,
                    "handle \(h.address): Omni derives \(given) from its DepositMsg \(String(decoding: message.bytes, as: UTF8.self)); the handle stays watched, no verifier credit is given to it; check the message")
                logger.error("an Omni handle's DepositMsg does not give its address", metadata: ["handle": "\(h.address)", "omni": "\(given)"])
                return true
            }
            if h.depositMessage == nil { try await handles.setDepositMessage(handleID: h.id, String(decoding: message.bytes, as: UTF8.self), at: now) }
            stats.withLock { $0.addresses[key] = AddressStatus(account: h.account, address: h.address, reproduced: true) }
            return true
        } catch {
            recordAddressError(key: key, account: h.account, "get_user_deposit_address for handle \(h.address): \(error)")
            return false
        }
    }

    /// A stored handle whose message does not stand: an error, and no verifier credit for it.
    func refuse(_ h: FundingRepository.OmniHandle, key: String, _ text: String) {
        recordAddressError(key: key, account: h.account, text)
        stats.withLock { $0.addresses[key]?.address = h.address; $0.addresses[key]?.reproduced = false }
    }

    /// Makes the Omni handle of `account`: its intents DepositMsg, the address Omni derives from
    /// it (checked as an address of the chain), both stored.
    func make(account: String, _ target: HandleChain, now: Date) async -> Bool {
        let message = OmniDepositMessage.intents(account: account, verifier: configuration.verifier, refundAddress: configuration.refundAddress)
        do {
            let given = try await client.depositAddress(message)
            let address: String
            do {
                address = try target.canonicalAddress(given)
            } catch {
                throw OmniBridgeClient.Failure(description: "get_user_deposit_address gave \(Excerpt.of(given, limit: 130)), not a \(target.chain) \(target.network) address: \(error)")
            }
            let handle = FundingHandle(
                chain: target.chain, network: target.network, asset: configuration.asset, address: address, label: "omni:\(account)", source: "omni",
                account: account, bridge: CreditBridge.omni, depositMessage: String(decoding: message.bytes, as: UTF8.self))
            if try await handles.recordOmniHandle(handle, at: now) {
                logger.info("Omni deposit address is now watched", metadata: ["account": "\(account)", "address": "\(address)"])
            }
            stats.withLock { $0.addresses["account:\(account)"] = AddressStatus(account: account, address: address, reproduced: nil) }
            return true
        } catch {
            recordAddressError(key: "account:\(account)", account: account, "get_user_deposit_address \(account): \(error)")
            return false
        }
    }

    func recordAddressError(key: String, account: String?, _ text: String) {
        let shown = Excerpt.of(text, limit: 400)
        stats.withLock { s in
            s.errors += 1
            s.lastError = shown
            s.addresses[key, default: AddressStatus(account: account)].lastError = shown
        }
        Counter(label: "unrip_credit_source_errors_total", dimensions: [("bridge", bridge)]).increment()
        logger.warning("Omni deposit address", metadata: ["error": "\(shown)"])
    }

    public func state() -> JSONValue {
        let s = stats.withLock { $0 }
        return [
            "api_url": .string(client.redactedURL), "token": .string(configuration.token), "accounts": .array(configuration.accounts.map(JSONValue.string)),
            "chain": .string(configuration.chain), "rounds": .int(Int64(s.rounds)), "lookups": .int(Int64(s.lookups)),
            "not_indexed": .int(Int64(s.notIndexed)), "linked": .int(Int64(s.linked)), "errors": .int(Int64(s.errors)),
            "consecutive_errors": .int(Int64(s.consecutiveErrors)), "last_error": .optional(s.lastError),
            "last_poll_at": .optional(s.lastPollAt.map(Timestamp.string)), "healthy": .bool(s.consecutiveErrors < 3),
            "unknown_statuses": .object(s.unknownStatuses.mapValues { .int(Int64($0)) }),
            "min_deposit_sats": .optional(configuration.minDepositSats?.description), "connector_config": connectorState(s),
            "policy": ["no_record_s": .int(Int64(policy.noBridgeRecord)), "credit_budget_s": .int(Int64(policy.notCredited))],
            "awaiting_confirmations": .array(s.awaiting.keys.sorted().map { id in
                ["observation_id": .int(Int64(id)), "confirmations": .int(Int64(s.awaiting[id]?.confirmations ?? 0)), "required": .int(Int64(s.awaiting[id]?.required ?? 0))]
            }),
            "deposit_addresses": .array(s.addresses.keys.sorted().map { key in
                let a = s.addresses[key] ?? AddressStatus()
                return ["account_id": .optional(a.account), "address": .optional(a.address), "reproduced": a.reproduced.map(JSONValue.bool) ?? .null, "last_error": .optional(a.lastError)]
            }),
        ]
    }
}
