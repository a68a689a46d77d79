import Alerting
import ControlAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import WatchCore
import WatchTesting

@Suite("Manual stuck marking over HTTP", .serialized)
struct ManualStuckTests {
    static let token = "test-token-123"

    @Test("POST /funding/observations/<id>/stuck: 401 without a token, 403 with a wrong one, 400/404/409, and the alert fires")
    func stuckMarking() async throws {
        let f = try await AlertFixture.make()
        let tx = String(repeating: "12", count: 32), credited = String(repeating: "34", count: 32)
        try await f.observation(tx: tx, target: .seenUnconfirmed, kind: .seenInMempool, at: f.now)
        try await f.observation(tx: credited, target: .seenUnconfirmed, kind: .seenInMempool, at: f.now)
        try await f.observation(tx: credited, target: .credited(.verifierSnapshot(id: "s1")), kind: .confirmed, at: f.now)
        let records = try await f.repo.listObservations(.init())
        let id = try #require(records.first { $0.txHash == tx }?.id)
        let creditedID = try #require(records.first { $0.txHash == credited }?.id)

        let changes = Mutex(0)
        let surface = ControlSurface(plugins: [], controlToken: Self.token, routes: [
            StuckRoute(repository: f.repo, clock: SystemClock()) { changes.withLock { $0 += 1 } },
            FundingRoutes(repository: f.repo),
        ])
        let app = Application(router: surface.router())
        let body = ByteBuffer(string: #"{"reason": "bridge ticket 42"}"#)
        try await app.test(.router) { client in
            try await client.execute(uri: "/funding/observations/\(id)/stuck", method: .post, body: body) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(
                uri: "/funding/observations/\(id)/stuck", method: .post, headers: [.authorization: "Bearer wrong"], body: body
            ) { r in
                #expect(r.status == .forbidden)
            }
            let auth: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            for bad in ["", "{", #"{"why": "x"}"#, #"{"reason": ""}"#, #"{"reason": 5}"#] {
                try await client.execute(uri: "/funding/observations/\(id)/stuck", method: .post, headers: auth, body: ByteBuffer(string: bad)) { r in
                    #expect(r.status == .badRequest, "body \(bad)")
                }
            }
            try await client.execute(uri: "/funding/observations/999999/stuck", method: .post, headers: auth, body: body) { r in
                #expect(r.status == .notFound)
            }
            try await client.execute(uri: "/funding/observations/\(creditedID)/stuck", method: .post, headers: auth, body: body) { r in
                #expect(r.status == .conflict)
            }
            #expect(try await f.repo.observation(id: id)?.state == "SEEN_UNCONFIRMED")  // nothing changed yet
            try await client.execute(uri: "/funding/observations/\(id)/stuck", method: .post, headers: auth, body: body) { r in
                #expect(r.status == .ok)
                let json = try JSONValue.parse(Array(buffer: r.body))
                #expect(json["state"] == "FAILED_OR_STUCK")
                #expect(json["reason"] == "manual: bridge ticket 42")
            }
        }
        #expect(changes.withLock { $0 } == 1)
        let events = try await f.repo.events(observationId: id)
        #expect(events.last?.kind == "manual_stuck")
        #expect(events.last?.reason == "manual: bridge ticket 42")
        let outbox = try await f.db.pool.withConnection { conn in
            try conn.query("SELECT payload->>'kind' AS kind, payload->>'reason' AS reason FROM outbox WHERE topic = 'unrip.funding.observations' ORDER BY id DESC LIMIT 1").first
        }
        #expect(outbox?["kind"] == "manual_stuck")
        #expect(outbox?["reason"] == "manual: bridge ticket 42")

        try await f.evaluate(AlertsConfig(forSeconds: 0))
        let active = try await f.store.alerts(status: .firing)
        #expect(active.compactMap { $0["key"]?.stringValue } == ["funding_not_credited:bitcoin:\(tx):0"])
        #expect(active.first?["reason"]?.stringValue?.hasSuffix("FAILED_OR_STUCK: manual: bridge ticket 42") == true)
    }
}
