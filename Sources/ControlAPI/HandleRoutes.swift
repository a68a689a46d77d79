import Foundation
import Hummingbird
import PostgresStore
import WatchCore

public struct HandleRoutes: ControlRoutes {
    let repository: FundingRepository
    /// The enabled chains handles may be added to, with each adapter's address check.
    let handleChains: [HandleChain]
    /// Decides the times recorded (a handle added or retired).
    let clock: any WatchClock
    /// How long a retired handle stays watched (`[bridge] retired_handle_watch_s`): a handle
    /// added over HTTP may not take an address still watched under another asset.
    let retiredHandleWatch: TimeInterval
    /// Reloads the adapters' watch sets after a handle was added or retired.
    let onHandlesChanged: @Sendable () async -> Void
    /// The intents accounts the reconciler polls (`[bridge] accounts`): a handle's `account` must
    /// be one of them. Nil without the bridge.
    let accounts: [String]?
    /// The chain Omni's deposit addresses are watched on (`[bridge.omni] chain`); nil without Omni.
    let omniChain: String?

    public init(
        repository: FundingRepository, chains: [HandleChain], clock: any WatchClock, retiredHandleWatch: TimeInterval,
        accounts: [String]?, omniChain: String? = nil, onHandlesChanged: @escaping @Sendable () async -> Void
    ) {
        self.accounts = accounts
        self.omniChain = omniChain
        self.repository = repository
        self.handleChains = chains
        self.clock = clock
        self.retiredHandleWatch = retiredHandleWatch
        self.onHandlesChanged = onHandlesChanged
    }

    /// `POST /funding/handles` `{"chain","asset","address","label"?,"rescan_from"?}` adds a handle
    /// (`source = api`) and the chain's adapter starts watching it; `POST /funding/handles/<id>/retire`
    /// retires one (still watched for `[bridge] retired_handle_watch_s`). Bearer token, like every POST.
    public func routes() -> RouteCollection<BasicRequestContext> {
        let router = RouteCollection(context: BasicRequestContext.self)
        router.post("/funding/handles") { request, _ -> Response in
            let body = try await collectBody(request, limit: 16 * 1024)
            let (handle, chain) = try self.handle(from: body)
            if let from = handle.rescanFrom, let tip = await chain.tip(), from > tip {
                throw HTTPError(.badRequest, message: "field rescan_from: \(from) is above \(chain.chain)'s tip (\(tip)); give a height at or below it, or leave it out to watch from now")
            }
            let outcome = try await self.repository.addHandle(
                handle.value, rescanFrom: handle.rescanFrom, at: self.clock.now(), retiredWatch: self.retiredHandleWatch,
                addressKey: chain.addressKey)
            let id: Int, created: Bool
            switch outcome {
            case .added(let added): (id, created) = (added, true)
            case .reactivated(let again): (id, created) = (again, false)
            case .conflict(let existing, let watched, let active):
                throw HTTPError(.conflict, message: Self.conflictMessage(id: existing, handle: watched, active: active, asked: handle.value))
            }
            await self.onHandlesChanged()
            var fields = handle.value.json.objectValue ?? [:]
            fields["id"] = .int(Int64(id))
            fields["created"] = .bool(created)
            fields["active"] = true
            fields["rescan_from"] = .optional(handle.rescanFrom)
            return JSONResponse.ok(.object(fields), status: created ? .created : .ok)
        }
        router.post("/funding/handles/:id/retire") { _, context -> Response in
            let text = context.parameters.get("id") ?? ""
            guard let id = RequestNumber.id(text) else {
                throw HTTPError(.badRequest, message: "handle id must be a positive integer, got \(quoted(text))")
            }
            guard let outcome = try await self.repository.retireHandle(id: id, reason: "retired over HTTP", at: self.clock.now()) else {
                throw HTTPError(.notFound, message: "no handle with id \(id) (GET /funding/handles lists them)")
            }
            if outcome.retired { await self.onHandlesChanged() }
            return JSONResponse.ok(["id": .int(Int64(id)), "chain": .string(outcome.chain), "active": false, "retired": .bool(outcome.retired)])
        }
        return router
    }

    /// The 409 of an address the chain already watches: what it is watched as, and the way out.
    static func conflictMessage(id: Int, handle: FundingHandle, active: Bool, asked: FundingHandle) -> String {
        let how = "\(handle.address) on \(handle.chain) is already watched as asset \(quoted(handle.asset)) (handle \(id), source \(handle.source)"
            + (active ? ")" : ", retired but still in its watch window)")
        if handle.asset != asked.asset {
            return how + "; one address is watched under one asset per chain: a deposit is booked under the handle's asset, so a second one would take the first one's deposits"
        }
        return how + (active ? "; nothing to add" : "; it is watched until its window ends")
    }

