// MARK: - UTCDate

/// Milliseconds since 1970-01-01T00:00:00Z as ISO 8601 UTC text, computed from the proleptic
/// Gregorian calendar (H. Hinnant's `civil_from_days`) rather than through a locale or time zone,
/// so that the same instant is the same bytes on every machine. The one implementation behind
/// the console and patient output (`ConsoleText.time`), the JSON logs (`LineLogHandler`) and the
/// simulator's stories (`UTCText`).
package enum UTCDate {
    /// `2026-12-05T09:00:00.123Z` (with `fraction`) or `2026-12-05T09:00:00Z`. Instants before
    /// 1970 count back (the day and the time of day are floored).
    package static func iso8601(millis: Int64, fraction: Bool) -> String {
        let days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let inDay = millis - days * 86_400_000
        // Days since 1970-01-01 to (year, month, day).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
            + "\(pad(inDay / 3_600_000, 2)):\(pad(inDay / 60_000 % 60, 2)):\(pad(inDay / 1_000 % 60, 2))"
        if fraction { text += ".\(pad(inDay % 1_000, 3))" }
        return text + "Z"
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
