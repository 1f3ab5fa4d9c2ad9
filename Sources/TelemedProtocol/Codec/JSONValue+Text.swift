// MARK: - JSONValue and Swift strings

/// Conveniences for readers and writers of whole documents (the simulator's scenario files
/// and traces): strings as `String`, members looked up by name. The codec itself works on
/// bytes and does not use them.
extension JSONValue {
    /// A string value holding `text`'s UTF-8 bytes.
    package static func string(_ text: String) -> JSONValue {
        .string(Array(text.utf8))
    }

    /// The string, when this is one. Parsed strings are valid UTF-8 (the parser checks the
    /// text and refuses lone surrogate escapes), so nothing is repaired here.
    package var stringValue: String? {
        guard case .string(let bytes) = self else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value of the first member named `key` of an object; nil for a missing key or when
    /// this is not an object.
    package subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        let name = Array(key.utf8)
        return members.first { $0.key == name }?.value
    }

    /// Compact JSON text of the value (`JSONWriter.write`), as a `String`.
    package var compactText: String {
        String(decoding: JSONWriter.write(self), as: UTF8.self)
    }
}
