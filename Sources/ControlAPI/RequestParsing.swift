import Hummingbird

/// Numbers in paths and query strings, strictly: ASCII digits only (no sign, space or `+1`),
/// at most 18 of them, so nothing a client writes is read as something else.
enum RequestNumber {
    static func parse(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }

    /// A row id: a positive integer.
    static func id(_ text: some StringProtocol) -> Int? { parse(text).flatMap { $0 > 0 ? $0 : nil } }
}

/// What a client wrote, quoted in an error: at most 64 characters of it.
func quoted(_ text: some StringProtocol) -> String { "'\(text.prefix(64))'" + (text.count > 64 ? "…" : "") }

/// A request body of at most `limit` bytes; a larger one is refused with 413 (naming the
/// limit) as soon as it passes it, without reading the rest.
func collectBody(_ request: Request, limit: Int) async throws -> ByteBuffer {
    var body = ByteBuffer()
    for try await chunk in request.body {
        guard body.readableBytes + chunk.readableBytes <= limit else {
            throw HTTPError(.contentTooLarge, message: "request body over \(limit) bytes; send at most \(limit)")
        }
        var piece = chunk
        body.writeBuffer(&piece)
    }
    return body
}
