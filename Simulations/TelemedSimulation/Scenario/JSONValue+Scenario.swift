import TelemedProtocol

// MARK: - JSONValue in scenarios and traces

/// What the simulator reads and writes with the protocol's `JSONValue`: numbers read from
/// their literal text (scenario files hold fractions, negative offsets and 64-bit seeds, which
/// the wire integer rule does not cover), builders for trace lines, and wording for errors.
extension JSONValue {
    /// A number holding `value`.
    static func uint(_ value: UInt64) -> JSONValue { .number(JSONNumber(value)) }
    /// A number holding `value`.
    static func int(_ value: Int) -> JSONValue { .number(JSONNumber(Int64(value))) }
    /// A number holding `value`.
    static func int64(_ value: Int64) -> JSONValue { .number(JSONNumber(value)) }

    /// An object of members named by `String` keys, in the order given.
    static func object(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(pairs.map { JSONMember(key: Array($0.0.utf8), value: $0.1) })
    }

    /// The number as a signed 64-bit integer when its literal is one.
    var intValue: Int64? { numberText.flatMap { Int64($0) } }
    /// The number as an unsigned 64-bit integer when its literal is one.
    var uintValue: UInt64? { numberText.flatMap { UInt64($0) } }
    /// The number as a double.
    var doubleValue: Double? { numberText.flatMap { Double($0) } }

    private var numberText: String? {
        guard case .number(let number) = self else { return nil }
        return number.text
    }

    /// A short name of the kind of value, for error messages (`a string`, `an object`).
    var kindName: String {
        switch self {
        case .null: "null"
        case .object, .array: "an \(typeName)"
        default: "a \(typeName)"
        }
    }
}
