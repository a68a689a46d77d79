extension JSONValue {
    public subscript(index: Int) -> JSONValue? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }

    public var isNull: Bool { self == .null }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let fields) = self { return fields }
        return nil
    }

    /// The value as `Int64`, for `.int` and for integral `.number` text that fits.
    public var int64Value: Int64? {
        switch self {
        case .int(let i): return i
        case .number(let text): return Int64(text)
        default: return nil
        }
    }

    /// The number's exact text (`.int` and `.number`); nil for anything else.
    public var numberText: String? {
        switch self {
        case .int(let i): return String(i)
        case .number(let text): return text
        default: return nil
        }
    }

    /// A lossy `Double` view of any number, for display only.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .number(let text): return Double(text)
        default: return nil
        }
    }

    /// The JSON type name, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .double, .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
