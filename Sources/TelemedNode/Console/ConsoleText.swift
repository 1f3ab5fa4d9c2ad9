// MARK: - ConsoleText

/// The rules for text that crosses a terminal: what the doctor's console accepts as input, how
/// a patient shows text that came from the doctor, and the one human time format.
///
/// Control characters are refused on input and escaped on output. A control character is a
/// C0 control (U+0000–U+001F, tab and the escape character included), DEL (U+007F) or a C1
/// control (U+0080–U+009F). Those are what a terminal acts on (cursor moves, colours, bell,
/// title changes, ANSI and OSC escape sequences), so text that holds one must never reach a
/// terminal raw.
public enum ConsoleText {
    /// The longest broadcast text: 16,384 bytes (16 KiB) of UTF-8, the wire limit of a
    /// DEC_MSG plaintext.
    public static let maximumBroadcastBytes = 16_384

    /// The longest console line the doctor reads: the longest broadcast text plus room for
    /// the command word. A longer line is discarded up to its end and refused.
    public static let maximumLineBytes = maximumBroadcastBytes + 256

    /// True for a C0 control, DEL or a C1 control.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// `text` safe to print on a terminal: every control character written as `\u{XX}` (its
    /// code point in hexadecimal) and every backslash doubled, so that the escaped form of a
    /// text can always be told apart from a text that happens to contain `\u{…}`. Printable
    /// text, non-ASCII letters included, is unchanged.
    public static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar == "\\" {
                result += "\\\\"
            } else if isControl(scalar) {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// A wall-clock time in milliseconds since 1970 as UTC ISO 8601 to the second
    /// (`2026-12-05T09:00:00Z`): the one human time format of the doctor's and patients'
    /// output and text logs. Raw milliseconds appear only in JSON logs and the database.
    public static func time(_ millis: UInt64) -> String {
        UTCDate.iso8601(millis: Int64(clamping: millis), fraction: false)
    }

    /// The name of a control character for a message: `U+001B (ESC)`.
    static func name(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        let names: [UInt32: String] = [0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x09: "TAB", 0x0A: "LF", 0x0B: "VT",
                                       0x0C: "FF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL", 0x9B: "CSI"]
        return names[scalar.value].map { "\(code) (\($0))" } ?? code
    }
}
