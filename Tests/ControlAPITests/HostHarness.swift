import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import WatchCore
import UnripAdapters
import WatchHost
import WatchTesting

/// A host with the test adapter registered, on a fresh database, driven over HTTP.
struct HostHarness {
    static let token = "test-control-token-9f8e"
    let db: TestDatabase
    let node: TestChainNode
    let prepared: UnripHost.Prepared
    let config: HostConfig

    static func make(extraEnvironment: [String: String] = [:]) async throws -> HostHarness {
        let db = try await TestDatabase.create()
        let node = TestChainNode.named("api-\(UInt64.random(in: 0...UInt64.max))")
        let toml = """
            [database]
            url = "\(db.url)"
            migrations_dir = "\(TestDatabase.migrationsDirectory)"
            [http]
            listen = "127.0.0.1:0"
            [control]
            token = "\(token)"
            [testchain]
            enabled = true
            node = "\(node.name)"
            confirmations = 2
            handles = [{ address = "abc123", asset = "TST", label = "hot wallet" }]
            """
        let config = try HostConfig.parse(try parseTOML(toml), environment: extraEnvironment, registry: registeredAdapters + [.adapter(TestChainAdapter.self)])
        let host = UnripHost(config: config, logger: Logger(label: "test"))
        return HostHarness(db: db, node: node, prepared: try await host.prepare(), config: config)
    }

    /// Runs the plugins and the router for the duration of `body`.
    func withRunningHost<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Self.run(prepared, body)
    }

    /// Runs `prepared`'s plugins and router for the duration of `body`, once `ready` returned.
    static func run<T: Sendable>(
        _ prepared: UnripHost.Prepared, ready: @Sendable ([PluginSupervisor]) async throws -> Void = { _ in },
        _ body: @Sendable (any TestClientProtocol) async throws -> T
    ) async throws -> T {
        let supervisors = prepared.supervisors
        let running = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for s in supervisors { group.addTask { try await s.run() } }
                try await group.waitForAll()
            }
        }
        defer { running.cancel() }
        try await ready(supervisors)
        let app = Application(router: prepared.surface.router())
        return try await app.test(.router) { client in try await body(client) }
    }
}

func parseTOML(_ text: String) throws -> [String: ConfigValue] {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("unrip-\(UUID().uuidString).toml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try HostConfig.loadTable(path: path)
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8))) as? [String: Any] ?? [:]
    }
    var text: String { String(buffer: body) }
}

func auth(_ token: String = HostHarness.token) -> HTTPFields { [.authorization: "Bearer \(token)"] }
