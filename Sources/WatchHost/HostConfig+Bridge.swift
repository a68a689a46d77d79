import Reconciler
import WatchCore

extension HostConfig {
    /// Joins the enabled chain plugins to `[bridge]`: a section's `bridge_chain` becomes its
    /// `[bridge.chains]` entry, and a chain the reconciler could not link (no bridge chain id,
    /// or an asset without a verifier token) is refused, naming the key to add.
    static func joinBridge(_ bridge: inout ReconcilerConfiguration, adapters: [LoadedAdapter], problems: ConfigProblems) {
        joinOmni(bridge, adapters: adapters, problems: problems)
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

extension HostConfig {
    /// `[bridge.omni]` against the chains: its chain must be enabled, its accounts polled, and a
    /// handle naming `bridge = "omni"` needs the section, on its chain.
    static func joinOmni(_ bridge: ReconcilerConfiguration, adapters: [LoadedAdapter], problems: ConfigProblems) {
        if let omni = bridge.omni {
            if !adapters.contains(where: { $0.kind == omni.chain }) {
                problems.add(ConfigProblem(
                    key: "bridge.omni.chain", value: "\"\(omni.chain)\"",
                    expected: "no enabled chain section of that name watches Omni's deposit addresses; name an enabled UTXO chain (enabled: \(adapters.map(\.kind).sorted().joined(separator: ", ")))"))
            }
            for account in omni.accounts where !bridge.accounts.contains(account) {
                problems.add(ConfigProblem(
                    key: "bridge.omni.accounts", value: "\"\(account)\"",
                    expected: "an account the reconciler reads verifier balances of; add it to [bridge] accounts too (credit comes only from the verifier)"))
            }
        }
        for adapter in adapters {
            for handle in adapter.handles where handle.bridge == CreditBridge.omni {
                if bridge.omni == nil {
                    problems.add(ConfigProblem(
                        key: "bridge.omni", value: nil,
                        expected: "the \(adapter.kind) handle \(handle.address) names bridge = \"omni\"; add a [bridge.omni] section (enabled = true) so its transfers are followed"))
                } else if let omni = bridge.omni, omni.chain != adapter.kind {
                    problems.add(ConfigProblem(
                        key: "bridge.omni.chain", value: "\"\(omni.chain)\"",
                        expected: "the \(adapter.kind) handle \(handle.address) names bridge = \"omni\", but Omni's chain is \(omni.chain); set chain = \"\(adapter.kind)\" or drop the handle's bridge"))
                }
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
