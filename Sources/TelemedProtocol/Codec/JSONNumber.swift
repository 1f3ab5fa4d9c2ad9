// MARK: - JSONNumber

/// A JSON number as written (RFC 8259 grammar), with its reading under PROTOCOL.md §4:
/// integers are `0` or `[1-9][0-9]*`, at most 2^53−1, with no sign, fraction or exponent.
/// The literal is kept so that a number is written back exactly as it was read (a fraction
/// such as `0.25` in a scenario file, a huge integer in a tampered frame).
package struct JSONNumber: Equatable, Sendable {
    /// How a number reads under the wire integer rule.
    package enum Kind: Equatable, Sendable {
        /// An unsigned integer in 0…2^53−1.
        case integer(UInt64)
        /// An integer without sign, fraction or exponent, but above 2^53−1.
        case tooLarge
        /// A number written with a minus sign (and no fraction or exponent).
        case negative
        /// A number with a fraction or an exponent.
        case notInteger
    }

    /// 2^53 − 1, the largest integer on the wire.
    package static let maxInteger: UInt64 = (1 << 53) - 1
    /// Digits of `maxInteger`; longer digit strings are too large without being accumulated.
    static let maxDigits = 16

    /// The number's text as it appeared (ASCII digits, `-`, `.`, `e`, `E`, `+`).
    package let literal: [UInt8]
    /// The number under the wire integer rule.
    package let kind: Kind

    /// A number already checked against the grammar and classified (the parser's).
    init(literal: [UInt8], kind: Kind) {
        self.literal = literal
        self.kind = kind
    }

    /// The decimal literal of an unsigned integer.
    package init(_ value: UInt64) {
        literal = Array(String(value).utf8)
        kind = value <= JSONNumber.maxInteger ? .integer(value) : .tooLarge
    }

    /// The decimal literal of a signed integer.
    package init(_ value: Int64) {
        if value >= 0 {
            self.init(UInt64(value))
        } else {
            self.init(literal: Array(String(value).utf8), kind: .negative)
        }
    }

    /// The literal as text.
    package var text: String { String(decoding: literal, as: UTF8.self) }
}
