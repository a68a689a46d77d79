import ArgumentParser
import Foundation
import JSONRPCClient
import PostgresStore
import WatchCore

/// `unrip-watch status`: handles, open transfers with their age and state, and active alerts,
/// as a table for a terminal, read from a running host's control surface.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Print handles, open transfers and active alerts from a running host.")

    @Option(help: "The host's control surface.")
    var url: String = ProcessInfo.processInfo.environment["UNRIP_STATUS_URL"] ?? "http://127.0.0.1:8080"

    func run() async throws {
        let client = JSONRPCClient(.init(url: url, timeout: .seconds(5), concurrency: 1))
        func get(_ path: String) async throws -> JSONValue {
            try JSONValue.parse(try await client.get(path))
        }
        let handles: JSONValue
        let observations: JSONValue
        do {
            handles = try await get("/funding/handles")
            observations = try await get("/funding/observations?limit=200")
        } catch {
            FileHandle.standardError.write(Data("status: cannot read \(url): \(error)\n".utf8))
            throw ExitCode(1)
        }
        let alerts = try? await get("/plugins/alerts/state")
        // Display only: the ages in the table (a CLI run has no injected clock to follow).
        print(StatusTable.render(handles: handles, observations: observations, alerts: alerts, now: Date()))
    }
}

enum StatusTable {
    static func render(handles: JSONValue, observations: JSONValue, alerts: JSONValue?, now: Date) -> String {
        var out = "HANDLES\n"
        out += table(
            ["CHAIN", "ASSET", "ADDRESS", "LABEL", "OPEN", "PENDING PRE-CREDIT"],
            (handles["handles"]?.arrayValue ?? []).map { h in
                [h["chain"]?.stringValue ?? "", h["asset"]?.stringValue ?? "", h["address"]?.stringValue ?? "", h["label"]?.stringValue ?? "",
                 h["open_transfers"].map { $0.serialized() } ?? "0", h["pending_precredit"]?.stringValue ?? "0"]
            })
        let open = (observations["observations"]?.arrayValue ?? []).filter { $0["state"]?.stringValue != "CREDITED" }
        out += "\nOPEN TRANSFERS (not credited)\n"
        out += table(
            ["ID", "CHAIN", "TX", "AMOUNT", "STATE", "CONF", "AGE", "REASON"],
            open.map { o in
                let age = (o["first_seen_at"]?.stringValue).flatMap(Timestamp.parse).map { duration(now.timeIntervalSince($0)) } ?? "?"
                let tx = o["tx_hash"]?.stringValue ?? ""
                return [o["id"]?.serialized() ?? "", o["chain"]?.stringValue ?? "", String(tx.prefix(16)) + (tx.count > 16 ? "…" : ""),
                        o["amount"]?.stringValue ?? "", o["state"]?.stringValue ?? "", o["confirmations"]?.serialized() ?? "",
                        age, o["reason"]?.stringValue ?? ""]
            })
        out += "\nACTIVE ALERTS\n"
        if let active = alerts?["active"]?.arrayValue {
            out += table(["RULE", "SUBJECT", "SINCE", "REASON"], active.map { a in
                [a["rule"]?.stringValue ?? "", a["subject"]?.stringValue ?? "", a["since"]?.stringValue ?? "", a["reason"]?.stringValue ?? ""]
            })
        } else {
            out += "(alerts plugin not enabled)\n"
        }
        return out
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        guard !rows.isEmpty else { return "(none)\n" }
        let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces) + "\n"
        }
        return line(header) + rows.map(line).joined()
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let s = Int(max(0, seconds))
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)m" }
        if s < 172_800 { return "\(s / 3600)h\(s % 3600 / 60)m" }
        return "\(s / 86400)d"
    }
}
