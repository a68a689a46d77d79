import Reconciler
import WatchCore

/// Reads a config table section by section for `HostConfig.parse`: gathers every problem and
/// the effective (redacted) config as it goes.
final class HostSectionReader {
    let table: [String: ConfigValue]
    let environment: [String: String]
    let problems = ConfigProblems()
    var effective: [String: JSONValue] = [:]

    init(table: [String: ConfigValue], environment: [String: String]) {
        self.table = table
        self.environment = environment
    }

    /// The `[name]` section (empty when absent; a problem when not a table).
    func section(_ name: String) -> ConfigSection {
        var inner: [String: ConfigValue] = [:]
        if let value = table[name] {
            if case .table(let t) = value {
                inner = t
            } else {
                problems.add(ConfigProblem(key: name, value: "\(value.typeName)", expected: "expected a [\(name)] table"))
            }
        }
        return ConfigSection(path: name, table: inner, environment: environment, problems: problems)
    }

    /// Reads `[name]` with `body`, then flags its unknown keys (unless `finish` is false: the
    /// reader did) and records its effective values.
    func read(_ name: String, finish: Bool = true, _ body: (ConfigSection) -> Void) {
        let s = section(name)
        body(s)
        if finish { s.finish() }
        effective[name] = .object(s.effective)
    }

    /// `[bridge]` when present and enabled: the reconciler's configuration.
    func readBridge() -> ReconcilerConfiguration? {
        guard table["bridge"] != nil || environment["UNRIP_BRIDGE_ENABLED"] != nil else { return nil }
        let bridge = section("bridge")
        guard bridge.bool("enabled", default: false) else {
            effective["bridge"] = ["enabled": false]
            return nil
        }
        let reconciler = ReconcilerConfiguration(section: bridge)
        bridge.finish()
        effective["bridge"] = .object(bridge.effective)
        return reconciler
    }

    /// Every enabled plugin section, loaded by its registration, in registry order.
    func readAdapters(registry: [AdapterRegistration], reconciler: ReconcilerConfiguration?) -> [LoadedAdapter] {
        var adapters: [LoadedAdapter] = []
        var familyEffective: [String: [String: JSONValue]] = [:]
        for p in HostConfig.pluginSections(table, environment: environment, registry: registry, problems: problems) {
            let s = p.section, name = s.pluginName
            func record(_ value: JSONValue) {
                if let family = s.family { familyEffective[family, default: [:]][name] = value } else { effective[name] = value }
            }
            s.handlesMayComeFromBridge = reconciler.map { $0.handlesFromBridge && ($0.chains[name] != nil || s.has("bridge_chain") || s.family != nil) } ?? false
            guard s.bool("enabled", default: p.enabledByDefault) else {
                record(["enabled": false])
                continue
            }
            let loaded = p.registration.load(s)
            s.finish()
            record(.object(s.effective))
            adapters.append(loaded)
        }
        for (family, instances) in familyEffective { effective[family] = .object(instances) }
        return adapters
    }

    /// A section that is neither a host section nor a registered plugin is a problem.
    func checkUnknownSections(known hostSections: [String], registry: [AdapterRegistration]) {
        let known = Set(hostSections + registry.map(\.kind))
        for key in table.keys.sorted() where !known.contains(key) {
            let plugins = registry.map { $0.isFamily ? "\($0.kind).<name>" : $0.kind }.joined(separator: ", ")
            problems.add(ConfigProblem(
                key: key, value: nil,
                expected: "unknown section or plugin [\(key)]; host sections are \(hostSections.joined(separator: ", ")) and registered plugins are \(plugins.isEmpty ? "(none)" : plugins)"))
        }
    }
}
