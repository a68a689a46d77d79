import Foundation
import WatchCore

/// Hides credentials in URLs and connection strings before they reach a log or `/state`
/// (the shared rule of `WatchCore.Redact`).
public enum Redaction {
    /// URLs (`postgresql://user:secret@host/db`, RPC URLs with keys) and libpq keyword strings
    /// (`host=x password = 'secret'`), their secrets replaced.
    public static func url(_ text: String) -> String { Redact.credentials(text) }
}
