import WatchCore

/// Rejects table headers that do not start with a key (`[,a]`, `[[ =x]]`) before the text reaches
/// toml++: its parser asserts on them (aborting the process in debug builds, undefined behaviour
/// in release ones) instead of reporting an error. Strings, comments and values spanning lines
/// are skipped, so only real headers are checked.
///
/// It also bounds how deep a dotted key or header may go (`[a.b.c…]`, `a.b.c… = 1`): 10,000
/// levels overflow the stack of whatever walks the tree. A dot counts as a key separator
/// unless it stands between two digits (a float, a time).
enum TOMLHeaderCheck {
    static let maxDottedLevels = 32

    static func problem(in text: String, path: String) -> ConfigProblem? {
        var scan = TOMLScan(bytes: Array(text.utf8))
        while scan.i < scan.bytes.count {
            if let found = scan.step() {
                switch found {
                case .tooDeep:
                    return ConfigProblem(
                        key: "(file)", value: "\(path) line \(scan.line)",
                        expected: "keys nested too deep: at most \(maxDottedLevels) dotted levels (a.b.c…) per key or table header")
                case .headerWithoutKey(let lineText):
                    return ConfigProblem(
                        key: "(file)", value: "\(path) line \(scan.line)",
                        expected: "not valid TOML: table header \(lineText.prefix(40)) must start with a key name, e.g. [bitcoin]")
                }
            }
        }
        return nil
    }
}

/// A byte-wise walk over TOML text that knows just enough (strings, comments, brackets, line
/// starts) to find table headers and count key separators.
struct TOMLScan {
    enum Finding { case tooDeep, headerWithoutKey(String) }

    let bytes: [UInt8]
    var i = 0
    var line = 1
    /// Open `[` or `{` inside a value.
    var depth = 0
    var atLineStart = true
    var dotsOnLine = 0

    /// Consumes one token (a byte, a string, a comment or a header); a finding stops the walk.
    mutating func step() -> Finding? {
        let c = bytes[i]
        switch c {
        case 0x0a:
            line += 1
            dotsOnLine = 0
            atLineStart = true
            i += 1
            return nil
        case 0x20, 0x09, 0x0d:
            i += 1
            return nil
        case 0x23:  // comment to end of line
            while i < bytes.count, bytes[i] != 0x0a { i += 1 }
            return nil
        case 0x22, 0x27:
            skipString(c)
        case 0x5b where atLineStart && depth == 0:
            if let finding = header() { return finding }
        case 0x5b, 0x7b:
            depth += 1
            i += 1
        case 0x5d, 0x7d:
            depth = max(0, depth - 1)
            i += 1
        case 0x2e where countSeparator():
            return .tooDeep
        default:
            i += 1
        }
        atLineStart = false
        return nil
    }

    /// A table header at `i`: it must start with a key; its dots are counted.
    private mutating func header() -> Finding? {
        var j = i + 1
        if j < bytes.count, bytes[j] == 0x5b { j += 1 }
        while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 { j += 1 }
        guard j < bytes.count, Self.isKeyStart(bytes[j]) else {
            return .headerWithoutKey(String(decoding: bytes[i...].prefix { $0 != 0x0a }, as: UTF8.self))
        }
        while i < bytes.count, bytes[i] != 0x0a, bytes[i] != 0x23 {
            if bytes[i] == 0x22 || bytes[i] == 0x27 {
                skipString(bytes[i])
                continue
            }
            if countSeparator() { return .tooDeep }
            i += 1
        }
        return nil
    }

    /// Counts a key separator at `i`; true when the line went too deep.
    private mutating func countSeparator() -> Bool {
        guard bytes[i] == 0x2e, !(isDigit(i - 1) && isDigit(i + 1)) else { return false }
        dotsOnLine += 1
        return dotsOnLine >= TOMLHeaderCheck.maxDottedLevels
    }

    private func isDigit(_ k: Int) -> Bool { k >= 0 && k < bytes.count && bytes[k] >= 0x30 && bytes[k] <= 0x39 }

    private static func isKeyStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2d
            || c == 0x22 || c == 0x27
    }

    /// Skips a basic or literal string, single- or multi-line, at `i`.
    private mutating func skipString(_ quote: UInt8) {
        let multi = i + 2 < bytes.count && bytes[i + 1] == quote && bytes[i + 2] == quote
        i += multi ? 3 : 1
        while i < bytes.count {
            if bytes[i] == 0x0a {
                line += 1
                if !multi { return }
            }
            if quote == 0x22, bytes[i] == 0x5c {  // escape in a basic string
                i += 2
                continue
            }
            if bytes[i] == quote {
                if !multi {
                    i += 1
                    return
                }
                if i + 2 < bytes.count, bytes[i + 1] == quote, bytes[i + 2] == quote {
                    i += 3
                    return
                }
            }
            i += 1
        }
    }
}
