import TelemedProtocol
import TelemedSimulation

/// Prints what `StoryWriter` writes for people, as each scenario finishes.
struct Printer {
    private var writer: StoryWriter

    init(quiet: Bool, verbose: Bool, glossary: Bool) {
        writer = StoryWriter(quiet: quiet, verbose: verbose, glossary: glossary)
    }

    mutating func print(_ report: ScenarioReport) {
        for line in writer.lines(for: report) { Swift.print(line) }
    }

    func printTotals(_ reports: [ScenarioReport], covered: Set<RuleID>, missing: [RuleID]) {
        for line in writer.totals(reports, covered: covered, missing: missing) { Swift.print(line) }
    }
}
