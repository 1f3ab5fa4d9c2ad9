// MARK: - JSONValue

/// What the strict parser keeps of a value. Message fields are flat, so a nested object or
/// array is only remembered as such (it is always a wrong type or an unknown key's value).
enum JSONValue: Equatable, Sendable {
    /// A string, as the UTF-8 bytes of its unescaped content.
    case string([UInt8])
    /// A number, classified against the protocol's integer rule.
    case number(JSONNumber)
    /// `true` or `false`.
    case bool
    /// `null`.
    case null
    /// An object (content checked for grammar, then dropped).
    case object
    /// An array (content checked for grammar, then dropped).
    case array

    /// The JSON type's name, for diagnostics.
    var typeName: String {
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

/// A JSON number judged against PROTOCOL.md §4: integers are `0` or `[1-9][0-9]*`, at most
/// 2^53−1, with no sign, fraction or exponent.
enum JSONNumber: Equatable, Sendable {
    /// An unsigned integer in 0…2^53−1.
    case integer(UInt64)
    /// An integer without sign, fraction or exponent, but above 2^53−1.
    case tooLarge
    /// A number written with a minus sign (and no fraction or exponent).
    case negative
    /// A number with a fraction or an exponent.
    case notInteger

    /// 2^53 − 1, the largest integer on the wire.
    static let maxInteger: UInt64 = (1 << 53) - 1
    /// Digits of `maxInteger`; longer digit strings are too large without being accumulated.
    static let maxDigits = 16
}

/// One top-level object member, in document order.
struct JSONMember: Equatable, Sendable {
    /// The key's unescaped UTF-8 bytes.
    var key: [UInt8]
    /// The member's value.
    var value: JSONValue
}
