import BitcoinTesting
import Foundation
import JSONRPCClient
import PostgresStore
import Testing
import WatchCore
import WatchTesting

/// Random and boundary values for every query parameter, path id and body field of every
/// route, against the real binary: no answer is a 5xx (but `/healthz`'s 503), every answer
/// is JSON (but `/metrics`), the host stays up, and no secret of its config appears in any
/// answer or log line. `UNRIP_HOSTILE_HTTP_REQUESTS` sets the budget (300 in the suite;
/// `scripts/hostile-http` runs a long one).
@Suite(.serialized) struct HostileHTTPTests {
    static let secrets = ["SECRET-APIKEY-7f3a", "SECRET-PEM-91c2", "SECRET-JAAS-55d0", "drill-token"]

    static let values: [String] = [
        "", "0", "-1", "1", "+1", " 1", "1.5", "1e3", "99999999999999999999", "9223372036854775808", "-9223372036854775809",
        "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00", "10000-01-01T00:00:00Z", "2026-13-45T25:61:61Z",
        "2026-11-25T00:00:00+25:00", "SEEN_CONFIRMED", "CREDITED", "SPENDABLE", "bitcoin", "gnosis", "%00", "%FF%FE", "%C3%28",
        "%", "%ZZ", "'", "\"", "%22%3E%3Cscript%3E", "..%2F..%2Fetc%2Fpasswd", String(repeating: "A", count: 5_000),
        String(repeating: "9", count: 400), "%E2%80%AE", "null", "[]", "{}",
    ]
    static let keys = ["chain", "handle", "state", "limit", "since", "after_id", "topic", "x", "limit[]", ""]
    static let getRoutes = [
        "/healthz", "/livez", "/readyz", "/state", "/metrics", "/funding/handles", "/funding/observations", "/funding/latency", "/outbox",
        "/outbox/backlog", "/plugins/bitcoin/state", "/plugins/bitcoin/healthz", "/plugins/alerts/state", "/plugins/nope/state",
    ]
    static let bodies: [String] = [
        "", "{}", "[]", "null", #"{"reason": ""}"#, #"{"reason": "   "}"#, #"{"reason": 5}"#, #"{"reason": "x", "more": 1}"#,
        #"{"reason": "\u0000"}"#, "{\"reason\": \"" + String(repeating: "é", count: 20_000) + "\"}", "{\"reason\"", "\u{FF}\u{FE}",
        String(repeating: "[", count: 10_000), #"{"reason": "ok"}"#,
    ]

