import BitcoinTesting
import EVMTesting
import Foundation
import JSONRPCClient
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// The third round of hostile input, each finding through the real binary: handles over HTTP
/// in every asset, duplicate and case form; a person's stuck mark across a restart; SIGHUP and
/// SIGUSR1; HTTP/1.0 and percent-encoded paths; a schema dropped under the host and one newer
/// than the binary; a second host on the database without `[ha]`; a password with a raw '/'.
@Suite(.serialized) struct HostileRoundThreeDrillTests {
    static let evmHandle = "0xabcdefabcdefabcdefabcdefabcdefabcdef0001"

    static func config(db: TestDatabase, double: BitcoindDouble, evm: String? = nil) -> String {
        KillDrillTests.config(db: db, double: double) + (evm.map { url in
            """

            [gnosis]
            enabled = true
            rpc_url = "\(url)"
            chain_id = 100
            poll_interval_ms = 100
            confirmations = 2
            handles = [{ address = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", asset = "EURe" }]
            """
        } ?? "")
    }

    static func started(_ config: String) async throws -> HostProcess {
        let host = try HostProcess(config: config, port: try freePort())
        try host.start()
        #expect(await waitUntil(.seconds(30)) { await Self.status(host.port, "/healthz") == 200 }, "\(host.log.suffix(1500))")
        return host
    }

    static func status(_ port: Int, _ path: String) async -> Int? {
        do {
            _ = try await JSONRPCClient(.init(url: "http://127.0.0.1:\(port)", timeout: .seconds(5))).get(path)
            return 200
        } catch {
            if case .http(let status, _) = error { return status }
            return nil
        }
    }

    static func body(_ port: Int, _ path: String) async -> String {
        do {
            return String(decoding: try await JSONRPCClient(.init(url: "http://127.0.0.1:\(port)", timeout: .seconds(5))).get(path), as: UTF8.self)
        } catch {
            if case .http(_, let body) = error { return body }
            return "\(error)"
        }
    }

    static func post(_ port: Int, _ path: String, _ body: String) async throws -> (status: Int, text: String) {
        let reply = try await BridgeHandlesDrillTests.post(port, path, body)
        return (reply.status, String(decoding: reply.body, as: UTF8.self))
    }

    @Test func handlesOverHTTPRefuseAForeignAssetADuplicateAndANonAddress() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let evm = EVMNodeDouble(chain: EVMChainModel(chainId: 100, tip: 100))
        let evmURL = try await evm.start()
        defer { Task { await evm.stop() } }
        let host = try await Self.started(Self.config(db: db, double: double, evm: evmURL))
        let port = host.port

