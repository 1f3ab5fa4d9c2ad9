import TelemedNode

// MARK: - UTCText

/// Protocol timestamps (milliseconds since 1970-01-01 UTC) as ISO 8601 UTC text, computed by
/// hand from the proleptic Gregorian calendar so that the story is the same bytes on every
/// machine, whatever its locale or time zone.
public enum UTCText {
    /// Milliseconds from which a number in a story line is read as a timestamp
    /// (2000-01-01T00:00:00Z).
    static let earliest: UInt64 = 946_684_800_000
    /// Milliseconds before which a number is read as a timestamp (2100-01-01T00:00:00Z).
    static let latest: UInt64 = 4_102_444_800_000

    /// `2025-11-24T16:00:00.000Z` for `1764000000000`.
    public static func iso8601(millis: UInt64) -> String {
        UTCDate.iso8601(millis: Int64(clamping: millis), fraction: true)
    }

    /// `text` with the ISO 8601 UTC time in brackets after every whole number that reads as a
    /// timestamp between 2000 and 2100 (13 digits, not part of a longer word or hex string):
    /// `ts_i 1764000090019 outside` → `ts_i 1764000090019 [2025-11-24T16:01:30.019Z] outside`.
    public static func annotating(_ text: String) -> String {
        var result = ""
        var digits = ""
        var previous: Character?
        var digitsFollowWord = false
        func flush(next: Character?) {
            guard !digits.isEmpty else { return }
            result += digits
            let standalone = !digitsFollowWord && !(next.map { $0.isLetter || $0.isNumber || $0 == "_" } ?? false)
            if standalone, digits.count == 13, let value = UInt64(digits), value >= earliest, value < latest {
                result += " [\(iso8601(millis: value))]"
            }
            digits = ""
        }
        for character in text {
            if character.isASCII, character.isNumber {
                if digits.isEmpty { digitsFollowWord = previous.map(isWordCharacter) ?? false }
                digits.append(character)
            } else {
                flush(next: character)
                result.append(character)
            }
            previous = character
        }
        flush(next: nil)
        return result
    }

    private static func isWordCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_" || character == "."
    }
}
