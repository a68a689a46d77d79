/// What an error message, log line or state field may carry of text a peer controls: at most
/// `limit` bytes of it, cut at a character boundary, with a note of the whole size. A 60 MB
/// node reply must not become a 60 MB log line or `last_error`.
public enum Excerpt {
    /// The default bound for anything shown to an operator.
    public static let limit = 512

    public static func of(_ text: String, limit: Int = Excerpt.limit) -> String {
        let size = text.utf8.count
        guard size > limit else { return text }
        var bytes = Array(text.utf8.prefix(limit))
        // Never half a character: drop a trailing multi-byte sequence (whole or cut).
        while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }
        if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self) + "… (\(size) bytes in all)"
    }

    /// A JSON value a peer sent, for an error: large containers and strings are described by
    /// their size, not written out (a 58 MB reply must not be serialized into a message).
    public static func of(json value: JSONValue, limit: Int = Excerpt.limit) -> String {
        switch value {
        case .array(let items) where items.count > 32: return "an array of \(items.count) items"
        case .object(let members) where members.count > 32: return "an object of \(members.count) members"
        case .string(let s) where s.utf8.count > limit: return "a string of \(s.utf8.count) bytes: " + of(s, limit: limit)
        default: return of(value.serialized(), limit: limit)
        }
    }
}
