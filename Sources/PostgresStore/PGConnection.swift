import CPostgres
import Foundation

/// One row of a text-format result.
public struct PGRow: Sendable {
    public let values: [String?]
    let columns: [String: Int]

    public subscript(_ name: String) -> String? {
        guard let i = columns[name] else { return nil }
        return values[i]
    }

    public func int(_ name: String) -> Int? { self[name].flatMap { Int($0) } }
    public func bool(_ name: String) -> Bool? { self[name].map { $0 == "t" } }
}

/// A blocking libpq connection. Only ever used from the pool's own threads, never from
/// Swift's cooperative pool. Parameterized queries only (`$1`, `$2`, … with text values).
public final class PGConnection {
    var conn: OpaquePointer?
    let url: String
    /// Statements prepared on this session (SQL text → name); a reset session has none.
    private var prepared: [String: String] = [:]
    /// Set while a fenced pool runs work on this connection: checked in every transaction just
    /// before COMMIT, so a plugin that lost its lease commits nothing.
    var fence: PostgresFence?
    private var inTransaction = false
    /// `SET …` statements run on every new or reset session.
    private let sessionSettings: [String]

    init(url: String, sessionSettings: [String] = []) throws(PostgresError) {
        self.url = url
        self.sessionSettings = sessionSettings
        conn = PQconnectdb(url)
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Self.errorMessage(conn)
            PQfinish(conn)
            conn = nil
            throw .connectionLost(message)
        }
        try applySessionSettings()
    }

    private func applySessionSettings() throws(PostgresError) {
        _ = try? exec("SET client_min_messages TO warning")
        for setting in sessionSettings { try exec(setting) }
    }

    deinit { PQfinish(conn) }

    var isHealthy: Bool { conn != nil && PQstatus(conn) == CONNECTION_OK }

    /// Re-establishes a broken connection.
    func reset() throws(PostgresError) {
        prepared = [:]
        PQreset(conn)
        guard PQstatus(conn) == CONNECTION_OK else { throw .connectionLost(Self.errorMessage(conn)) }
        inTransaction = false
        try applySessionSettings()
    }

    private static func errorMessage(_ conn: OpaquePointer?) -> String {
        guard let conn, let c = PQerrorMessage(conn) else { return "no connection" }
        // libpq messages can carry the connection string's host but never the password.
        return String(cString: c).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Parameters go to libpq as C strings: a NUL byte would silently cut the value short (and
    /// PostgreSQL text cannot hold one anyway), so such a value is refused as bad data (22021).
    static func refuseNUL(_ params: [String?]) throws(PostgresError) {
        for case var p? in params where Self.holdsNUL(&p) {
            throw .server(sqlState: "22021", message: "a text value holds a NUL byte, which PostgreSQL text cannot store")
        }
    }

    /// Whether `text` holds a NUL byte: one pass over its contiguous UTF-8 (made so if it is not).
    static func holdsNUL(_ text: inout String) -> Bool {
        text.withUTF8 { $0.contains(0) }
    }

    /// Runs one statement with text parameters and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ params: [String?] = []) throws(PostgresError) -> [PGRow] {
        try Self.refuseNUL(params)
        let result = withCParams(params) { values in
            PQexecParams(conn, sql, Int32(params.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        return try rows(of: result)
    }

    /// Like `query`, for statements run again and again with the same text (the hot paths):
    /// prepared once per session, so PostgreSQL parses it once and can keep its plan. Only for
    /// statements whose plan does not depend on a table's size (inserts, upserts by key): a
    /// plan kept from when a table was small can scan it whole once it is large.
    @discardableResult
    public func queryPrepared(_ sql: String, _ params: [String?] = []) throws(PostgresError) -> [PGRow] {
        try Self.refuseNUL(params)
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "unrip_\(prepared.count)"
            let result = PQprepare(conn, name, sql, Int32(params.count), nil)
            defer { PQclear(result) }
            _ = try rows(of: result)
            prepared[sql] = name
        }
        let result = withCParams(params) { values in
            PQexecPrepared(conn, name, Int32(params.count), values, nil, nil, 0)
        }
        defer { PQclear(result) }
        return try rows(of: result)
    }

    /// For the rest of the transaction, rows are found by plain index scans. The planner's
    /// statistics lag far behind tables that grow by thousands of rows a second, and a plan made
    /// for the small table they describe reads the whole large one. A plain index scan, not a
    /// bitmap one, also marks the entries of rows updated since the last vacuum dead as it
    /// passes them, so the next scan steps over them without visiting the table.
    public func indexScansOnly() throws(PostgresError) {
        try exec("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
    }

    /// Runs statements without parameters (migrations, BEGIN/COMMIT).
    public func exec(_ sql: String) throws(PostgresError) {
        let result = PQexec(conn, sql)
        defer { PQclear(result) }
        _ = try rows(of: result)
    }

    /// Runs `body` inside BEGIN … COMMIT; any error rolls back and is rethrown.
    /// Runs `body` in one transaction; one started inside another joins it (one COMMIT, at the
    /// end of the outermost). With a fence set, the lease is checked (and its row share-locked,
    /// so a takeover waits for this commit) right before COMMIT.
    public func transaction<T>(_ body: (PGConnection) throws -> T) throws -> T {
        if inTransaction { return try body(self) }
        try exec("BEGIN")
        inTransaction = true
        defer { inTransaction = false }
        do {
            let value = try body(self)
            if let fence { try fence.check(self) }
            try exec("COMMIT")
            return value
        } catch {
            if isHealthy { try? exec("ROLLBACK") }
            throw error
        }
    }

    private func rows(of result: OpaquePointer?) throws(PostgresError) -> [PGRow] {
        guard let result else { throw .connectionLost(Self.errorMessage(conn)) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return []
        case PGRES_TUPLES_OK:
            let n = Int(PQntuples(result)), m = Int(PQnfields(result))
            var columns: [String: Int] = [:]
            for j in 0..<m { columns[String(cString: PQfname(result, Int32(j)))] = j }
            var out: [PGRow] = []
            out.reserveCapacity(n)
            for i in 0..<n {
                var values: [String?] = []
                values.reserveCapacity(m)
                for j in 0..<m {
                    if PQgetisnull(result, Int32(i), Int32(j)) == 1 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, Int32(i), Int32(j))))
                    }
                }
                out.append(PGRow(values: values, columns: columns))
            }
            return out
        default:
            if PQstatus(conn) != CONNECTION_OK { throw .connectionLost(Self.errorMessage(conn)) }
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? "XX000"
            let message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
                ?? Self.errorMessage(conn)
            throw PostgresError.classify(sqlState: state, message: message)
        }
    }

    private func withCParams<R>(_ params: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let storage: [UnsafeMutablePointer<CChar>?] = params.map { $0.map { strdup($0) } ?? nil }
        defer { storage.forEach { free($0) } }
        return body(storage.map { $0.map { UnsafePointer($0) } })
    }
}
