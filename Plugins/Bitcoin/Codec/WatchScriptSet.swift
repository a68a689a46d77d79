/// The set of scriptPubKeys being watched, looked up per block output without allocating.
///
/// Each script maps to a caller-chosen `tag` (e.g. an index into the caller's own table).
/// Only scripts of at most 42 bytes with an address form can be watched; no address
/// produces anything longer.
public struct WatchScriptSet: Sendable {
    /// The address encoding used for matches.
    public let format: AddressFormat
    private var tags: [ScriptKey: UInt32] = [:]
    /// Prefilter: one bit per `filterHash` bucket, about 8 bits per watched script, so most
    /// unwatched outputs are rejected with one memory read and no hashing.
    private var filter: [UInt64]
    private var filterShift: UInt64

    /// An empty set for a Bitcoin `network`.
    public init(network: BitcoinNetwork, capacity: Int = 0) { self.init(format: network.format, capacity: capacity) }

    /// Creates an empty set, optionally reserving room for `capacity` scripts.
    public init(format: AddressFormat, capacity: Int = 0) {
        self.format = format
        (filter, filterShift) = WatchScriptSet.emptyFilter(for: capacity)
        if capacity > 0 { tags.reserveCapacity(capacity) }
    }

    /// A zeroed bitmap with at least 8 bits per expected script (minimum 4096 bits).
    private static func emptyFilter(for capacity: Int) -> ([UInt64], UInt64) {
        var log2 = 12
        while (1 << log2) < capacity * 8 { log2 += 1 }
        return ([UInt64](repeating: 0, count: (1 << log2) / 64), UInt64(64 - log2))
    }

    private mutating func addToFilter(_ key: ScriptKey) {
        if tags.count * 8 > filter.count * 64 {
            // Grown past the design load: rebuild a bigger bitmap from all keys.
            (filter, filterShift) = WatchScriptSet.emptyFilter(for: tags.count * 2)
            for existing in tags.keys { setBit(existing) }
        }
        setBit(key)
    }

    private mutating func setBit(_ key: ScriptKey) {
        let bit = Int(truncatingIfNeeded: key.filterHash >> filterShift)
        filter[bit >> 6] |= 1 << UInt64(bit & 63)
    }

    /// Number of watched scripts.
    public var count: Int { tags.count }

    /// Reserves room for `capacity` scripts (use before inserting a million).
    public mutating func reserveCapacity(_ capacity: Int) {
        tags.reserveCapacity(capacity)
        if capacity * 8 > filter.count * 64 {
            (filter, filterShift) = WatchScriptSet.emptyFilter(for: capacity)
            for existing in tags.keys { setBit(existing) }
        }
    }

    /// Watches the scriptPubKey of `address`; returns its script. A repeated script keeps its first tag.
    @discardableResult
    public mutating func insert(address: String, tag: UInt32) throws(AddressError) -> [UInt8] {
        let script = try AddressCodec.scriptPubKey(for: address, format: format)
        // Decoded scripts are at most 42 bytes.
        if let key = ScriptKey(script), tags[key] == nil {
            tags[key] = tag
            addToFilter(key)
        }
        return script
    }

    /// Watches a raw scriptPubKey. Returns `false` (and watches nothing) if it has no address form.
    @discardableResult
    public mutating func insert(script: [UInt8], tag: UInt32) -> Bool {
        guard AddressType.classify(script) != nil, let key = ScriptKey(script) else { return false }
        if tags[key] == nil {
            tags[key] = tag
            addToFilter(key)
        }
        return true
    }

    /// Stops watching `script` (its prefilter bit stays set; lookups still answer correctly).
    public mutating func remove(script: [UInt8]) {
        if let key = ScriptKey(script) { tags[key] = nil }
    }

    /// The tag of a watched script given as raw bytes, or `nil`. Does not allocate.
    @inline(__always)
    public func tag(forScript script: UnsafeRawPointer, count: Int) -> UInt32? {
        guard count <= ScriptKey.maxLength, let key = ScriptKey(script, count: count) else { return nil }
        let bit = Int(truncatingIfNeeded: key.filterHash >> filterShift)
        guard filter[bit >> 6] & (1 << UInt64(bit & 63)) != 0 else { return nil }
        return tags[key]
    }

    /// The tag of a watched script, or `nil`.
    public func tag(forScript script: [UInt8]) -> UInt32? {
        guard let key = ScriptKey(script) else { return nil }
        return tags[key]
    }

    /// True if `script` is watched.
    public func contains(script: [UInt8]) -> Bool { tag(forScript: script) != nil }
}
