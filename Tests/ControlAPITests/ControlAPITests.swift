import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import WatchCore
import WatchTesting

@Suite struct ControlAPITests {
    @Test func healthAndHostStateWithRegisteredPlugin() async throws {
        let h = try await HostHarness.make()
        try await h.withRunningHost { client in
            try await client.execute(uri: "/healthz", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.json["database"] as? String == "ok")
            }
            #expect(await waitUntil { h.prepared.supervisors[0].status == .running })
            try await client.execute(uri: "/state", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.json["version"] as? String == "0.1.0")
                let plugins = r.json["plugins"] as? [[String: Any]] ?? []
                #expect(plugins.first?["name"] as? String == "testchain")
                #expect(plugins.first?["status"] as? String == "running")
                // Secrets never appear.
                #expect(!r.text.contains(HostHarness.token))
                #expect(r.text.contains("<redacted>"))
            }
            try await client.execute(uri: "/plugins/testchain/healthz", method: .get) { r in #expect(r.status == .ok) }
        }
    }

    @Test func livezAlwaysReadyzOnlyWhenTheDatabaseAnswersAndEveryAdapterRuns() async throws {
        let h = try await HostHarness.make()
        try await h.withRunningHost { client in
            try await client.execute(uri: "/livez", method: .get) { r in #expect(r.status == .ok && r.json["status"] as? String == "live") }
            #expect(await waitUntil { h.prepared.supervisors[0].status == .running })
            try await client.execute(uri: "/readyz", method: .get) { r in #expect(r.status == .ok, "\(r.text)") }
            try await client.execute(uri: "/plugins/testchain/pause", method: .post, headers: auth()) { r in #expect(r.status == .ok) }
            #expect(await waitUntil { h.prepared.supervisors[0].status == .paused })
            try await client.execute(uri: "/readyz", method: .get) { r in
                #expect(r.status == .serviceUnavailable && r.text.contains("testchain: paused"), "\(r.text)")
            }
            try await client.execute(uri: "/livez", method: .get) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/plugins/testchain/resume", method: .post, headers: auth()) { r in #expect(r.status == .ok) }
            #expect(await waitUntil { h.prepared.supervisors[0].status == .running })
            try await client.execute(uri: "/readyz", method: .get) { r in #expect(r.status == .ok) }
        }
    }

    @Test func pauseAndResumeNeedTheTokenAndLoseNothing() async throws {
        let h = try await HostHarness.make()
        try await h.withRunningHost { client in
            #expect(await waitUntil { h.prepared.supervisors[0].status == .running })
            try await client.execute(uri: "/plugins/testchain/pause", method: .post) { r in
                #expect(r.status == .unauthorized)
                #expect((r.json["error"] as? [String: Any])?["message"] as? String != nil)
            }
            try await client.execute(uri: "/plugins/testchain/pause", method: .post, headers: auth("wrong")) { r in
                #expect(r.status == .forbidden)
            }
            try await client.execute(uri: "/plugins/testchain/pause", method: .post, headers: auth()) { r in
                #expect(r.status == .ok)
            }
            #expect(await waitUntil { h.prepared.supervisors[0].status == .paused })
            // Paused means the adapter stopped: no instance runs, so nothing can read the node...
            try await client.execute(uri: "/plugins/testchain/state", method: .get) { r in
                #expect(r.json["instance_running"] as? Bool == false, "\(r.text)")
            }
            // ...and a deposit made and mined meanwhile is not ingested...
            let tx = h.node.pay("abc123", amount: 2_500)
            h.node.mine(2)
            try await client.execute(uri: "/funding/observations", method: .get) { r in
                #expect((r.json["observations"] as? [Any])?.isEmpty == true)
            }
            try await client.execute(uri: "/plugins/testchain/state", method: .get) { r in
                #expect(r.json["paused"] as? Bool == true && r.json["status"] as? String == "paused")
            }
            // ...and on resume it is caught up from the cursor.
            try await client.execute(uri: "/plugins/testchain/resume", method: .post, headers: auth()) { r in #expect(r.status == .ok) }
            #expect(await waitUntil {
                (try? await h.prepared.repository.listObservations(.init()))?.first?.state == "SEEN_CONFIRMED"
            })
            try await client.execute(uri: "/funding/observations?chain=testchain&handle=abc123&state=SEEN_CONFIRMED&limit=5", method: .get) { r in
                let list = r.json["observations"] as? [[String: Any]] ?? []
                #expect(list.count == 1)
                let o = list.first ?? [:]
                #expect(o["tx_hash"] as? String == tx && o["amount"] as? String == "2500" && o["address"] as? String == "abc123")
                #expect(o["confirmations"] as? Int == 2 && o["block_hash"] is String && o["reason"] is NSNull)
                for key in ["id", "chain", "network", "asset", "output_index", "state", "block_height", "first_seen_at", "updated_at"] {
                    #expect(o[key] != nil, "missing \(key)")
                }
                let id = o["id"] as? Int ?? 0
                try await client.execute(uri: "/funding/observations/\(id)", method: .get) { r in
                    let events = r.json["events"] as? [[String: Any]] ?? []
                    #expect(events.compactMap { $0["state"] as? String }.last == "SEEN_CONFIRMED")
                    #expect(events.allSatisfy { $0["at"] is String && $0["reason"] != nil })
                }
            }
        }
    }

    @Test func badRequestsGetJSONErrorsNotCrashes() async throws {
        let h = try await HostHarness.make()
        try await h.withRunningHost { client in
            let cases: [(String, HTTPRequest.Method, HTTPResponse.Status)] = [
                ("/plugins/nope/state", .get, .notFound),
                ("/plugins/nope/pause", .post, .notFound),
                ("/funding/observations?limit=0", .get, .badRequest),
                ("/funding/observations?limit=abc", .get, .badRequest),
                ("/funding/observations?state=SPENDABLE", .get, .badRequest),
                ("/funding/observations?colour=red", .get, .badRequest),
                ("/funding/observations/xyz", .get, .badRequest),
                ("/funding/observations/-4", .get, .badRequest),
                ("/funding/observations/999999", .get, .notFound),
                ("/funding/observations/+1", .get, .badRequest),
                ("/funding/observations/%201", .get, .badRequest),
                ("/funding/observations?limit=+5", .get, .badRequest),
                ("/funding/latency?since=0000-01-01T00:00:00Z", .get, .badRequest),
                ("/funding/latency?since=0001-01-01T00:00:00Z", .get, .badRequest),
                ("/funding/latency?since=1000-01-01T00:00:00Z", .get, .badRequest),
                ("/funding/latency?since=1969-12-31T23:59:59Z", .get, .badRequest),
                ("/funding/latency?since=10000-01-01T00:00:00Z", .get, .badRequest),
                ("/funding/latency?since=9999-12-31T23:59:59-01:00", .get, .badRequest),
                ("/funding/latency?since=2026-11-25T00:00:00Z", .get, .ok),
                ("/no/such/route", .get, .notFound),
            ]
            for (uri, method, status) in cases {
                try await client.execute(uri: uri, method: method, headers: auth()) { r in
                    #expect(r.status == status, "\(uri)")
                    if uri != "/no/such/route" && status != .ok {
                        #expect((r.json["error"] as? [String: Any])?["message"] is String, "\(uri): \(r.text)")
                    }
                }
            }
            try await client.execute(uri: "/plugins/testchain/pause", method: .post, headers: auth(), body: ByteBuffer(repeating: 0x41, count: 3_000_000)) { r in
                #expect(r.status.code < 500)
            }
            try await client.execute(
                uri: "/funding/observations/1/stuck", method: .post, headers: auth(), body: ByteBuffer(repeating: 0x41, count: 100_000)
            ) { r in
                #expect(r.status == .contentTooLarge, "\(r.text)")
                #expect((r.json["error"] as? [String: Any])?["message"] as? String == "request body over 65536 bytes; send at most 65536")
            }
            // HEAD answers like GET, without a body.
            try await client.execute(uri: "/healthz", method: .head) { r in
                #expect(r.status == .ok)
                #expect(r.body.readableBytes == 0)
            }
            // The token is compared exactly as sent.
            for presented in ["Bearer  \(HostHarness.token)", "Bearer \t\(HostHarness.token)"] {
                try await client.execute(uri: "/plugins/testchain/pause", method: .post, headers: [.authorization: presented]) { r in
                    #expect(r.status == .forbidden, "\(presented)")
                }
            }
        }
    }

    @Test func metricsAndHandles() async throws {
        let h = try await HostHarness.make()
        try await h.withRunningHost { client in
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
            }
            try await client.execute(uri: "/funding/handles", method: .get) { r in
                let handles = r.json["handles"] as? [[String: Any]] ?? []
                #expect(handles.count == 1)
                #expect(handles.first?["address"] as? String == "abc123" && handles.first?["label"] as? String == "hot wallet")
                #expect(handles.first?["pending_precredit"] as? String == "0")
            }
            // A handle added over HTTP may name the intents account its deposits are credited to.
            let added = ByteBuffer(string: #"{"chain":"testchain","asset":"TST","address":"def456","account":"mm.near"}"#)
            try await client.execute(uri: "/funding/handles", method: .post, headers: auth(), body: added) { r in
                #expect(r.status == .created, "\(r.text)")
                #expect(r.json["account_id"] as? String == "mm.near")
            }
            let refused = ByteBuffer(string: #"{"chain":"testchain","asset":"TST","address":"ghi789","account":"Not An Account"}"#)
            try await client.execute(uri: "/funding/handles", method: .post, headers: auth(), body: refused) { r in
                #expect(r.status == .badRequest && r.text.contains("field account"), "\(r.text)")
            }
            try await client.execute(uri: "/funding/handles", method: .get) { r in
                let handles = r.json["handles"] as? [[String: Any]] ?? []
                #expect(handles.first { $0["address"] as? String == "def456" }?["account_id"] as? String == "mm.near", "\(r.text)")
                #expect(handles.first { $0["address"] as? String == "def456" }?["bridge"] as? String == "poa", "\(r.text)")
            }
            // A handle names its bridge: POA by default; Omni only where [bridge.omni] is configured.
            let bridges: [(String, String)] = [
                (#"{"chain":"testchain","asset":"TST","address":"om1","account":"mm.near","bridge":"omni"}"#, "omni is not configured here"),
                (#"{"chain":"testchain","asset":"TST","address":"om2","bridge":"hot"}"#, "field bridge"),
                (#"{"chain":"testchain","asset":"TST","address":"om3","deposit_msg":"{}"}"#, "field deposit_msg"),
            ]
            for (body, message) in bridges {
                try await client.execute(uri: "/funding/handles", method: .post, headers: auth(), body: ByteBuffer(string: body)) { r in
                    #expect(r.status == .badRequest && r.text.contains(message), "\(body): \(r.text)")
                }
            }
            try await client.execute(uri: "/funding/latency?bridge=omni", method: .get) { r in
                #expect(r.status == .ok && r.json["bridges"] is [String: Any] && r.json["bridge"] as? String == "omni", "\(r.text)")
            }
            try await client.execute(uri: "/funding/latency?bridge=hot", method: .get) { r in
                #expect(r.status == .badRequest, "\(r.text)")
            }
        }
    }
}

@Suite struct QueryFuzzTests {
    /// Random query strings against the observation and latency routes: 200 or a 4xx with a JSON error.
    @Test func randomQueriesGetAnswersNotCrashes() async throws {
        let h = try await HostHarness.make()
        let pieces = ["chain=", "handle=", "state=", "limit=", "since=", "x=", "&", "%", "%ZZ", "%00", "1", "-1", "99999999999999999999", "SEEN_CONFIRMED", "bitcoin", "'", "\"", "2026-11-25T00:00:00Z", "==", "?"]
        var rng = SeededGenerator(seed: 0x9E11)
        let queries = (0..<150).map { _ in (0..<Int.random(in: 1...6, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined() }
        try await h.withRunningHost { client in
            for (i, query) in queries.enumerated() {
                let path = (i % 2 == 0 ? "/funding/observations?" : "/funding/latency?") + query
                try await client.execute(uri: path, method: .get) { r in
                    #expect(r.status == .ok || (400..<500).contains(r.status.code), "\(path) → \(r.status)")
                    if r.status != .ok { #expect((r.json["error"] as? [String: Any])?["message"] is String, "\(path): \(r.text)") }
                }
            }
        }
    }
}
