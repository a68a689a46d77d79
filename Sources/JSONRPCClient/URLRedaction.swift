/// Hides secrets in RPC URLs before they reach a log, an error or `/state`: the password of
/// `user:pass@`, every query value, and path segments that look like API keys (Infura
/// `/v3/<key>`, Alchemy `/v2/<key>`, QuickNode `/<token>/`: 16+ characters).
public enum URLRedaction {
    public static let marker = "<redacted>"

    public static func redact(_ url: String) -> String {
        var rest = Substring(url)
        var out = ""
        if let scheme = rest.range(of: "://") {
            out += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            let user = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            out += (userinfo.contains(":") ? "\(user):\(marker)" : marker) + "@"
            authority = authority[authority.index(after: at)...]
        }
        out += authority
        rest = rest[authorityEnd...]
        let queryStart = rest.firstIndex { $0 == "?" || $0 == "#" } ?? rest.endIndex
        let path = rest[..<queryStart]
        out += path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.count >= 16 ? marker : String($0) }
            .joined(separator: "/")
        var tail = rest[queryStart...]
        if tail.hasPrefix("?") {
            tail = tail.dropFirst()
            let queryEnd = tail.firstIndex(of: "#") ?? tail.endIndex
            let pairs = tail[..<queryEnd].split(separator: "&", omittingEmptySubsequences: false).map { pair in
                guard let eq = pair.firstIndex(of: "=") else { return pair.count >= 16 ? marker : String(pair) }
                return "\(pair[..<eq])=\(marker)"
            }
            out += "?" + pairs.joined(separator: "&")
            tail = tail[queryEnd...]
        }
        if !tail.isEmpty { out += "#\(marker)" }
        return out
    }
}
