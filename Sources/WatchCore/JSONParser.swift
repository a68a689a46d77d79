/// Why a document is not JSON: the byte offset and what was wrong there.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "malformed JSON at byte \(offset): \(reason)" }
}

extension JSONValue {
    /// The deepest nesting `parse` accepts, so hostile input cannot exhaust the stack.
    public static let maxParseDepth = 256

    /// Parses one JSON document (RFC 8259, strict): no trailing commas, comments, leading zeros,
    /// NaN/Infinity, unescaped control characters, lone surrogates, invalid UTF-8 or trailing
    /// bytes. Integers that fit `Int64` become `.int`; every other number is kept exactly as
    /// `.number(text)`. Duplicate object keys: the last one wins.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: Array(bytes))
        return try parser.document()
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

struct JSONParser {
    let bytes: [UInt8]
    var at = 0
    var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? at, reason: reason)
    }

    mutating func document() throws(JSONParseError) -> JSONValue {
        skipSpace()
        if at == bytes.count { throw fail("empty document") }
        let value = try value()
        skipSpace()
        if at != bytes.count { throw fail("unexpected \(describe(bytes[at])) after the document") }
        return value
    }

    mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 {
            at += 1
        }
    }

    func describe(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    mutating func value() throws(JSONParseError) -> JSONValue {
        guard at < bytes.count else { throw fail("unexpected end of input, expected a value") }
        switch bytes[at] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected \(describe(bytes[at])), expected a value")
        }
    }

    mutating func literal(_ word: StaticString, _ result: JSONValue) throws(JSONParseError) -> JSONValue {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count else { throw fail("unexpected end of input in literal") }
        for i in 0..<n where bytes[at + i] != word.utf8Start[i] {
            throw fail("invalid literal, expected \(word)")
        }
        at += n
        return result
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > JSONValue.maxParseDepth { throw fail("nesting deeper than \(JSONValue.maxParseDepth)") }
    }

    mutating func object() throws(JSONParseError) -> JSONValue {
        try enter()
        at += 1
        var fields: [String: JSONValue] = [:]
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
            at += 1
            depth -= 1
            return .object(fields)
        }
        while true {
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else {
                throw fail(at < bytes.count ? "expected a string key" : "unexpected end of input in object")
            }
            let key = try string()
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
            at += 1
            skipSpace()
            fields[key] = try value()
            skipSpace()
            guard at < bytes.count else { throw fail("unexpected end of input in object") }
            if bytes[at] == UInt8(ascii: ",") {
                at += 1
                continue
            }
            guard bytes[at] == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in object") }
            at += 1
            depth -= 1
            return .object(fields)
        }
    }

    mutating func array() throws(JSONParseError) -> JSONValue {
        try enter()
        at += 1
        var items: [JSONValue] = []
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
            at += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipSpace()
            items.append(try value())
            skipSpace()
            guard at < bytes.count else { throw fail("unexpected end of input in array") }
            if bytes[at] == UInt8(ascii: ",") {
                at += 1
                continue
            }
            guard bytes[at] == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in array") }
            at += 1
            depth -= 1
            return .array(items)
        }
    }

    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = at
        var integral = true
        if bytes[at] == UInt8(ascii: "-") { at += 1 }
        func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
        guard isDigit(at) else { throw fail("expected a digit") }
        if bytes[at] == UInt8(ascii: "0") {
            at += 1
            if isDigit(at) { throw fail("leading zero in number") }
        } else {
            while isDigit(at) { at += 1 }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            integral = false
            at += 1
            guard isDigit(at) else { throw fail("expected a digit after '.'") }
            while isDigit(at) { at += 1 }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            integral = false
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard isDigit(at) else { throw fail("expected a digit in exponent") }
            while isDigit(at) { at += 1 }
        }
        let text = String(decoding: bytes[start..<at], as: UTF8.self)
        if integral, let i = Int64(text) { return .int(i) }
        return .number(text)
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard at + 4 <= bytes.count else { throw fail("unexpected end of input in \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[at]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x61...0x66: d = UInt32(b - 0x57)
            case 0x41...0x46: d = UInt32(b - 0x37)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            at += 1
        }
        return v
    }

    mutating func string() throws(JSONParseError) -> String {
        at += 1  // opening quote
        var out = String.UnicodeScalarView()
        while true {
            guard at < bytes.count else { throw fail("unterminated string") }
            let b = bytes[at]
            switch b {
            case UInt8(ascii: "\""):
                at += 1
                return String(out)
            case UInt8(ascii: "\\"):
                at += 1
                guard at < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""): out.append("\"")
                case UInt8(ascii: "\\"): out.append("\\")
                case UInt8(ascii: "/"): out.append("/")
                case UInt8(ascii: "b"): out.append("\u{08}")
                case UInt8(ascii: "f"): out.append("\u{0C}")
                case UInt8(ascii: "n"): out.append("\n")
                case UInt8(ascii: "r"): out.append("\r")
                case UInt8(ascii: "t"): out.append("\t")
                case UInt8(ascii: "u"):
                    let escapeStart = at - 2
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u")
                        else { throw fail("lone high surrogate", at: escapeStart) }
                        at += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("invalid low surrogate", at: escapeStart) }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw fail("lone low surrogate", at: escapeStart)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape", at: escapeStart) }
                    out.append(scalar)
                default:
                    throw fail("invalid escape \\\(describe(e))", at: at - 2)
                }
            case 0x00..<0x20:
                throw fail("unescaped control character in string")
            case 0x20..<0x80:
                out.append(Unicode.Scalar(b))
                at += 1
            default:
                out.append(try utf8Scalar())
            }
        }
    }

    /// Decodes one multi-byte UTF-8 sequence, rejecting overlong forms, surrogates and > U+10FFFF.
    mutating func utf8Scalar() throws(JSONParseError) -> Unicode.Scalar {
        let start = at
        let b0 = bytes[at]
        let count: Int
        var value: UInt32
        var minimum: UInt32
        switch b0 {
        case 0xC2...0xDF: (count, value, minimum) = (2, UInt32(b0 & 0x1F), 0x80)
        case 0xE0...0xEF: (count, value, minimum) = (3, UInt32(b0 & 0x0F), 0x800)
        case 0xF0...0xF4: (count, value, minimum) = (4, UInt32(b0 & 0x07), 0x10000)
        default: throw fail("invalid UTF-8 lead byte")
        }
        guard at + count <= bytes.count else { throw fail("truncated UTF-8 sequence") }
        for i in 1..<count {
            let b = bytes[at + i]
            guard b & 0xC0 == 0x80 else { throw fail("invalid UTF-8 continuation byte", at: at + i) }
            value = value << 6 | UInt32(b & 0x3F)
        }
        guard value >= minimum, value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value),
            let scalar = Unicode.Scalar(value)
        else { throw fail("invalid UTF-8 sequence", at: start) }
        at += count
        return scalar
    }
}
