import Foundation
import Logging
import PostgresStore
import Reconciler
import Testing
import WatchCore
import WatchTesting

/// The Omni scenarios' world: a real PostgreSQL, the POA and Omni API doubles, a scripted
/// bitcoin chain fed through the real pipeline, and the reconciler with `[bridge.omni]`, on a
/// test clock. Account `a.near`'s Omni address is made through the API at the first round.
struct OmniWorld {
    static let nbtc = "nep141:nbtc.bridge.near"
    static let poaToken = "nep141:btc.omft.near"
    static let poaAddress = "bcrt1qpoahandle"

    let db: TestDatabase
    let poa: POABridgeDouble
    let omni: OmniAPIDouble
    let clock: TestClock
    let repository: FundingRepository
    let pipeline: ChainPipeline
    var service: ReconcilerService
    var chain = ScriptedChain(asset: "BTC")
    let omniSettings: [String: ConfigValue]
    /// NEAR RPC (the connector's `get_config`), when the scenario reads it.
    let near: NEARRPCDouble?

    static func start(_ omniSettings: [String: ConfigValue] = [:], near: NEARRPCDouble? = nil) async throws -> OmniWorld {
        let db = try await TestDatabase.create()
        let poa = try await POABridgeDouble.start()
        let omni = try await OmniAPIDouble.start(addressFor: { "bcrt1qomni" + $0.prefix(16) })
        let clock = TestClock()
        let repository = FundingRepository(pool: db.pool)
        try await repository.syncHandles(chain: "bitcoin", [
            FundingHandle(chain: "bitcoin", network: "regtest", asset: "BTC", address: poaAddress, account: "a.near")
        ])
        let pipeline = try await ChainPipeline.restore(
            adapter: "bitcoin", chain: "bitcoin", network: "regtest", policy: ChainPolicy(confirmations: 2), store: repository, clock: clock)
        let service = try makeService(db: db, poa: poa, omni: omni, clock: clock, omniSettings, near: near)
        let world = OmniWorld(
            db: db, poa: poa, omni: omni, clock: clock, repository: repository, pipeline: pipeline, service: service, omniSettings: omniSettings, near: near)
        try await world.pipeline.submit([world.chain.genesisReport])
        return world
    }

    /// A reconciler as a fresh process would build it (nothing carried over but the database).
    static func makeService(
        db: TestDatabase, poa: POABridgeDouble, omni: OmniAPIDouble, clock: TestClock, _ omniSettings: [String: ConfigValue], near: NEARRPCDouble? = nil
    ) throws -> ReconcilerService {
        let problems = ConfigProblems()
        var omniTable: [String: ConfigValue] = ["api_url": .string(omni.url), "accounts": .array([.string("a.near")]), "poll_interval_ms": 1_000]
        omniTable.merge(omniSettings) { _, new in new }
        var bridge: [String: ConfigValue] = [
            "rpc_url": .string(poa.url), "accounts": .array([.string("a.near")]), "chains": .table(["bitcoin": "btc:mainnet"]),
            "tokens": .table(["BTC": .string(poaToken)]), "omni": .table(omniTable), "notify_deposit": true,
        ]
        if let near { bridge["near_rpc_url"] = .string(near.url) }
        let section = ConfigSection(path: "bridge", table: bridge, problems: problems)
        let configuration = ReconcilerConfiguration(section: section)
        try #require(problems.all.isEmpty, "\(problems.all)")
        return ReconcilerService(
            configuration: configuration, credits: CreditRepository(pool: db.pool), logger: Logger(label: "omni"), clock: clock,
            handleChains: [HandleChain(chain: "bitcoin", network: "regtest", assets: ["BTC"], canonicalAddress: { $0 })])
    }

    /// One reconciler round, a second after the last (Omni is read once per `poll_interval_ms`).
    func round() async {
        clock.advance(by: 1)
        await service.reconcileOnce()
    }

    func stop() {
        poa.stop()
        omni.stop()
        near?.stop()
    }

    /// The Omni deposit address of `a.near`, as the reconciler stored it.
    func omniAddress() async throws -> String {
        let handles = try await repository.omniHandles(chain: "bitcoin")
        return try #require(handles.first { $0.account == "a.near" }?.address)
    }

    /// Pays `outputs` (address, sats) in one transaction `tx` and mines it `depth` deep.
    mutating func pay(_ tx: String, _ outputs: [(String, UInt64)], depth: Int = 2) async throws {
        let sightings = outputs.enumerated().map { chain.transfer(tx, $0.offset, to: $0.element.0, amount: $0.element.1) }
        for s in sightings { try await pipeline.submit([.mempoolEntered(s)]) }
        try await pipeline.submit([chain.mine(sightings)])
        try await mine(depth - 1)
    }

    mutating func mine(_ blocks: Int) async throws {
        for _ in 0..<max(0, blocks) { try await pipeline.submit([chain.mine()]) }
    }

    func observation(_ tx: String, _ vout: Int = 0) async throws -> ObservationRecord? {
        try await repository.observation(TransferKey(chain: "bitcoin", txHash: tx, outputIndex: vout))
    }

    /// A verifier snapshot of `a.near` at `hours` from now (rises are read between snapshots).
    func snapshot(_ id: String, hours: Int, _ balances: [String: Int]) async throws {
        let json = JSONValue.object(balances.mapValues { .string(String($0)) }).serialized()
        try await db.pool.withConnection { conn in
            _ = try conn.query(
                "INSERT INTO credit_snapshots (snapshot_id, account_id, occurred_at, balances) VALUES ($1, 'a.near', now() + make_interval(hours => $2::int), $3::jsonb)",
                [id, String(hours), json])
        }
    }

    /// The reconciler's `/state` section of Omni.
    func omniState() async -> JSONValue? { await service.state()["bridges"]?["omni"] }

    /// The details of the observation's last timeline event.
    func lastDetails(_ tx: String, _ vout: Int = 0) async throws -> JSONValue? {
        let id = try #require(try await observation(tx, vout)?.id)
        return try await repository.events(observationId: id).last?.json["details"]
    }
}