        let added = try await Self.post(port, "/funding/handles", #"{"chain": "gnosis", "asset": "EURe", "address": "\#(Self.evmHandle)", "label": "ops"}"#)
        #expect(added.status == 201, "\(added.text)")
        // The asset in another case, or with a bidi override: not an asset gnosis watches.
        for asset in ["eure", "\u{202e}EURe", "BTC"] {
            let refused = try await Self.post(port, "/funding/handles", #"{"chain": "gnosis", "asset": "\#(asset)", "address": "\#(Self.evmHandle)"}"#)
            #expect(refused.status == 400 && refused.text.contains("field asset"), "\(asset): \(refused.text)")
        }
        // The same address in upper case, and again as it was: 409 naming what watches it.
        let upper = "0x" + Self.evmHandle.dropFirst(2).uppercased()
        for address in [upper, Self.evmHandle] {
            let again = try await Self.post(port, "/funding/handles", #"{"chain": "gnosis", "asset": "EURe", "address": "\#(address)"}"#)
            #expect(again.status == 409 && again.text.contains("EURe") && again.text.contains("source api"), "\(again.text)")
        }
        // The zero address and the token contract are no deposit addresses.
        for address in ["0x0000000000000000000000000000000000000000", evm.defaultToken] {
            let refused = try await Self.post(port, "/funding/handles", #"{"chain": "gnosis", "asset": "EURe", "address": "\#(address)"}"#)
            #expect(refused.status == 400 && refused.text.contains("field address"), "\(refused.text)")
        }
        // A config handle re-posted: 409, and its label is not overwritten.
        let config = try await Self.post(port, "/funding/handles", #"{"chain": "bitcoin", "asset": "BTC", "address": "\#(KillDrillTests.handle)"}"#)
        #expect(config.status == 409 && config.text.contains("source config"), "\(config.text)")
        let doge = try await Self.post(port, "/funding/handles", #"{"chain": "bitcoin", "asset": "\u202eDOGE", "address": "\#(KillDrillTests.handle)"}"#)
        #expect(doge.status == 400 && doge.text.contains("field asset"), "\(doge.text)")
        let handles = await BridgeHandlesDrillTests.handles(port)
        #expect(handles.first { $0["address"]?.stringValue == KillDrillTests.handle }?["label"]?.stringValue == "drill")
        #expect(handles.count == 3, "\(handles)")
        // A rescan above the tip is refused, naming the field (once the adapter has a tip).
        #expect(await waitUntil(.seconds(30)) {
            await BridgeHandlesDrillTests.json(port, "/plugins/bitcoin/state")?["plugin"]?["cursor_height"]?.int64Value != nil
        })
        let rescan = try await Self.post(port, "/funding/handles", #"{"chain": "bitcoin", "asset": "BTC", "address": "\#(BridgeHandlesDrillTests.third.0)", "rescan_from": 999999999}"#)
        #expect(rescan.status == 400 && rescan.text.contains("rescan_from"), "\(rescan.text)")

        // The one EURe handle still gets its deposit, under its asset.
        let paid = evm.transfer(to: Self.evmHandle, amount: Amount(decimal: "5000000000000000000")!)
        evm.mine(5)
        let repository = FundingRepository(pool: db.pool)
        let seen = await waitUntil(.seconds(60)) {
            (try? await repository.listObservations(ObservationFilter(limit: 100)))?.first { $0.txHash == paid }?.asset == "EURe"
        }
        let gnosis = await Self.body(port, "/plugins/gnosis/state")
        #expect(seen, "\(gnosis)\n\(host.log.suffix(2000))")
        #expect(await host.terminate() == 0)
    }

    @Test func aPersonsStuckMarkSurvivesARestartThatReReportsTheMempool() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        var host = try await Self.started(Self.config(db: db, double: double))
        let repository = FundingRepository(pool: db.pool)
        let paid = double.pay(script: KillDrillTests.script, sats: 40_000, change: 500).txid
        var row: ObservationRecord? = nil
        #expect(await waitUntil(.seconds(30)) {
            row = (try? await repository.listObservations(ObservationFilter(limit: 10)))?.first { $0.txHash == paid }
            return row != nil
        })
        let id = try #require(row?.id)
        let marked = try await Self.post(host.port, "/funding/observations/\(id)/stuck", #"{"reason": "sender says wrong amount"}"#)
        #expect(marked.status == 200, "\(marked.text)")
        #expect(await host.terminate() == 0)

        // The restarted adapter reports the mempool transaction again, then its block.
        host = try host.restarted()
        double.mine(1)
        #expect(await waitUntil(.seconds(30)) {
            (try? await repository.listObservations(ObservationFilter(limit: 10)))?.first { $0.txHash == paid }?.blockHeight != nil
        }, "the restarted host saw the block: \(host.log.suffix(1500))")
        let after = try #require(try await repository.listObservations(ObservationFilter(limit: 10)).first { $0.txHash == paid })
        #expect(after.state == "FAILED_OR_STUCK", "a re-report undid a person's mark: \(after.state)")
        #expect(after.reason == "manual: sender says wrong amount")
        #expect(await host.terminate() == 0)
    }

