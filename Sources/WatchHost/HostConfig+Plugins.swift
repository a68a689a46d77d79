import WatchCore

/// The plugin sections a config names: `[gnosis]` for a single registration, and each
/// `[evm.<name>]` subtable for a family.
struct PluginSection {
    let registration: AdapterRegistration
    let section: ConfigSection
    /// A family's instance starts when its subtable is written; a single plugin needs
    /// `enabled = true` (as it always has).
    var enabledByDefault: Bool { registration.isFamily }
}

extension HostConfig {
    /// Names the host keeps for itself: a plugin may not take one.
    static let reservedPluginNames: Set<String> = ["reconciler", "relay", "alerts", "alert_push", "watchdog", "host"]

    static func pluginSections(
        _ table: [String: ConfigValue], environment: [String: String], registry: [AdapterRegistration], problems: ConfigProblems
    ) -> [PluginSection] {
        var out: [PluginSection] = []
        var taken = Set(registry.filter { !$0.isFamily }.map(\.kind))
        for registration in registry {
            if registration.isFamily {
                out += familySections(registration, table[registration.kind], environment: environment, problems: problems, taken: &taken)
                continue
            }
            let kind = registration.kind
            guard table[kind] != nil || environment["UNRIP_\(kind.uppercased())_ENABLED"] != nil else { continue }
            var inner: [String: ConfigValue] = [:]
            if let value = table[kind] {
                if case .table(let t) = value { inner = t } else {
                    problems.add(ConfigProblem(key: kind, value: value.typeName, expected: "expected a [\(kind)] table"))
                }
            }
            out.append(PluginSection(registration: registration, section: ConfigSection(path: kind, table: inner, environment: environment, problems: problems)))
        }
        return out
    }

    /// `[evm.base]`, `[evm.ethereum]`: one section per subtable, named by its key.
    static func familySections(
        _ registration: AdapterRegistration, _ value: ConfigValue?, environment: [String: String], problems: ConfigProblems, taken: inout Set<String>
    ) -> [PluginSection] {
        let family = registration.kind
        guard let value else { return [] }
        guard case .table(let instances) = value else {
            problems.add(ConfigProblem(key: family, value: value.typeName, expected: "expected [\(family).<name>] tables, one per chain, e.g. [\(family).base]"))
            return []
        }
        var out: [PluginSection] = []
        for name in instances.keys.sorted() {
            guard case .table(let inner) = instances[name]! else {
                problems.add(ConfigProblem(
                    key: "\(family).\(name)", value: instances[name]!.typeName,
                    expected: "expected a [\(family).\(name)] table; every key of [\(family)] is one chain's section"))
                continue
            }
            if let problem = instanceNameProblem(name) {
                problems.add(ConfigProblem(key: "\(family).\(name)", value: nil, expected: problem))
                continue
            }
            guard taken.insert(name).inserted else {
                problems.add(ConfigProblem(
                    key: "\(family).\(name)", value: nil,
                    expected: "the plugin name \"\(name)\" is already taken (by [\(name)] or another section); give this chain another name"))
                continue
            }
            let section = ConfigSection(path: "\(family).\(name)", table: inner, environment: environment, problems: problems)
            section.pluginName = name
            section.family = family
            out.append(PluginSection(registration: registration, section: section))
        }
        return out
    }

    /// A name is a route segment, a metric label and part of an environment variable's name.
    static func instanceNameProblem(_ name: String) -> String? {
        let allowed = name.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") }
        guard let first = name.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), allowed, name.count <= 32 else {
            return "a chain's name must be 1–32 characters of a–z, 0–9 and _, starting with a letter (it names the plugin, its routes and its chain), e.g. base"
        }
        if reservedPluginNames.contains(name) { return "\"\(name)\" is a name the host uses for itself; give this chain another name" }
        return nil
    }
}
