// MARK: - JSONWriter

/// Writes one flat compact JSON object, member by member, in the order called.
struct JSONWriter {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var empty = true

    /// The finished object text.
    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `"key":` with a separating comma when needed. Keys are the schema's plain ASCII names.
    private mutating func key(_ key: String) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        writeString(Array(key.utf8))
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
        writeString(Array(value.utf8))
    }

    /// A member whose value is lowercase hex of `value`.
    mutating func hex(_ key: String, _ value: [UInt8]) {
        self.key(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: LowercaseHex.encode(value))
        bytes.append(UInt8(ascii: "\""))
    }

    /// A quoted string: `"` and `\` escaped, control characters as `\u00XX`, the rest as is.
    private mutating func writeString(_ text: [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0x00..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(contentsOf: LowercaseHex.encode([byte]))
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
