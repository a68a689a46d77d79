/// A PostgreSQL failure, classified so callers can decide: retry (connection), report
/// (constraint), or fix the code (syntax).
public enum PostgresError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Could not connect, or the connection broke. Retrying after a reconnect may succeed.
    case connectionLost(String)
    /// A constraint refused the write (SQLSTATE class 23).
    case constraintViolation(sqlState: String, message: String)
    /// The statement is wrong (SQLSTATE class 42).
    case syntax(sqlState: String, message: String)
    /// A serialization or deadlock failure (40001, 40P01): retry the transaction.
    case transactionConflict(sqlState: String, message: String)
    /// Anything else the server reported.
    case server(sqlState: String, message: String)
    /// A result did not have the shape the code expected.
    case unexpectedResult(String)

    public var description: String {
        switch self {
        case .connectionLost(let m): "PostgreSQL connection lost: \(m)"
        case .constraintViolation(let s, let m): "PostgreSQL constraint violation (\(s)): \(m)"
        case .syntax(let s, let m): "PostgreSQL statement error (\(s)): \(m)"
        case .transactionConflict(let s, let m): "PostgreSQL transaction conflict (\(s)): \(m)"
        case .server(let s, let m): "PostgreSQL error (\(s)): \(m)"
        case .unexpectedResult(let m): "unexpected PostgreSQL result: \(m)"
        }
    }

    static func classify(sqlState: String, message: String) -> PostgresError {
        switch sqlState.prefix(2) {
        case "23": .constraintViolation(sqlState: sqlState, message: message)
        case "42": .syntax(sqlState: sqlState, message: message)
        case "08", "57": .connectionLost("\(sqlState): \(message)")
        case "40": .transactionConflict(sqlState: sqlState, message: message)
        default: .server(sqlState: sqlState, message: message)
        }
    }

    /// The server refused the values written (SQLSTATE class 22, a data exception such as a
    /// date out of range, or 23, a constraint): the same write fails every time, whatever the
    /// database's health, so the input that carried them must be set aside, not retried.
    public var isRefusalOfTheData: Bool {
        switch self {
        case .constraintViolation: return true
        case .server(let state, _): return state.hasPrefix("22")
        default: return false
        }
    }

    public var isConnectionLost: Bool {
        if case .connectionLost = self { return true }
        return false
    }
}