    /// `POST /funding/handles` bodies: each field at its boundaries, the others valid.
    static var handleBodies: [String] {
        let valid: [String: String] = ["chain": #""bitcoin""#, "asset": #""BTC""#, "address": #""bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c""#, "label": #""x""#]
        let hostile = [
            "null", "0", "-1", "1e400", "99999999999999999999", "true", "[]", "{}", #""""#, #""\u0000""#, #""bc1q\u0000""#,
            "\"" + String(repeating: "q", count: 5_000) + "\"", #""\ud800""#, #""gnosis""#, #""0x0000000000000000000000000000000000000000""#,
        ]
        var out: [String] = []
        for field in ["chain", "asset", "address", "label", "rescan_from"] {
            for value in hostile {
                var fields = valid
                fields[field] = value
                out.append("{" + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}")
            }
        }
        return out + bodies
    }

    /// Each route's own query keys, each swept with every value.
    static let routeKeys: [String: [String]] = [
        "/funding/observations": ["chain", "handle", "state", "limit"], "/funding/latency": ["chain", "since"],
        "/outbox": ["after_id", "topic", "limit"],
    ]

    /// Every value for every key of every route, every path id, every body to the stuck route.
    static func sweep() -> [(method: String, path: String, body: String)] {
        var out: [(String, String, String)] = []
        for route in getRoutes {
            for key in routeKeys[route] ?? ["x"] {
                for value in values { out.append(("GET", "\(route)?\(key)=\(encoded(value))", "")) }
            }
        }
        for value in values { out.append(("GET", "/funding/observations/\(encoded(value))", "")) }
        for value in values.prefix(12) {
            for body in bodies { out.append(("POST", "/funding/observations/\(encoded(value))/stuck", body)) }
        }
        for body in handleBodies { out.append(("POST", "/funding/handles", body)) }
        for value in values { out.append(("POST", "/funding/handles/\(encoded(value))/retire", "{}")) }
        return out
    }

    struct Answer {
        var status: Int
        var body: String
    }

    static func get(_ base: String, _ path: String) async -> Answer? {
        do {
            let body = try await JSONRPCClient(.init(url: base, timeout: .seconds(10))).get(path)
            return Answer(status: 200, body: String(decoding: body, as: UTF8.self))
        } catch {
            if case .http(let status, let body) = error { return Answer(status: status, body: body) }
            return nil
        }
    }

    static func post(_ base: String, _ path: String, _ body: String, token: Bool) async -> Answer? {
        let client = HTTPPostClient(timeout: .seconds(10), headers: token ? ["Authorization: Bearer drill-token"] : [])
        guard let r = try? await client.post(url: base + path, json: Array(body.utf8)) else { return nil }
        return Answer(status: r.status, body: String(decoding: r.body, as: UTF8.self))
    }

    /// Percent-encodes what a URL cannot carry as it is; `%` stays, so broken escapes go out as written.
    static func encoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~%:+")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// One random request: (what was sent, what came back).
    static func request(_ base: String, using rng: inout SeededGenerator) async -> (String, Answer?, isHealth: Bool) {
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        func value() -> String { encoded(pick(values)) }
        switch rng.next() % 4 {
        case 0, 1:
            let route = pick(getRoutes)
            let query = (0..<Int(rng.next() % 4)).map { _ in "\(encoded(pick(keys)))=\(value())" }.joined(separator: "&")
            let path = route + (query.isEmpty ? "" : "?" + query)
            return (path, await get(base, path), route == "/healthz" || route == "/readyz")
        case 2:
            let path = "/funding/observations/\(value())"
            return (path, await get(base, path), false)
        default:
            let path = pick([
                "/funding/observations/\(value())/stuck", "/plugins/bitcoin/pause", "/plugins/bitcoin/resume", "/plugins/nope/pause",
                "/funding/handles", "/funding/handles/\(value())/retire",
            ])
            let body = path == "/funding/handles" ? pick(handleBodies) : pick(bodies)
            return ("POST \(path) \(body.prefix(40))", await post(base, path, body, token: rng.next() % 3 != 0), false)
        }
    }

    @Test func randomAndBoundaryRequestsToEveryRouteOfTheRealBinary() async throws {
        let budget = ProcessInfo.processInfo.environment["UNRIP_HOSTILE_HTTP_REQUESTS"].flatMap(Int.init) ?? 300
        let db = try await TestDatabase.create()
        let double = try await BitcoindDouble.start()
        double.mine(1)
        let config = KillDrillTests.config(db: db, double: double) + """

            [bridge]
            enabled = true
            accounts = ["mm.near"]
            rpc_url = "http://127.0.0.1:9/rpc?apikey=\(Self.secrets[0])"
            [kafka.properties]
            "ssl.key.pem" = "\(Self.secrets[1])"
            "sasl.jaas.config" = "x password=\(Self.secrets[2]);"
            """
        let host = try HostProcess(config: config, port: try freePort())
        try host.start()
        let base = "http://127.0.0.1:\(host.port)"
        #expect(await waitUntil(.seconds(30)) { await Self.get(base, "/healthz")?.status == 200 }, "\(host.log.suffix(2000))")
        let paid = double.pay(script: KillDrillTests.script, sats: 12_345, change: 100)
        double.mine(1)
        _ = paid

        let seed = ProcessInfo.processInfo.environment["UNRIP_HOSTILE_HTTP_SEED"].flatMap(UInt64.init) ?? UInt64(Date().timeIntervalSince1970)
        var rng = SeededGenerator(seed: seed)
        var problems: [String] = []
        // The sweep, then `budget` random requests; each says what it sent.
        var requests: [@Sendable () async -> (String, Answer?, isHealth: Bool)] = Self.sweep().map { r in
            {
                let answer = r.method == "GET" ? await Self.get(base, r.path) : await Self.post(base, r.path, r.body, token: true)
                return ("\(r.method) \(r.path) \(r.body.prefix(40))", answer, r.path.hasPrefix("/healthz") || r.path.hasPrefix("/readyz"))
            }
        }
        for _ in 0..<budget {
            let probe = rng.next()
            requests.append {
                var r = SeededGenerator(seed: probe)
                return await Self.request(base, using: &r)
            }
        }
        for (n, request) in requests.enumerated() {
            let (sent, answer, isHealth) = await request()
            guard let answer else {
                problems.append("no answer to \(sent.prefix(120))")
                continue
            }
            if answer.status >= 500, !(isHealth && answer.status == 503) { problems.append("\(answer.status) for \(sent.prefix(120))") }
            // Error bodies come back cut to their first 200 bytes by the client: those must open JSON.
            let whole = answer.status < 300 || answer.body.utf8.count < 190
            let json = whole ? (try? JSONValue.parse(Array(answer.body.utf8))) != nil : answer.body.hasPrefix("{\"error\"")
            if !sent.contains("/metrics"), !json, !answer.body.isEmpty {
                problems.append("not JSON for \(sent.prefix(120)): \(answer.body.prefix(80))")
            }
            for secret in Self.secrets where answer.body.contains(secret) { problems.append("\(secret) in the answer to \(sent.prefix(120))") }
            if n % 50 == 0 { #expect(host.process.isRunning, "the host died after \(sent.prefix(120))\n\(host.log.suffix(2000))") }
        }
        #expect(problems.isEmpty, "seed \(seed) (UNRIP_HOSTILE_HTTP_SEED): \(problems.count) problem(s), first: \(problems.prefix(10))")
        #expect(host.process.isRunning, "\(host.log.suffix(2000))")
        // The effective config and every log line so far: no secret.
        let state = await Self.get(base, "/state")
        #expect(state?.status == 200)
        for secret in Self.secrets {
            #expect(!(state?.body.contains(secret) ?? true), "\(secret) in /state")
            #expect(!host.log.contains(secret), "\(secret) in the log")
        }
        #expect(await host.terminate() == 0)
    }
}
