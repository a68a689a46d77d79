import Foundation
import Logging

/// A migration file `NNNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case directoryNotFound(String)
    case badFileName(String)
    case duplicateVersion(Int)
    /// The database recorded a different file under this number: someone edited an applied migration.
    case changed(version: Int, file: String, recordedChecksum: String, fileChecksum: String)
    case failed(version: Int, file: String, error: String)
    /// The database was migrated by a newer binary: this one does not know its schema.
    case newerDatabase(database: Int, binary: Int)

    public var description: String {
        switch self {
        case .directoryNotFound(let d):
            "migrations directory not found: \(d) (set [database] migrations_dir or run from the repository root)"
        case .badFileName(let f): "migration file name \(f) is not NNNN_name.sql"
        case .duplicateVersion(let v): "two migration files share version \(v)"
        case .changed(let v, let f, let r, let c):
            "migration \(v) (\(f)) differs from the one applied to this database (recorded sha256 \(r.prefix(12))…, file \(c.prefix(12))…): never edit an applied migration; add a new one"
        case .failed(let v, let f, let e): "migration \(v) (\(f)) failed: \(e)"
        case .newerDatabase(let d, let b):
            "the database's schema is at version \(d), newer than this binary knows (\(b)): a newer unrip-watch migrated it; run that version (or restore the database), never an older binary on a newer schema"
        }
    }
}

/// Applies `migrations/*.sql` in order, under an advisory lock, recording each in
/// `schema_migrations` with its checksum. Idempotent; refuses a changed migration.
public struct MigrationRunner: Sendable {
    /// Advisory lock key: "unripmig" as a 64-bit integer.
    static let lockKey = "8459667447683553639"
    public let migrations: [Migration]

    public init(migrations: [Migration]) { self.migrations = migrations }

    /// The newest schema version this binary knows.
    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Loads `NNNN_name.sql` files from `directory`.
    public init(directory: String) throws {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw MigrationError.directoryNotFound(directory)
        }
        var found: [Migration] = []
        for file in files.sorted() where file.hasSuffix(".sql") {
            guard let underscore = file.firstIndex(of: "_"), let version = Int(file[..<underscore]) else {
                throw MigrationError.badFileName(file)
            }
            if found.contains(where: { $0.version == version }) { throw MigrationError.duplicateVersion(version) }
            let sql = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            found.append(Migration(version: version, name: file, sql: sql))
        }
        migrations = found.sorted { $0.version < $1.version }
    }

    /// Finds the migrations directory: `explicit`, else `./migrations`, else in a folder above
    /// the executable: the release's `bin/../migrations`, wherever it was extracted and however
    /// it was started (through `PATH` or a symlink: the path is the one `/proc/self/exe` names),
    /// or a checkout's `.build/debug/../../migrations`.
    public static func locate(explicit: String?) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        let fm = FileManager.default
        if fm.fileExists(atPath: "migrations") { return "migrations" }
        let executables = [
            (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { URL(fileURLWithPath: $0) },
            URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath(),
        ]
        for executable in executables.compactMap({ $0 }) {
            var dir = executable.deletingLastPathComponent()
            for _ in 0..<5 {
                let candidate = dir.appendingPathComponent("migrations").path
                if fm.fileExists(atPath: candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return "migrations"
    }

    /// Applies what is missing; returns the versions applied now.
    @discardableResult
    public func apply(to pool: PostgresPool, logger: Logger = Logger(label: "unrip.migrate")) async throws -> [Int] {
        let migrations = self.migrations
        return try await pool.withConnection { conn in
            try conn.query("SELECT pg_advisory_lock($1::bigint)", [MigrationRunner.lockKey])
            defer { _ = try? conn.query("SELECT pg_advisory_unlock($1::bigint)", [MigrationRunner.lockKey]) }
            try conn.exec(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """)
            var recorded: [Int: String] = [:]
            for row in try conn.query("SELECT version, checksum FROM schema_migrations") {
                if let v = row.int("version"), let c = row["checksum"] { recorded[v] = c }
            }
            let known = latestVersion
            if let newest = recorded.keys.max(), newest > known { throw MigrationError.newerDatabase(database: newest, binary: known) }
            var applied: [Int] = []
            for m in migrations {
                let checksum = try conn.query("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS c", [m.sql])
                    .first?["c"] ?? ""
                if let existing = recorded[m.version] {
                    if existing != checksum {
                        throw MigrationError.changed(version: m.version, file: m.name, recordedChecksum: existing, fileChecksum: checksum)
                    }
                    continue
                }
                do {
                    try conn.transaction { conn in
                        try conn.exec(m.sql)
                        try conn.query(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                            [String(m.version), m.name, checksum])
                    }
                } catch let error as PostgresError {
                    throw MigrationError.failed(version: m.version, file: m.name, error: error.description)
                }
                logger.info("applied migration", metadata: ["version": "\(m.version)", "file": "\(m.name)"])
                applied.append(m.version)
            }
            return applied
        }
    }

    /// Where the database's schema stands against this binary's migrations.
    public enum SchemaStatus: Sendable, Equatable {
        case current
        /// No `schema_migrations` (a database dropped and recreated empty), or nothing recorded.
        case missing
        case behind(database: Int, binary: Int)
        case ahead(database: Int, binary: Int)
    }

    /// Reads the schema's version (two cheap catalog reads; no lock).
    public func status(of pool: PostgresPool) async throws -> SchemaStatus {
        let known = latestVersion
        let newest: Int? = try await pool.withConnection { conn in
            guard try conn.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present").first?.bool("present") == true else { return nil }
            return try conn.query("SELECT max(version) AS v FROM schema_migrations").first?.int("v")
        }
        guard let newest else { return .missing }
        if newest < known { return .behind(database: newest, binary: known) }
        if newest > known { return .ahead(database: newest, binary: known) }
        return .current
    }
}
