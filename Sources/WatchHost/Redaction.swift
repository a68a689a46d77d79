import Foundation

/// Hides credentials in URLs and connection strings before they reach a log or `/state`.
public enum Redaction {
    /// `postgresql://user:secret@host/db` → `postgresql://user:<redacted>@host/db`;
    /// `host=x password=secret` → `host=x password=<redacted>`; query keys that look like
    /// API keys or tokens are redacted too.
    public static func url(_ text: String) -> String {
        var out = text
        if let scheme = out.range(of: "://"), let at = out[scheme.upperBound...].firstIndex(of: "@") {
            let userinfo = out[scheme.upperBound..<at]
            if let colon = userinfo.firstIndex(of: ":") {
                out.replaceSubrange(out.index(after: colon)..<at, with: "<redacted>")
            }
        }
        out = out.replacingOccurrences(
            of: #"(password|passwd|apikey|api_key|key|token|secret)=([^&\s]+)"#, with: "$1=<redacted>",
            options: [.regularExpression, .caseInsensitive])
        return out
    }
}
