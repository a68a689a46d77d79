/// The intents account a handle's deposits are credited to: a NEAR account id.
public enum HandleAccount {
    /// Whether `text` is a NEAR account id: 2 to 64 characters, lower-case letters, digits and
    /// `-` `_` between them, in `.`-separated parts (`mm.near`, `solver-1.tg`), or a 64-hex implicit one.
    public static func isValid(_ text: String) -> Bool {
        guard (2...64).contains(text.utf8.count) else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            guard let first = part.first, let last = part.last, first.isLetterOrDigitASCII, last.isLetterOrDigitASCII else { return false }
            var previousSeparator = false
            for c in part {
                if c.isLetterOrDigitASCII {
                    previousSeparator = false
                } else if c == "-" || c == "_" {
                    if previousSeparator { return false }
                    previousSeparator = true
                } else {
                    return false
                }
            }
            return true
        }
    }

    /// A handle table's optional `account`, checked; nil when absent or refused (the problem is
    /// recorded, naming the key).
    public static func read(_ handle: ConfigSection) -> String? {
        guard let text = handle.string("account") else { return nil }
        guard isValid(text) else {
            handle.problem("account", "\"\(text)\"", "expected a NEAR account id (lower case, e.g. mm.near): the intents account credited for this handle's deposits")
            return nil
        }
        return text
    }
}

extension Character {
    fileprivate var isLetterOrDigitASCII: Bool { ("a"..."z").contains(self) || ("0"..."9").contains(self) }
}