    @Test func signalsHTTP10AndEncodedPathsAreServedNotFatal() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let host = try await Self.started(Self.config(db: db, double: double))
        // SIGHUP (log rotation) and SIGUSR1: logged, the host serves on.
        kill(host.process.processIdentifier, SIGHUP)
        kill(host.process.processIdentifier, SIGUSR1)
        #expect(await waitUntil(.seconds(10)) { host.log.contains("SIGHUP received") && host.log.contains("SIGUSR1 received") }, "\(host.log.suffix(1000))")
        #expect(await Self.status(host.port, "/livez") == 200)

        // HTTP/1.0 without keep-alive: answered with Connection: close, and the socket closed.
        let fd = try #require(HTTPEdgeDrillTests.connectSocket(host.port))
        defer { close(fd) }
        #expect(HTTPEdgeDrillTests.send(fd, "GET /livez HTTP/1.0\r\n\r\n"))
        var reply: [UInt8] = []
        var closed = false
        let until = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < until {
            guard let chunk = HTTPEdgeDrillTests.receive(fd) else {
                closed = true
                break
            }
            reply += chunk
        }
        let text = String(decoding: reply, as: UTF8.self).lowercased()
        #expect(closed, "an HTTP/1.0 connection stayed open: \(text)")
        #expect(text.contains("connection: close") && text.contains("\"live\""), "\(text)")

        // Percent-encoded path segments are decoded once; a malformed escape is a 400.
        #expect(await Self.status(host.port, "/plugins/%62itcoin/state") == 200)
        #expect(await Self.status(host.port, "/plugins/bitcoin%zz/state") == 400)
        let resolve = try await Self.post(host.port, "/alerts/no_such%3Aalert%3Akey/resolve", #"{"by": "ops", "reason": "x"}"#)
        #expect(resolve.text.contains("no_such:alert:key"), "\(resolve.text)")
        #expect(await host.terminate() == 0)
    }

    @Test func aSchemaDroppedUnderTheHostIsRebuiltAndANewerOneStopsIt() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let host = try await Self.started(Self.config(db: db, double: double))
        // The drop can deadlock with the host's own writes: it is tried again until it went through.
        var dropped = false
        for _ in 0..<20 where !dropped {
            dropped = (try? await db.pool.withConnection { conn in try conn.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public") }) != nil
        }
        #expect(dropped)
        // A deposit paid while the schema is gone is stored once the host rebuilt it.
        let paid = double.pay(script: KillDrillTests.script, sats: 33_000, change: 500).txid
        let repository = FundingRepository(pool: db.pool)
        #expect(await waitUntil(.seconds(60)) {
            (try? await repository.listObservations(ObservationFilter(limit: 10)))?.contains { $0.txHash == paid } == true
        }, "\(host.log.suffix(2500))")
        #expect(host.log.contains("database schema lost"), "\(host.log.suffix(1500))")
        #expect(await BridgeHandlesDrillTests.handles(host.port).count == 1, "the config handle is registered again")
        // Every plugin that failed meanwhile is restarted by its supervisor (with its backoff).
        let ready = await waitUntil(.seconds(45)) { await Self.status(host.port, "/readyz") == 200 }
        let readiness = await Self.body(host.port, "/readyz")
        #expect(ready, "\(readiness)")

