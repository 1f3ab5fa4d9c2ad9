import Foundation
import TelemedProtocol

// MARK: - StoryWriter

/// Turns scenario reports into the text `simulate` prints for people: a narrative per step
/// (the default), one line per scenario (quiet), or the narrative and the whole trace
/// (verbose).
///
/// The narrative explains itself as it goes: the first time a symbol of the spec (ΔTS, ts_i,
/// SKV, T0, K_GWN, GK_e …) or a rule id appears in a run, a `ⓘ` line under it gives its
/// meaning (``Glossary``); every protocol timestamp (milliseconds since 1970) is followed by
/// its ISO 8601 UTC time (``UTCText``); each step shows its virtual time and the true UTC
/// time. The text depends only on the reports, so the same seed prints the same bytes.
public struct StoryWriter: Sendable {
    /// Print only one line per scenario.
    public let quiet: Bool
    /// Also print every trace event.
    public let verbose: Bool
    /// The terms explained so far in this run; nil when glossary lines are off.
    private var glossary: Glossary?

    /// A writer for one run; `glossary: false` leaves the `ⓘ` lines out.
    public init(quiet: Bool = false, verbose: Bool = false, glossary: Bool = true) {
        self.quiet = quiet
        self.verbose = verbose
        self.glossary = glossary && !quiet ? Glossary() : nil
    }

    /// The lines for one scenario's report.
    public mutating func lines(for report: ScenarioReport) -> [String] {
        var out: [String] = []
        let mark = report.passed ? "✔" : "✘"
        if quiet {
            out.append("\(mark) \(report.name) (seed \(report.seed)): \(counts(report))")
            out += failures(report)
            return out
        }
        out.append("━━ \(report.name) — \(report.title)")
        explain(report.title, indent: "   ", into: &out)
        out.append("   seed \(report.seed) · \(report.file) · virtual time 0 is \(UTCText.iso8601(millis: report.startWall)) "
                   + "(startWall \(report.startWall) ms)")
        let detail = String(repeating: " ", count: 13)
        for step in report.steps {
            out.append("")
            let number = step.path.replacingOccurrences(of: "$.steps[", with: "#").replacingOccurrences(of: "]", with: "")
            let utc = UTCText.iso8601(millis: report.startWall &+ step.time)
            out.append("  \(clock(step.time))  \(utc)  \(number)  \(UTCText.annotating(step.headline))")
            explain(step.headline, indent: detail, into: &out)
            if let note = step.note { say("“\(note)”", indent: detail, into: &out) }
            for line in step.happenings { say("· \(line)", indent: detail, into: &out) }
            for result in step.expectations { say("\(result.passed ? "✓" : "✗") \(result.message)", indent: detail, into: &out) }
            for violation in step.violations { say("✗ \(violation)", indent: detail, into: &out) }
        }
        if verbose {
            out.append("")
            out.append("  trace:")
            for line in report.traceLines { out.append("    \(line)") }
        }
        out.append("")
        out.append("  \(mark) \(counts(report))")
        let rules = report.rulesExercised.map(\.rawValue).joined(separator: " ")
        out.append("    rules exercised: \(rules)")
        explain(rules, indent: "    ", into: &out)
        out += failures(report)
        out.append("")
        return out
    }

    /// The closing lines of a run of several scenarios (or of a folder, with its coverage
    /// check); none for a single scenario that needs no coverage.
    public func totals(_ reports: [ScenarioReport], covered: Set<RuleID>, missing: [RuleID]) -> [String] {
        guard reports.count > 1 || !missing.isEmpty else { return [] }
        var out: [String] = []
        let passed = reports.filter(\.passed).count
        let expectations = reports.reduce(0) { $0 + $1.expectations.count }
        let met = reports.reduce(0) { $0 + $1.expectationsMet }
        out.append("══ \(passed)/\(reports.count) scenarios passed · \(met)/\(expectations) expectations met")
        let ordered = RuleID.allCases.map { covered.contains($0) ? $0.rawValue : "(\($0.rawValue) missing)" }
        out.append("   rules exercised across the run (\(covered.count)/\(RuleID.allCases.count)): \(ordered.joined(separator: " "))")
        if !missing.isEmpty {
            out.append("   ✘ not exercised by any scenario: \(missing.map(\.rawValue).joined(separator: " "))")
        }
        for report in reports where !report.passed {
            out.append("   ✘ \(report.name): \(report.reproduceCommand)")
        }
        return out
    }

    // MARK: - Pieces

    /// A narrative line with its timestamps in UTC, then the glossary lines it calls for.
    private mutating func say(_ line: String, indent: String, into out: inout [String]) {
        out.append(indent + UTCText.annotating(line))
        explain(line, indent: indent, into: &out)
    }

    /// `ⓘ term — meaning` under a line, for each term it mentions first in this run.
    private mutating func explain(_ text: String, indent: String, into out: inout [String]) {
        guard var glossary else { return }
        for line in glossary.firstMentions(in: text) { out.append(indent + "  ⓘ " + line) }
        self.glossary = glossary
    }

    private func counts(_ report: ScenarioReport) -> String {
        let invariants = report.violations.isEmpty ? "invariants held after every step" : "\(report.violations.count) invariant violation(s)"
        return "\(report.steps.count) steps · \(report.expectationsMet)/\(report.expectations.count) expectations met · "
            + "\(invariants) · virtual time \(clockLong(report.virtualMillis))"
    }

    private func failures(_ report: ScenarioReport) -> [String] {
        guard !report.passed else { return [] }
        var out: [String] = []
        if let abort = report.abort { out.append("    aborted: \(UTCText.annotating(abort))") }
        for failure in report.failedExpectations { out.append("    failed: \(UTCText.annotating(failure))") }
        for violation in report.violations { out.append("    violated: \(UTCText.annotating(violation))") }
        out.append("    reproduce: \(report.reproduceCommand)")
        return out
    }

    /// `  12.345s` style virtual clock, right-aligned.
    private func clock(_ millis: UInt64) -> String {
        let text: String
        if millis >= 3_600_000 {
            text = "\(millis / 3_600_000)h\(pad((millis / 60_000) % 60))m\(pad((millis / 1_000) % 60))s"
        } else {
            text = "\(millis / 1_000).\(pad3(millis % 1_000))s"
        }
        return String(repeating: " ", count: max(0, 10 - text.count)) + text
    }

    private func clockLong(_ millis: UInt64) -> String {
        let hours = millis / 3_600_000
        let minutes = (millis / 60_000) % 60
        let seconds = (millis / 1_000) % 60
        let ms = millis % 1_000
        if hours > 0 { return "\(hours) h \(minutes) min \(seconds) s" }
        if minutes > 0 { return "\(minutes) min \(seconds).\(pad3(ms)) s" }
        return "\(seconds).\(pad3(ms)) s"
    }

    private func pad(_ value: UInt64) -> String { value < 10 ? "0\(value)" : "\(value)" }
    private func pad3(_ value: UInt64) -> String { String(repeating: "0", count: 3 - String(value).count) + String(value) }
}
