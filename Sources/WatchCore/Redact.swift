import Foundation

/// The one rule for hiding secrets wherever config or an endpoint is shown (`check-config`,
/// `GET /state`, logs, errors):
/// - a key that names a secret (`Redact.isSecretKey`) shows `<redacted>` for its value;
/// - a URL keeps its scheme, user name, host, port and plain path words; the password, every
///   query value, the fragment, and any path segment that may be a key (8+ characters with a
///   digit, or 16+ of any kind) are hidden;
/// - a libpq keyword string (`host=x password = 'a b'`) has its secret values hidden.
public enum Redact {
    public static let marker = "<redacted>"

    /// Words that make a config key (or a libpq / Kafka property name) a secret.
    static let secretWords = [
        "password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key", "key", "jaas", "oauthbearer",
        "credential", "cookie", "auth", "pem", "private",
    ]

    /// Whether a key's value must never be shown (`rpc_password`, `ssl.key.pem`,
    /// `sasl.jaas.config`, `webhook_token`, …). Over-redacting is harmless; a leak is not.
    public static func isSecretKey(_ key: String) -> Bool {
        let lower = key.lowercased()
        if lower.hasSuffix("_file") || lower.hasSuffix(".location") { return false }  // a path to a secret, not the secret
        return secretWords.contains { lower.contains($0) }
    }

    /// A config value as shown: hidden for a secret key, URLs and connection strings redacted.
    public static func value(_ text: String, key: String) -> String {
        isSecretKey(key) ? (text.isEmpty ? "" : marker) : credentials(text)
    }

    /// A URL or a libpq keyword string, its credentials hidden; other text as it is.
    public static func credentials(_ text: String) -> String {
        if text.contains("://") { return url(text) }
        // `user:secret@host:5432/db` without a scheme is a URL too; a keyword string has its
        // `=` before any `@` (`password=a@b host=x`).
        if let at = text.lastIndex(of: "@"), !text[..<at].contains("=") { return url(text) }
        return keywordString(text)
    }

    /// The password of a URL or `user:password@host` string, and its pieces between `/`, `:`,
    /// `?`, `#` (a library that misreads the URL may echo one piece: libpq reads
    /// `postgresql://u:a/b@h/db` as host `u`, port `a`), for `scrub`. Pieces under 4 characters
    /// are left out: hiding them would hide ordinary words.
    public static func secretFragments(ofURL text: String) -> [String] {
        var rest = Substring(text)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        guard let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") else { return [] }
        let password = rest[rest.index(after: colon)..<at]
        let pieces = password.split(whereSeparator: { "/:?#@".contains($0) }).map(String.init)
        return ([String(password)] + pieces).filter { $0.count >= 4 }
    }

    /// `text` with every URL redacted and every fragment replaced by the marker: for error text
    /// from a library that may quote what it was given.
    public static func scrub(_ text: String, fragments: [String]) -> String {
        var out = urls(inText: text)
        for fragment in fragments.sorted(by: { $0.count > $1.count }) where !fragment.isEmpty {
            out = out.replacingOccurrences(of: fragment, with: marker)
        }
        return out
    }

    /// Every URL inside free text (an error message, a problem's value) redacted.
    public static func urls(inText text: String) -> String {
        guard text.contains("://") else { return text }
        var out = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            var start = scheme.lowerBound
            while start > rest.startIndex, isSchemeCharacter(rest[rest.index(before: start)]) { start = rest.index(before: start) }
            let end = rest[scheme.upperBound...].firstIndex { $0.isWhitespace || $0 == "\"" || $0 == "'" || $0 == "," } ?? rest.endIndex
            out += rest[..<start]
            out += url(String(rest[start..<end]))
            rest = rest[end...]
        }
        return out + rest
    }

    private static func isSchemeCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "+" || c == "." || c == "-" }

    public static func url(_ url: String) -> String {
        var rest = Substring(url)
        var out = ""
        if let scheme = rest.range(of: "://") {
            out += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
        }
        // The user info ends at the last '@', wherever it stands: a password may hold '/', '?',
        // '#', ':' (`postgresql://u:a/b@host/db`), and no parser's idea of where the host begins
        // decides what is hidden. An '@' further on (in a path or query) hides more: harmless.
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            let user = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            out += (userinfo.contains(":") ? "\(user):\(marker)" : marker) + "@"
            rest = rest[rest.index(after: at)...]
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        out += rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        let queryStart = rest.firstIndex { $0 == "?" || $0 == "#" } ?? rest.endIndex
        out += rest[..<queryStart].split(separator: "/", omittingEmptySubsequences: false)
            .map { mayBeKey($0) ? marker : String($0) }
            .joined(separator: "/")
        var tail = rest[queryStart...]
        if tail.hasPrefix("?") {
            tail = tail.dropFirst()
            let queryEnd = tail.firstIndex(of: "#") ?? tail.endIndex
            let pairs = tail[..<queryEnd].split(separator: "&", omittingEmptySubsequences: false).map { pair in
                guard let eq = pair.firstIndex(of: "=") else { return mayBeKey(pair) ? marker : String(pair) }
                return "\(pair[..<eq])=\(marker)"
            }
            out += "?" + pairs.joined(separator: "&")
            tail = tail[queryEnd...]
        }
        if !tail.isEmpty { out += "#\(marker)" }
        return out
    }

    /// A path segment or bare query word that may be an API key: 16+ characters, or 8+ with a
    /// digit (`v3`, `rpc`, `mainnet`, `bsc-dataseed` stay readable).
    static func mayBeKey(_ segment: Substring) -> Bool {
        segment.count >= 16 || (segment.count >= 8 && segment.contains { $0.isNumber })
    }

    /// libpq keyword/value connection strings: `password=x`, `password = x`, `password='a b'`
    /// (with `\'` escapes), for every secret-like keyword.
    public static func keywordString(_ text: String) -> String {
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            guard let eq = text[i...].firstIndex(of: "=") else { break }
            let keyword = text[i..<eq].reversed().drop { $0.isWhitespace }.prefix { !$0.isWhitespace && $0 != "&" && $0 != "?" }
            let name = String(keyword.reversed())
            var valueStart = text.index(after: eq)
            while valueStart < text.endIndex, text[valueStart].isWhitespace { valueStart = text.index(after: valueStart) }
            let valueEnd = endOfValue(text, from: valueStart)
            out += text[i..<valueStart]
            out += isSecretKey(name) && valueStart < valueEnd ? marker : String(text[valueStart..<valueEnd])
            i = valueEnd
        }
        return out + text[i...]
    }

    /// Where a keyword's value ends: after its closing quote, or at white space or '&'.
    private static func endOfValue(_ text: String, from start: String.Index) -> String.Index {
        guard start < text.endIndex else { return start }
        if text[start] == "'" {
            var j = text.index(after: start)
            while j < text.endIndex {
                if text[j] == "\\" {
                    j = text.index(after: j)
                    if j < text.endIndex { j = text.index(after: j) }
                    continue
                }
                if text[j] == "'" { return text.index(after: j) }
                j = text.index(after: j)
            }
            return text.endIndex
        }
        return text[start...].firstIndex { $0.isWhitespace || $0 == "&" } ?? text.endIndex
    }
}
