import Foundation
import JSONRPCClient

/// Hides credentials in URLs and connection strings before they reach a log or `/state`.
public enum Redaction {
    /// URLs (`postgresql://user:secret@host/db`, RPC URLs with keys) go through the shared
    /// `URLRedaction`; libpq keyword strings (`host=x password=secret`) have their secret
    /// values replaced.
    public static func url(_ text: String) -> String {
        if text.contains("://") { return URLRedaction.redact(text) }
        return text.replacingOccurrences(
            of: #"(password|passwd|apikey|api_key|key|token|secret)=([^&\s]+)"#, with: "$1=<redacted>",
            options: [.regularExpression, .caseInsensitive])
    }
}
