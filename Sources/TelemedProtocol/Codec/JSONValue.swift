// MARK: - JSONValue

/// A parsed JSON value, kept whole: objects keep their members in document order (duplicate
/// keys included: the reader decides whether they are allowed), arrays their elements, strings
/// their unescaped UTF-8 bytes and numbers their literal text. A frame body is at most 64 KiB
/// and nested at most `StrictJSONParser.maxDepth` deep, so a parsed frame stays small: its
/// size grows linearly with the text. The codec reads the top-level members; the simulator reads scenario files and
/// edits frames with the same type (`package` visibility, not public API).
package enum JSONValue: Equatable, Sendable {
    /// A string, as the UTF-8 bytes of its unescaped content.
    case string([UInt8])
    /// A number: its literal text and how it reads under the wire integer rule.
    case number(JSONNumber)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null
    /// An object's members in document order.
    case object([JSONMember])
    /// An array's elements in order.
    case array([JSONValue])

    /// The JSON type's name, for diagnostics.
    package var typeName: String {
        switch self {
        case .string: "string"
        case .number: "number"
        case .bool: "boolean"
        case .null: "null"
        case .object: "object"
        case .array: "array"
        }
    }
}

/// One object member, in document order.
package struct JSONMember: Equatable, Sendable {
    /// The key's unescaped UTF-8 bytes.
    package var key: [UInt8]
    /// The member's value.
    package var value: JSONValue

    /// A member with `key` (unescaped UTF-8 bytes) and `value`.
    package init(key: [UInt8], value: JSONValue) {
        self.key = key
        self.value = value
    }
}
