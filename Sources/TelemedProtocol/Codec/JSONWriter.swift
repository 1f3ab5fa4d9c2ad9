// MARK: - JSONWriter

/// The package's one JSON writer. `JSONWriter.write(_:)` writes any `JSONValue` compactly
/// (no whitespace, members in their stored order, numbers from their literal text); the
/// instance methods write the codec's flat objects member by member. Both quote strings the
/// same way (`appendString`).
package struct JSONWriter {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var empty = true

    /// An empty flat object, to be filled member by member.
    init() {}

    /// The finished object text.
    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `"key":` with a separating comma when needed. Keys are the schema's plain ASCII names.
    private mutating func key(_ key: String) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        JSONWriter.appendString(Array(key.utf8), to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A member whose value is a decimal integer.
    mutating func integer(_ key: String, _ value: UInt64) {
        self.key(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A member whose value is a string (escaped as RFC 8259 requires).
    mutating func string(_ key: String, _ value: String) {
        self.key(key)
        JSONWriter.appendString(Array(value.utf8), to: &bytes)
    }

    /// A member whose value is lowercase hex of `value`.
    mutating func hex(_ key: String, _ value: [UInt8]) {
        self.key(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: LowercaseHex.encode(value))
        bytes.append(UInt8(ascii: "\""))
    }

    // MARK: - Any value

    /// Compact JSON text of `value`: no whitespace, members in their stored order (duplicates
    /// written as they are), numbers from their literal text, strings quoted by
    /// `appendString`. Parsing the result gives `value` back.
    package static func write(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        append(value, to: &out)
        return out
    }

    /// Appends the compact text of `value` to `out`.
    package static func append(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number): out.append(contentsOf: number.literal)
        case .string(let text): appendString(text, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                append(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (position, member) in members.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                appendString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                append(member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A quoted string: `"` and `\` escaped, control characters as `\u00XX`, the rest (valid
    /// UTF-8) as is.
    package static func appendString(_ text: [UInt8], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0x00..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(contentsOf: LowercaseHex.encode([byte]))
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
