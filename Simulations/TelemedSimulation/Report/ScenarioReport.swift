import TelemedProtocol

// MARK: - StepReport

/// What one step did and whether its expectations held.
public struct StepReport: Sendable {
    /// `$.steps[3]`.
    public let path: String
    /// Virtual time when the step began, ms.
    public let time: UInt64
    /// `send eve: captured alice KEY_VERIFICATION`.
    public let headline: String
    /// The step's note from the file.
    public let note: String?
    /// What happened, one line per kind of event (repeats folded as ×N).
    public let happenings: [String]
    /// The verdicts on its expectations.
    public let expectations: [ExpectationResult]
    /// Invariant violations and script problems found after it.
    public let violations: [String]
}

// MARK: - ScenarioReport

/// The outcome of running one scenario with one seed.
public struct ScenarioReport: Sendable {
    /// The scenario's name (file name without `.json`).
    public let name: String
    /// Its title.
    public let title: String
    /// The file it came from.
    public let file: String
    /// The seed used.
    public let seed: UInt64
    /// The wall clock (UTC ms since 1970) at virtual time zero: the scenario's `startWall`.
    public let startWall: UInt64
    /// One entry per step that ran.
    public let steps: [StepReport]
    /// Why the run stopped early (a bound, a script error), if it did.
    public let abort: String?
    /// Rule ids exercised: fired by a node, or proven by a check (R-NOLEAK, R-ORACLE, R-EPOCH).
    public let rulesExercised: [RuleID]
    /// Virtual time covered, ms.
    public let virtualMillis: UInt64
    /// The trace, one JSON object per line.
    public let traceLines: [String]

    /// Every expectation of every step.
    public var expectations: [ExpectationResult] { steps.flatMap(\.expectations) }
    /// Expectations that held.
    public var expectationsMet: Int { expectations.filter(\.passed).count }
    /// Every invariant violation or script problem, prefixed by its step's path.
    public var violations: [String] { steps.flatMap { step in step.violations.map { "\(step.path): \($0)" } } }
    /// Failed expectations as `path: message`.
    public var failedExpectations: [String] { expectations.filter { !$0.passed }.map { "\($0.path): \($0.message)" } }

    /// True when every expectation and invariant held and the run completed.
    public var passed: Bool { abort == nil && failedExpectations.isEmpty && violations.isEmpty }

    /// The command that reproduces this run.
    public var reproduceCommand: String { "swift run simulate \(file) --seed \(seed)" }
}
