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

    /// Bytes as text (lossily decoded), bounded the same way.
    public static func of(bytes: some Collection<UInt8>, limit: Int = Excerpt.limit) -> String {
        let shown = String(decoding: bytes.prefix(limit), as: UTF8.self)
        return bytes.count > limit ? shown + "… (\(bytes.count) bytes in all)" : shown
    }
}
