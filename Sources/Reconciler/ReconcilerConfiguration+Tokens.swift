import WatchCore

extension ReconcilerConfiguration {
    static let defaultTokens = [
        "BTC": "nep141:btc.omft.near", "EURe": "nep141:gnosis-0x420ca0f9b9b604ce0fd9c18ef134c705e5fa3430.omft.near",
    ]

    /// `[bridge.tokens]`: `asset = "token"` entries are the default map (the built-in one when
    /// there are none), and each `[bridge.tokens.<chain>]` subtable is that chain's own map.
    static func tokenTables(_ section: ConfigSection) -> (defaults: [String: String], byChain: [String: [String: String]]) {
        guard let table = section.table("tokens") else {
            section.recordEffective("tokens", .object(defaultTokens.mapValues(JSONValue.string)))
            return (defaultTokens, [:])
        }
        var defaults: [String: String] = [:]
        var byChain: [String: [String: String]] = [:]
        var effective: [String: JSONValue] = [:]
        for key in table.keys {
            if table.isTable(key), let chain = table.table(key) {
                var map: [String: String] = [:]
                for asset in chain.keys { if let token = chain.string(asset) { map[asset] = token } }
                chain.finish()
                if map.isEmpty { table.problem(key, nil, "an empty token table; add e.g. USDC = \"nep141:…\" or remove [bridge.tokens.\(key)]") }
                byChain[key] = map
                effective[key] = .object(map.mapValues(JSONValue.string))
            } else if let token = table.string(key) {
                defaults[key] = token
                effective[key] = .string(token)
            }
        }
        table.finish()
        if defaults.isEmpty {
            defaults = defaultTokens
            for (asset, token) in defaultTokens { effective[asset] = .string(token) }
        }
        section.recordEffective("tokens", .object(effective))
        return (defaults, byChain)
    }
}
