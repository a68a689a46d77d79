import Hummingbird

/// Percent-decodes every path segment once, so routes and `context.parameters` see the text:
/// `/alerts/funding_double_spent%3Abitcoin%3Aabc%3A0/resolve` finds the alert, `/plugins/%61lerts/state`
/// the plugin. A segment that cannot be decoded to plain text is answered 400: a malformed escape
/// (`%zz`, `%4`), or one decoding to invalid UTF-8, to '/' (a separator smuggled into a segment),
/// to '?' (it would start the query), to NUL or another control character (an HTTP field cannot
/// carry it; swift-http-types would turn it into a space). The query string is left as sent.
///
/// Router middleware runs after the route is chosen (`RouterResponder` resolves the path first),
/// so this one must run in front of the router: `PercentDecodedPathRouter` puts it there.
struct PercentDecodedPath<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let target = request.head.path, target.hasPrefix("/") else { return try await next(request, context) }
        let path = target.prefix { $0 != "?" }
        let query = target[path.endIndex...]  // "?…", or empty
        guard path.utf8.contains(UInt8(ascii: "%")) else { return try await next(request, context) }
        var decoded = ""
        for (index, segment) in path.split(separator: "/", omittingEmptySubsequences: false).enumerated() {
            if index > 0 { decoded.append("/") }
            switch Self.decode(segment) {
            case .success(let text): decoded += text
            case .failure(let refusal): return JSONResponse.error(.badRequest, "path segment \(quoted(segment)) \(refusal.message)")
            }
        }
        if query.isEmpty, decoded.hasSuffix(" ") {
            // An HTTP field value cannot end in a space: it would be dropped, and the path changed.
            return JSONResponse.error(.badRequest, "the request path ends in a space (%20) once decoded")
        }
        var head = request.head
        head.path = decoded + query
        return try await next(Request(head: head, body: request.body), context)
    }

    struct Refusal: Error {
        let message: String
    }

    /// The segment's bytes with each `%XY` replaced by the byte 0xXY, as UTF-8 text.
    static func decode(_ segment: Substring) -> Result<String, Refusal> {
        let bytes = Array(segment.utf8)
        guard bytes.contains(UInt8(ascii: "%")) else { return .success(String(segment)) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "%") else {
                out.append(bytes[i])
                i += 1
                continue
            }
            guard i + 2 < bytes.count, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) else {
                let escape = String(decoding: bytes[i..<min(i + 3, bytes.count)], as: UTF8.self)
                return .failure(Refusal(message: "has a malformed percent escape '\(escape)': '%' must be followed by two hex digits"))
            }
            let byte = high << 4 | low
            switch byte {
            case UInt8(ascii: "/"): return .failure(Refusal(message: "decodes to '/', which cannot be part of a segment"))
            case UInt8(ascii: "?"): return .failure(Refusal(message: "decodes to '?', which cannot be part of a path"))
            case 0x00: return .failure(Refusal(message: "decodes to a NUL byte"))
            case 0x01...0x1F, 0x7F: return .failure(Refusal(message: "decodes to a control character (\(String(decoding: bytes[i..<i + 3], as: UTF8.self)))"))
            default: out.append(byte)
            }
            i += 3
        }
        // Decoding repairs invalid UTF-8 with U+FFFD; if anything was repaired the bytes differ.
        let text = String(decoding: out, as: UTF8.self)
        guard text.utf8.elementsEqual(out) else { return .failure(Refusal(message: "does not decode to valid UTF-8")) }
        return .success(text)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A router with `PercentDecodedPath` in front of its route resolution: what `Application(router:)`
/// is given in place of the bare `Router`.
public struct PercentDecodedPathRouter<Base: HTTPResponderBuilder>: HTTPResponderBuilder where Base.Responder.Context: RequestContext {
    public let base: Base

    public init(_ base: Base) { self.base = base }

    public func buildResponder() -> PercentDecodedPathResponder<Base.Responder> {
        PercentDecodedPathResponder(base: base.buildResponder())
    }
}

/// Decodes the path (or answers 400), then hands the request to the router's responder.
public struct PercentDecodedPathResponder<Base: HTTPResponder>: HTTPResponder where Base.Context: RequestContext {
    let base: Base

    public func respond(to request: Request, context: Base.Context) async throws -> Response {
        try await PercentDecodedPath<Base.Context>().handle(request, context: context) { request, context in
            try await base.respond(to: request, context: context)
        }
    }
}