        // A newer binary migrated the database: the running host stops, naming both versions.
        let newest = try await db.pool.withConnection { conn in
            try conn.query("SELECT max(version) AS v FROM schema_migrations").first?.int("v") ?? 0
        }
        let future = newest + 1
        try await db.pool.withConnection { conn in
            _ = try conn.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, 'future.sql', 'x')", [String(future)])
        }
        #expect(await host.process.exited(), "the host kept running on a newer schema")
        #expect(host.process.terminationStatus != 0)
        #expect(host.log.contains("version \(future)") && host.log.contains("(\(newest))"), "\(host.log.suffix(1500))")
        // And a host started on it refuses at once.
        let again = try HostProcess(config: Self.config(db: db, double: double), port: try freePort())
        try again.start()
        #expect(await again.process.exited())
        #expect(again.process.terminationStatus == 1 && again.log.contains("version \(future)"), "\(again.log.suffix(1500))")
    }

    @Test func aSecondHostWithoutHAStandsByAndTakesOverWhenTheFirstDies() async throws {
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let config = Self.config(db: db, double: double)
        let first = try await Self.started(config)
        let second = try await Self.started(config)
        // The supervisor is `starting` until its first look at the lock: wait for its verdict.
        var state: JSONValue? = nil
        #expect(await waitUntil(.seconds(20)) {
            state = await BridgeHandlesDrillTests.json(second.port, "/plugins/bitcoin/state")
            return state?["status"]?.stringValue == "standby"
        }, "\(String(describing: state))")
        #expect(state?["lease"]?["holder"]?.stringValue?.contains("unrip-watch") == true, "\(String(describing: state))")
        // Deposits while both run: one host ingests, each transfer confirmed exactly once.
        var paid: [String] = []
        for _ in 0..<4 {
            paid.append(double.pay(script: KillDrillTests.script, sats: 20_000, change: 500).txid)
            double.mine(1)
        }
        double.mine(2)
        let repository = FundingRepository(pool: db.pool)
        #expect(await waitUntil(.seconds(60)) {
            let rows = (try? await repository.listObservations(ObservationFilter(limit: 100))) ?? []
            return rows.count == paid.count && rows.allSatisfy { $0.state == "SEEN_CONFIRMED" }
        }, "\(first.log.suffix(1500))")
        #expect(try await KillDrillTests.confirmedMoreThanOnce(db).isEmpty)
        // The first dies: its session and locks go with it, and the second takes over.
        await first.kill9()
        #expect(await waitUntil(.seconds(30)) {
            await BridgeHandlesDrillTests.json(second.port, "/plugins/bitcoin/state")?["status"]?.stringValue == "running"
        }, "\(second.log.suffix(1500))")
        let late = double.pay(script: KillDrillTests.script, sats: 21_000, change: 500).txid
        #expect(await waitUntil(.seconds(30)) {
            (try? await repository.listObservations(ObservationFilter(limit: 100)))?.contains { $0.txHash == late } == true
        })
        #expect(await second.terminate() == 0)
    }

    @Test func aPasswordWithARawSlashOrNoSchemeIsShownNowhere() async throws {
        let double = try await BitcoindDouble.start()
        for url in ["postgresql://u:hunter2/x@127.0.0.1:1/db", "u:hunter2@127.0.0.1:1/db"] {
            let config = """
                [database]
                url = "\(url)"
                startup_timeout_s = 1
                \(double.bitcoinSection(extra: ["handles = [{ address = \"\(KillDrillTests.handle)\" }]"]))
                """
            let host = try HostProcess(config: config, port: try freePort())
            try host.start()
            #expect(await host.process.exited())
            #expect(host.log.contains("unrip-watch failed") || host.log.contains("PostgreSQL"), "\(host.log.suffix(800))")
            #expect(!host.log.contains("hunter2"), "\(url): \(host.log.suffix(1500))")
            let check = try #require(try await ConfigFileDrillTests.run(["check-config", host.configPath]))
            #expect(!check.output.contains("hunter2"), "\(url): \(check.output)")
        }
    }

    /// What an operator's environment or a secret file can get wrong is named, not swallowed.
    @Test func aBrokerListOfCommasAndAnEmptyTokenFileAreConfigErrors() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("r3-cfg-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("token").path
        try "\n\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let path = dir.appendingPathComponent("c.toml").path
        try "[database]\nurl = \"postgresql://db.internal/unrip\"\n[control]\ntoken_file = \"\(tokenFile)\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let empty = try #require(try await ConfigFileDrillTests.run(["check-config", path]))
        #expect(empty.status == 2 && empty.output.contains("control.token_file") && empty.output.contains("empty"), "\(empty.output)")

        try "[database]\nurl = \"postgresql://db.internal/unrip\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let commas = try #require(try await ConfigFileDrillTests.run(["check-config", path], environment: ["UNRIP_KAFKA_BROKERS": ",,,"]))
        #expect(commas.status == 2 && commas.output.contains("kafka.brokers"), "\(commas.output)")
    }
}
