import Foundation
import PostgresStore

/// A fresh, migrated PostgreSQL database per test suite, created in the cluster that
/// `./scripts/test` started (`UNRIP_TEST_DATABASE_URL`). No mock database, ever.
public struct TestDatabase: Sendable {
    public let url: String
    public let name: String
    public let pool: PostgresPool

    public init(url: String, name: String, pool: PostgresPool) {
        self.url = url
        self.name = name
        self.pool = pool
    }

    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String {
            "UNRIP_TEST_DATABASE_URL is not set: run the tests through ./scripts/test, which starts a throwaway PostgreSQL, or point it at a server"
        }
    }

    /// The repository's `migrations/` directory.
    public static var migrationsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("migrations").path
    }

    /// Creates `unrip_test_<random>` and applies the migrations unless `migrated` is false.
    public static func create(migrated: Bool = true, poolSize: Int = 4) async throws -> TestDatabase {
        guard let base = ProcessInfo.processInfo.environment["UNRIP_TEST_DATABASE_URL"], !base.isEmpty else {
            throw NotConfigured()
        }
        let name = "unrip_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let admin = PostgresPool(url: base, size: 1)
        try await admin.withConnection { conn in try conn.exec("CREATE DATABASE \(name)") }
        let url = Self.url(base, database: name)
        let pool = PostgresPool(url: url, size: poolSize)
        if migrated {
            try await MigrationRunner(directory: migrationsDirectory).apply(to: pool)
        }
        return TestDatabase(url: url, name: name, pool: pool)
    }

    /// `base` with its database name replaced.
    static func url(_ base: String, database: String) -> String {
        guard let scheme = base.range(of: "://") else { return base + " dbname=\(database)" }
        let rest = base[scheme.upperBound...]
        let query = rest.firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        return base[..<scheme.upperBound] + authority + "/" + database + query
    }
}