    /// The body of `POST /funding/handles`, checked field by field; a 400 names the field.
    func handle(from body: ByteBuffer) throws -> ((value: FundingHandle, rescanFrom: Int?), HandleChain) {
        guard let fields = (try? JSONValue.parse(Array(buffer: body)))?.objectValue else {
            throw HTTPError(.badRequest, message: "expected a JSON object {\"chain\", \"asset\", \"address\", \"label\"?, \"rescan_from\"?, \"account\"?, \"bridge\"?, \"deposit_msg\"?}")
        }
        let known: Set<String> = ["chain", "asset", "address", "label", "rescan_from", "account", "bridge", "deposit_msg"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw HTTPError(.badRequest, message: "unknown field \(quoted(unknown)); use chain, asset, address, label, rescan_from, account, bridge, deposit_msg")
        }
        func text(_ key: String, required: Bool) throws -> String? {
            guard let value = fields[key], value != .null else {
                if required { throw HTTPError(.badRequest, message: "field \(key) is required") }
                return nil
            }
            guard let s = value.stringValue, !s.isEmpty, s.utf8.count <= 256, !s.utf8.contains(0) else {
                throw HTTPError(.badRequest, message: "field \(key) must be a non-empty string of at most 256 bytes")
            }
            return s
        }
        let chainName = try text("chain", required: true) ?? ""
        guard let chain = handleChains.first(where: { $0.chain == chainName }) else {
            let enabled = handleChains.map(\.chain).joined(separator: ", ")
            throw HTTPError(.badRequest, message: "field chain: \(quoted(chainName)) is not an enabled chain; enabled: \(enabled.isEmpty ? "(none)" : enabled)")
        }
        let asset = try text("asset", required: true) ?? ""
        if let assets = chain.assets, !assets.contains(asset) {
            throw HTTPError(.badRequest, message: "field asset: \(quoted(asset)) is not an asset the \(chain.chain) plugin watches; use one of \(assets) (exact case)")
        }
        let written = try text("address", required: true) ?? ""
        let address: String
        do {
            address = try chain.canonicalAddress(written)
        } catch {
            throw HTTPError(.badRequest, message: "field address: \(quoted(written)) is not a \(chain.chain) \(chain.network) address: \(error)")
        }
        let label = try text("label", required: false) ?? ""
        let account = try text("account", required: false)
        if let account, !HandleAccount.isValid(account) {
            throw HTTPError(.badRequest, message: "field account: \(quoted(account)) is not a NEAR account id (lower case, e.g. mm.near): the intents account credited for this handle's deposits")
        }
        if let account, let accounts, !accounts.contains(account) {
            throw HTTPError(.badRequest, message: "field account: \(quoted(account)) is not one of the accounts the reconciler polls ([bridge] accounts: \(accounts.joined(separator: ", ")))")
        }
        var rescanFrom: Int?
        if let value = fields["rescan_from"], value != .null {
            guard let n = value.int64Value, n >= 0, n <= 1_000_000_000 else {
                throw HTTPError(.badRequest, message: "field rescan_from must be a block height (an integer from 0)")
            }
            rescanFrom = Int(n)
        }
        let (bridge, message) = try bridgeFields(text("bridge", required: false), text("deposit_msg", required: false), chain: chain.chain, account: account)
        let handle = FundingHandle(
            chain: chain.chain, network: chain.network, asset: asset, address: address, label: label, source: "api", account: account,
            bridge: bridge, depositMessage: message)
        return ((handle, rescanFrom), chain)
    }

    /// `bridge` (`poa`, the default, or `omni`) and an Omni handle's `deposit_msg`, checked.
    func bridgeFields(_ bridge: String?, _ message: String?, chain: String, account: String?) throws -> (String?, String?) {
        guard let bridge, bridge != CreditBridge.poa else {
            if message != nil { throw HTTPError(.badRequest, message: "field deposit_msg: only an Omni handle carries one; add \"bridge\": \"omni\"") }
            return (nil, nil)
        }
        guard bridge == CreditBridge.omni else {
            throw HTTPError(.badRequest, message: "field bridge: \(quoted(bridge)) is not a bridge; use one of \(CreditBridge.all.joined(separator: ", "))")
        }
        guard let omniChain else { throw HTTPError(.badRequest, message: "field bridge: omni is not configured here (no [bridge.omni] section)") }
        guard omniChain == chain else { throw HTTPError(.badRequest, message: "field bridge: Omni's deposit addresses are watched on \(omniChain), not \(chain)") }
        guard let account else {
            throw HTTPError(.badRequest, message: "field account: an Omni handle needs the intents account its DepositMsg credits")
        }
        if let message, let why = CreditBridge.messageProblem(message, account: account) {
            throw HTTPError(.badRequest, message: "field deposit_msg: \(why)")
        }
        return (bridge, message)
    }
}
