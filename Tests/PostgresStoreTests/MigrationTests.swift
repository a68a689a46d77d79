import Foundation
import PostgresStore
import Testing
import WatchTesting

@Suite struct MigrationTests {
    @Test func appliesInOrderOnceAndRecordsThem() async throws {
        let db = try await TestDatabase.create(migrated: false)
        let runner = try MigrationRunner(directory: TestDatabase.migrationsDirectory)
        #expect(!runner.migrations.isEmpty)
        let first = try await runner.apply(to: db.pool)
        #expect(first == runner.migrations.map(\.version))
        let second = try await runner.apply(to: db.pool)
        #expect(second.isEmpty)
        let recorded = try await db.pool.withConnection { conn in
            try conn.query("SELECT version FROM schema_migrations ORDER BY version").compactMap { $0.int("version") }
        }
        #expect(recorded == runner.migrations.map(\.version))
    }

    @Test func concurrentRunnersApplyEachMigrationExactlyOnce() async throws {
        let db = try await TestDatabase.create(migrated: false)
        let runner = try MigrationRunner(directory: TestDatabase.migrationsDirectory)
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<3 { group.addTask { try await runner.apply(to: PostgresPool(url: db.url, size: 1)) } }
            return try await group.reduce(into: [[Int]]()) { $0.append($1) }
        }
        #expect(results.flatMap { $0 }.sorted() == runner.migrations.map(\.version))
    }

    @Test func refusesADatabaseWhoseMigrationDiffersFromTheFile() async throws {
        let db = try await TestDatabase.create(migrated: false)
        try await MigrationRunner(migrations: [Migration(version: 1, name: "0001_a.sql", sql: "CREATE TABLE a (x int)")]).apply(to: db.pool)
        let edited = MigrationRunner(migrations: [Migration(version: 1, name: "0001_a.sql", sql: "CREATE TABLE a (x bigint)")])
        await #expect {
            try await edited.apply(to: db.pool)
        } throws: { error in
            guard case MigrationError.changed(let v, let f, _, _) = error else { return false }
            return v == 1 && f == "0001_a.sql" && "\(error)".contains("never edit an applied migration")
        }
    }

    @Test func failingMigrationLeavesNothingBehind() async throws {
        let db = try await TestDatabase.create(migrated: false)
        let bad = MigrationRunner(migrations: [Migration(version: 7, name: "0007_bad.sql", sql: "CREATE TABLE ok (x int); SELECT nonsense FROM nowhere;")])
        await #expect(throws: MigrationError.self) { try await bad.apply(to: db.pool) }
        let tables = try await db.pool.withConnection { conn in
            try conn.query("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'ok'").first?.int("n")
        }
        #expect(tables == 0)
    }

    @Test func missingDirectoryIsAClearError() {
        #expect(throws: MigrationError.directoryNotFound("/nonexistent/migrations")) {
            try MigrationRunner(directory: "/nonexistent/migrations")
        }
    }
}
