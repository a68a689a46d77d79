import Reconciler
import WatchCore

extension HostConfig {
    /// Joins the enabled chain plugins to `[bridge]`: a section's `bridge_chain` becomes its
    /// `[bridge.chains]` entry, and a chain the reconciler could not link (no bridge chain id,
    /// or an asset without a verifier token) is refused, naming the key to add.
    static func joinBridge(_ bridge: inout ReconcilerConfiguration, adapters: [LoadedAdapter], problems: ConfigProblems) {
        for adapter in adapters {
            let name = adapter.kind
            for handle in adapter.handles {
                guard let account = handle.account, !bridge.accounts.contains(account) else { continue }
                problems.add(ConfigProblem(
                    key: "bridge.accounts", value: "\(bridge.accounts)",
                    expected: "the \(name) handle \(handle.address) names account \(account), which the reconciler does not poll; add it to [bridge] accounts or fix the handle's account"))
            }
            if let own = adapter.bridgeChain {
                if bridge.chainsWritten, let written = bridge.chains[name], written != own {
                    problems.add(ConfigProblem(
                        key: "bridge.chains.\(name)", value: "\"\(written)\"",
                        expected: "differs from the bridge_chain = \"\(own)\" of the \(name) section; keep one of the two"))
                }
                bridge.chains[name] = own
            }
            guard bridge.chains[name] != nil else {
                problems.add(ConfigProblem(
                    key: "bridge.chains.\(name)", value: nil,
                    expected: "no bridge chain id for the enabled chain \(name), so none of its transfers would ever be reconciled; add \(name) = \"<the bridge's chain id, e.g. eth:8453>\" to [bridge.chains] (or bridge_chain to its section)"))
                continue
            }
            var assets = Set(adapter.assets)
            if bridge.handlesFromBridge {
                if bridge.handleAssets[name] == nil, let first = adapter.assets.first { bridge.handleAssets[name] = first }
                if let asset = bridge.handleAssets[name] { assets.insert(asset) }
            }
            for asset in assets.sorted() where bridge.token(chain: name, asset: asset) == nil {
                let table = bridge.tokensByChain[name] == nil ? "[bridge.tokens] (or [bridge.tokens.\(name)])" : "[bridge.tokens.\(name)]"
                problems.add(ConfigProblem(
                    key: "bridge.tokens.\(name).\(asset)", value: nil,
                    expected: "no verifier token for asset \(asset) on chain \(name), so its credits could not be recognised; add \(asset) = \"nep141:…\" to \(table)"))
            }
        }
    }
}

extension ReconcilerConfiguration {
    /// The `[bridge]` effective config with the chains as joined (`bridge_chain` merged in).
    func effective(merging recorded: JSONValue?) -> JSONValue {
        guard case .object(var fields)? = recorded else { return recorded ?? .null }
        fields["chains"] = .object(chains.mapValues(JSONValue.string))
        fields["handle_assets"] = .object(handleAssets.mapValues(JSONValue.string))
        return .object(fields)
    }
}
