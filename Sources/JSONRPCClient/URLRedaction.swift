import WatchCore

/// Hides secrets in RPC URLs before they reach a log, an error or `/state`: the shared rule
/// of `WatchCore.Redact` (password, query values, fragment, path segments that may be keys).
public enum URLRedaction {
    public static let marker = Redact.marker

    public static func redact(_ url: String) -> String { Redact.url(url) }
}
