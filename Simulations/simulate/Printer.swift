import Foundation
import TelemedProtocol
import TelemedSimulation

/// Writes scenario reports for people: a narrative per step (normal), one line per
/// scenario (quiet), or everything including the trace (verbose).
struct Printer {
    let quiet: Bool
    let verbose: Bool

    mutating func print(_ report: ScenarioReport) {
        let mark = report.passed ? "✔" : "✘"
        if quiet {
            Swift.print("\(mark) \(report.name) (seed \(report.seed)): \(counts(report))")
            printFailures(report)
            return
        }
        Swift.print("━━ \(report.name) — \(report.title)")
        Swift.print("   seed \(report.seed) · \(report.file)")
        for step in report.steps {
            Swift.print("")
            Swift.print("  \(clock(step.time))  \(step.path.replacingOccurrences(of: "$.steps[", with: "#").replacingOccurrences(of: "]", with: ""))  \(step.headline)")
            if let note = step.note { Swift.print("             “\(note)”") }
            for line in step.happenings { Swift.print("             · \(line)") }
            for result in step.expectations {
                Swift.print("             \(result.passed ? "✓" : "✗") \(result.message)")
            }
            for violation in step.violations { Swift.print("             ✗ \(violation)") }
        }
        if verbose {
            Swift.print("")
            Swift.print("  trace:")
            for line in report.traceLines { Swift.print("    \(line)") }
        }
        Swift.print("")
        Swift.print("  \(mark) \(counts(report))")
        Swift.print("    rules exercised: \(report.rulesExercised.map(\.rawValue).joined(separator: " "))")
        printFailures(report)
        Swift.print("")
    }

    private func counts(_ report: ScenarioReport) -> String {
        let invariants = report.violations.isEmpty ? "invariants held after every step" : "\(report.violations.count) invariant violation(s)"
        return "\(report.steps.count) steps · \(report.expectationsMet)/\(report.expectations.count) expectations met · "
            + "\(invariants) · virtual time \(clockLong(report.virtualMillis))"
    }

    private func printFailures(_ report: ScenarioReport) {
        guard !report.passed else { return }
        if let abort = report.abort { Swift.print("    aborted: \(abort)") }
        for failure in report.failedExpectations { Swift.print("    failed: \(failure)") }
        for violation in report.violations { Swift.print("    violated: \(violation)") }
        Swift.print("    reproduce: \(report.reproduceCommand)")
    }

    func printTotals(_ reports: [ScenarioReport], covered: Set<RuleID>, missing: [RuleID]) {
        guard reports.count > 1 || !missing.isEmpty else { return }
        let passed = reports.filter(\.passed).count
        let expectations = reports.reduce(0) { $0 + $1.expectations.count }
        let met = reports.reduce(0) { $0 + $1.expectationsMet }
        Swift.print("══ \(passed)/\(reports.count) scenarios passed · \(met)/\(expectations) expectations met")
        let ordered = RuleID.allCases.map { covered.contains($0) ? $0.rawValue : "(\($0.rawValue) missing)" }
        Swift.print("   rules exercised across the run (\(covered.count)/\(RuleID.allCases.count)): \(ordered.joined(separator: " "))")
        if !missing.isEmpty {
            Swift.print("   ✘ not exercised by any scenario: \(missing.map(\.rawValue).joined(separator: " "))")
        }
        for report in reports where !report.passed {
            Swift.print("   ✘ \(report.name): \(report.reproduceCommand)")
        }
    }

    /// `  12.345 s` style virtual clock, right-aligned.
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
