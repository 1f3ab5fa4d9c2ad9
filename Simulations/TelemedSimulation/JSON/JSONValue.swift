// MARK: - JSONValue

/// A JSON document as the simulator reads (scenario files, frame bodies to tamper with) and
/// writes (trace lines) it. Objects keep their key order and numbers keep their exact text,
/// so a frame can be edited and re-encoded without disturbing anything else.
public indirect enum JSONValue: Sendable, Equatable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, kept as its source text (`12`, `-3`, `1.5e3`).
    case number(String)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object; keys in document order (duplicates are possible only when built by hand).
    case object([(String, JSONValue)])

    /// An integer number.
    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }
    /// An unsigned integer number.
    public static func uint(_ value: UInt64) -> JSONValue { .number(String(value)) }

    /// Structural equality (object keys compared in order).
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    // MARK: - Reading

    /// The value of `key` in an object (the first one), nil otherwise.
    public subscript(key: String) -> JSONValue? {
        guard case let .object(pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// A short name of the kind of value, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The number as a signed 64-bit integer when it is one.
    public var intValue: Int64? {
        guard case let .number(text) = self else { return nil }
        return Int64(text)
    }

    /// The number as an unsigned 64-bit integer when it is one.
    public var uintValue: UInt64? {
        guard case let .number(text) = self else { return nil }
        return UInt64(text)
    }

    /// The number as a double.
    public var doubleValue: Double? {
        guard case let .number(text) = self else { return nil }
        return Double(text)
    }

    /// The string, when this is one.
    public var stringValue: String? {
        guard case let .string(text) = self else { return nil }
        return text
    }

    // MARK: - Editing

    /// Replaces the first `key` of an object, or appends it; no effect on other values.
    public mutating func set(_ key: String, _ value: JSONValue) {
        guard case var .object(pairs) = self else { return }
        if let index = pairs.firstIndex(where: { $0.0 == key }) {
            pairs[index].1 = value
        } else {
            pairs.append((key, value))
        }
        self = .object(pairs)
    }

    /// Removes every `key` of an object.
    public mutating func remove(_ key: String) {
        guard case var .object(pairs) = self else { return }
        pairs.removeAll { $0.0 == key }
        self = .object(pairs)
    }

    // MARK: - Writing

    /// Compact JSON text: no spaces, keys in their stored order, strings escaped.
    public var compactText: String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case let .bool(value): out += value ? "true" : "false"
        case let .number(text): out += text
        case let .string(text): JSONValue.writeString(text, to: &out)
        case let .array(items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case let .object(pairs):
            out += "{"
            for (index, pair) in pairs.enumerated() {
                if index > 0 { out += "," }
                JSONValue.writeString(pair.0, to: &out)
                out += ":"
                pair.1.write(to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
