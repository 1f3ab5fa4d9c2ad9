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
        let days = Int64(millis / 86_400_000)
        let inDay = millis % 86_400_000
        let (year, month, day) = civil(daysSince1970: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
            + "\(pad(Int64(inDay / 3_600_000), 2)):\(pad(Int64(inDay / 60_000 % 60), 2)):\(pad(Int64(inDay / 1_000 % 60), 2))"
            + ".\(pad(Int64(inDay % 1_000), 3))Z"
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

    /// (year, month, day) of the day `days` after 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`).
    static func civil(daysSince1970 days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
