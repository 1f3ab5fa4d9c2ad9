import TelemedProtocol

extension Simulation {
    // MARK: - Running the script

    /// Runs every step, checking expectations and invariants after each, then scans the whole
    /// trace for secrets.
    func runScript(file: String) -> ScenarioReport {
        var reports: [StepReport] = []
        var abort: String?
        for step in scenario.steps {
            let start = time.now
            var failure: String?
            do {
                try perform(step)
            } catch {
                failure = error.description
            }
            flushRecoveries()
            let results = failure == nil ? check(step.expectations) : []
            var found = checkInvariants(settled: step.wait && failure == nil) + window.problems
            if let failure { found.append("step could not run: \(failure)") }
            emitVerdicts(step, results, found)
            reports.append(StepReport(path: step.path, time: start, headline: headline(step.action), note: step.note,
                                      happenings: happenings(), expectations: results, violations: found))
            if failure != nil {
                abort = "\(step.path): \(failure ?? "")"
                break
            }
        }
        flushRecoveries()
        let leaks = scanForLeaks()
        if leaks.isEmpty, secrets.count > 0 {
            rulesExercised.insert(.noLeak)
        }
        var closing = leaks.map { "R-NOLEAK: \($0)" }
        closing += checkInvariants(settled: false, final: true)
        emit("end", [("virtualMillis", .uint(time.now)), ("rules", .array(sortedRules.map { .string($0.rawValue) })),
                     ("secretsScanned", .int(secrets.count))])
        if !closing.isEmpty {
            reports.append(StepReport(path: "$", time: time.now, headline: "end of scenario: whole-trace secret scan",
                                      note: nil, happenings: [], expectations: [], violations: closing))
        }
        return ScenarioReport(name: scenario.name, title: scenario.title, file: file, seed: seed, startWall: scenario.startWall, steps: reports,
                              abort: abort, rulesExercised: sortedRules, virtualMillis: time.now, traceLines: trace.lines)
    }

    var sortedRules: [RuleID] {
        RuleID.allCases.filter { rulesExercised.contains($0) }
    }

    private func emitVerdicts(_ step: Step, _ results: [ExpectationResult], _ found: [String]) {
        for result in results {
            emit("expect", [("path", .string(result.path)), ("passed", .bool(result.passed)), ("message", .string(result.message))])
        }
        for violation in found {
            emit("violation", [("path", .string(step.path)), ("message", .string(violation))])
        }
    }
}
