// MARK: - JSONSyntaxError

/// Why and where `StrictJSONParser.parseDocument` refused a text. The codec reports only the
/// reason (`DecodeError.invalidUTF8` or `.invalidJSON`); a local file reader also shows the
/// position, as a line and column computed from the offset.
package struct JSONSyntaxError: Error, Equatable, Sendable {
    /// `.invalidUTF8` or `.invalidJSON(what broke)`.
    package let reason: DecodeError
    /// The byte offset where reading stopped (the first bad byte for invalid UTF-8).
    package let offset: Int

    /// The 1-based line and byte column of `offset` in `text` (the text that was parsed).
    package func position(in text: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in text.prefix(max(0, offset)) {
            if byte == 0x0a {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    /// The reason in words: `invalid UTF-8` or the grammar problem.
    package var reasonText: String {
        switch reason {
        case .invalidUTF8: "invalid UTF-8"
        case .invalidJSON(let what): what
        default: "\(reason)"
        }
    }
}
