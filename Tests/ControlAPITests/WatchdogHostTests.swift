import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import WatchCore
import WatchTesting

/// The watchdog as an operator meets it in the host (issue 11): a paused adapter whose node
/// moves on is lagging (alert and `/readyz` 503), and a catch-up clears both; `/livez`
/// answers throughout.
@Suite(.serialized) struct WatchdogHostTests {
    static func active(_ client: any TestClientProtocol) async throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        try await client.execute(uri: "/plugins/alerts/state", method: .get) { r in out = (r.json["active"] as? [[String: Any]]) ?? [] }
        return out
    }

    static func ready(_ client: any TestClientProtocol) async throws -> (HTTPResponse.Status, [String]) {
        var out: (HTTPResponse.Status, [String]) = (.ok, [])
        try await client.execute(uri: "/readyz", method: .get) { r in out = (r.status, (r.json["reasons"] as? [String]) ?? []) }
        return out
    }

    static func live(_ client: any TestClientProtocol) async throws -> Bool {
        var ok = false
        try await client.execute(uri: "/livez", method: .get) { r in ok = r.status == .ok }
        return ok
    }

    @Test func aPausedAdapterFallingBehindIsLaggingUntilItCatchesUp() async throws {
        let w = try await ReplacementAlertTests.world(bitcoin: "max_cursor_lag_blocks = 2")
        defer { w.bridge.stop() }
        try await ReplacementAlertTests.withHost(w) { client in
            #expect(await waitUntil { (try? await Self.ready(client).0) == .ok })
            try await client.execute(uri: "/plugins/bitcoin/pause", method: .post, headers: auth()) { r in #expect(r.status == .ok) }
            w.double.mine(3)  // the node moves on; the paused adapter does not
            #expect(await waitUntil { (try? await Self.active(client).contains { $0["rule"] as? String == "chain_lagging" }) == true })
            let alert = try #require(try await Self.active(client).first { $0["rule"] as? String == "chain_lagging" })
            #expect(alert["severity"] as? String == "warning" && alert["subject"] as? String == "bitcoin")
            let labels = alert["labels"] as? [String: String]
            #expect(labels?["chain"] == "bitcoin" && labels?["plugin"] == "bitcoin" && labels?["severity"] == "warning")
            let details = alert["details"] as? [String: Any]
            #expect(details?["lag_blocks"] as? Int == 3 && details?["max_cursor_lag_blocks"] as? Int == 2)
            let (status, reasons) = try await Self.ready(client)
            #expect(status == .serviceUnavailable)
            #expect(reasons.contains("bitcoin: paused") && reasons.contains { $0.contains("3 blocks behind") }, "\(reasons)")
            #expect(try await Self.live(client))
            // Resumed, it catches up: ready again, and the alert resolves.
            try await client.execute(uri: "/plugins/bitcoin/resume", method: .post, headers: auth()) { r in #expect(r.status == .ok) }
            #expect(await waitUntil { (try? await Self.ready(client).0) == .ok })
            #expect(await waitUntil { (try? await Self.active(client).contains { $0["rule"] as? String == "chain_lagging" }) == false })
            #expect(try await Self.live(client))
            // Ready allows max_cursor_lag_blocks; the watchdog's next probes see the cursor reach the tip.
            var seen = ""
            let caughtUp = await waitUntil {
                var done = false
                try? await client.execute(uri: "/plugins/watchdog/state", method: .get) { r in
                    let bitcoin = (r.json["plugin"] as? [String: Any])?["bitcoin"] as? [String: Any]
                    done = bitcoin?["tip_height"] as? Int == w.double.tip.height && bitcoin?["cursor_height"] as? Int == w.double.tip.height
                    seen = r.text
                }
                return done
            }
            #expect(caughtUp, "\(seen)")
        }
    }
}
