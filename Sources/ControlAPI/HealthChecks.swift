import Hummingbird
import PostgresStore
import WatchCore

/// What health and readiness answers ask, each bounded by `deadline`: PostgreSQL, its schema,
/// and the plugins.
public struct HealthChecks: Sendable {
    /// How long a health or state answer may wait on PostgreSQL or a plugin.
    static let deadline = Duration.seconds(3)

    let pool: PostgresPool
    /// What is wrong with the database's schema now (gone, behind, ahead), or nil.
    let schemaProblem: @Sendable () -> String?

    public init(pool: PostgresPool, schemaProblem: @escaping @Sendable () -> String?) {
        self.pool = pool
        self.schemaProblem = schemaProblem
    }

    /// Throws unless PostgreSQL answers within `deadline`: a frozen PostgreSQL must not
    /// freeze a health check (`/healthz`, `/readyz`).
    func databaseAnswers() async throws {
        let pool = self.pool
        try await withDeadline(Self.deadline) {
            try await pool.withConnection { conn in _ = try conn.query("SELECT 1") }
        }
    }

    /// Every plugin's health, asked side by side, each bounded by `deadline`: with a frozen
    /// database, `/state` answers within one deadline, not one per plugin.
    static func healths(of plugins: [any ManagedPlugin]) async -> [PluginHealth] {
        await withTaskGroup(of: (Int, PluginHealth).self) { group in
            for (index, plugin) in plugins.enumerated() {
                group.addTask {
                    let health = try? await withDeadline(deadline) { await plugin.health() }
                    return (index, health ?? .unhealthy("no answer within \(deadline)"))
                }
            }
            var healths = [PluginHealth](repeating: .healthy, count: plugins.count)
            for await (index, health) in group { healths[index] = health }
            return healths
        }
    }
}
