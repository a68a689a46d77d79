import JSONRPCClient
import WatchCore

/// What an `eth_getLogs` error says about the range asked for (reference §5 "Provider limits").
enum ProviderLimit: Equatable {
    /// Too many blocks: the provider's maximum when it names one.
    case rangeTooLarge(max: Int?)
    /// Too many results: the provider's suggested range when it gives one.
    case tooManyResults(suggested: ClosedRange<Int>?)
    /// `toBlock` is past the node's head (a lagging node behind a load balancer): retry later.
    case beyondHead

    static func classify(_ error: JSONRPCError) -> ProviderLimit? {
        guard case .rpc(let code, let message, let data) = error else { return nil }
        let m = message.lowercased()
        if m.contains("beyond current head") || m.contains("after last accepted block") { return .beyondHead }
        if m.contains("invalid block range params") { return nil }
        let resultWords = ["more than", "results", "response size", "too many logs", "log response"]
        let rangeWords = ["range", "block limit", "too many blocks", "max is"]
        let isResults = resultWords.contains { m.contains($0) }
        let isRange = rangeWords.contains { m.contains($0) }
        let suggested = suggestedRange(message) ?? suggestedRange(data)
        if isResults || suggested != nil { return .tooManyResults(suggested: suggested) }
        if isRange || [-32005, -32602, -32603].contains(code) && (m.contains("limit") || m.contains("exceed") || m.contains("too large")) {
            return .rangeTooLarge(max: maxRange(m))
        }
        return nil
    }

    /// `[0x…, 0x…]` in the message (Infura, Alchemy).
    static func suggestedRange(_ message: String) -> ClosedRange<Int>? {
        guard let open = message.range(of: "[0x") else { return nil }
        let rest = message[open.lowerBound...].dropFirst()
        guard let close = rest.firstIndex(of: "]") else { return nil }
        let parts = rest[..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let a = hexInt(parts[0]), let b = hexInt(parts[1]), a <= b else { return nil }
        return a...b
    }

    /// Infura's `data: {from, to}`.
    static func suggestedRange(_ data: JSONValue?) -> ClosedRange<Int>? {
        guard let from = data?["from"]?.stringValue.flatMap(hexInt), let to = data?["to"]?.stringValue.flatMap(hexInt), from <= to else { return nil }
        return from...to
    }

    static func hexInt(_ text: String) -> Int? {
        guard text.hasPrefix("0x"), text.count > 2, text.count <= 16 else { return nil }
        return Int(text.dropFirst(2), radix: 16)
    }

    /// The block-range maximum named in a message: "exceeds limit of 10000", "max block range
    /// 100000", "maximum block range: 50000", "max is 1k blocks", "limited to a 2000 block range".
    static func maxRange(_ m: String) -> Int? {
        for phrase in ["limit of", "max block range", "maximum block range", "max is", "limited to a", "range limit", "block range limit", "blocks max", "range is"] {
            var search = m[...]
            while let r = search.range(of: phrase) {
                var rest = m[r.upperBound...].drop { $0 == " " || $0 == ":" || $0 == "=" }
                var digits = ""
                while let c = rest.first, c.isNumber || c == "," || c == "_" {
                    if c.isNumber { digits.append(c) }
                    rest = rest.dropFirst()
                }
                if var n = Int(digits), n > 0 {
                    if rest.first == "k" { n *= 1000 }
                    return n
                }
                search = m[r.upperBound...]
            }
        }
        return nil
    }
}
