import Foundation
import XCTest
import TelemedProtocol
@testable import TelemedSimulation

/// Every committed fixture, through the exact code path of `simulate`: loaded with
/// `ScenarioRunner.load`, run with `ScenarioRunner.run`.
final class FixtureTests: XCTestCase {
    /// Traces of the committed seeds, shared between tests so no fixture runs more than needed.
    nonisolated(unsafe) private static var traces: [String: [String]] = [:]

    private func committedTrace(_ scenario: Scenario, file: String) -> [String] {
        if let cached = Self.traces[file] { return cached }
        let trace = ScenarioRunner.run(scenario, file: file).traceLines
        Self.traces[file] = trace
        return trace
    }

    func testEveryFixturePassesTwiceWithIdenticalTraces() throws {
        let files = try FixturePaths.scenarioFiles()
        XCTAssertGreaterThanOrEqual(files.count, 22, "the fixtures listed in FIXTURES.md")
        XCTAssertFalse(files.contains { $0.contains("/reference/") || $0.hasSuffix(".schema.json") })
        var covered: Set<RuleID> = []
        for file in files {
            let scenario = try ScenarioRunner.load(file: file)
            let first = ScenarioRunner.run(scenario, file: file)
            XCTAssertTrue(first.passed, "\(file):\n\(failureText(first))")
            XCTAssertGreaterThan(first.expectations.count, 0, "\(file) checks nothing")
            covered.formUnion(first.rulesExercised)
            let second = ScenarioRunner.run(scenario, file: file)
            XCTAssertEqual(first.traceLines, second.traceLines, "\(file): the same seed gave a different trace")
            Self.traces[file] = first.traceLines
        }
        let missing = RuleID.allCases.filter { !covered.contains($0) }
        XCTAssertEqual(missing, [], "rule ids no fixture exercises")
    }

    /// Scenarios that hold for any seed pass with another one too (and the seed matters). A
    /// representative few keep the debug test run short; `simulate Fixtures/ --seed N` runs all.
    func testScenariosPassWithAnotherSeed() throws {
        for name in ["replay-attack", "happy-conference", "epochs-join-leave", "wrong-skv-device-block", "lossy-network"] {
            let file = FixturePaths.fixtures + "/\(name).json"
            let scenario = try ScenarioRunner.load(file: file)
            XCTAssertTrue(scenario.anySeed, name)
            let seed = scenario.seed &+ 7_919
            let report = ScenarioRunner.run(scenario, file: file, seed: seed)
            XCTAssertTrue(report.passed, "\(file) with seed \(seed):\n\(failureText(report))")
            XCTAssertNotEqual(report.traceLines, committedTrace(scenario, file: file), "\(file): the seed changed nothing")
        }
    }

    /// `Fixtures/login-storm.json` (10,000 patients, two waves of 10,000 handshakes: minutes in
    /// release, far more in debug) says `"sweep": false`, so `ScenarioRunner.scenarioFiles` and
    /// the sweep above leave it out and `simulate` names it. Here the committed file runs through
    /// `ScenarioDecoder` and `ScenarioRunner.run` with its group cut to 40 patients and nothing
    /// else changed: every step and expectation of the fixture holds at that size. The full
    /// size runs with `swift run -c release simulate Fixtures/login-storm.json` (the TelemedSimulation article Fixtures).
    func testLoginStormFixtureHoldsAtReducedSize() throws {
        let file = FixturePaths.fixtures + "/login-storm.json"
        XCTAssertFalse(try FixturePaths.scenarioFiles().contains(file))
        XCTAssertEqual(try ScenarioRunner.scenariosLeftOutOfFolders(for: [FixturePaths.fixtures]), [file])
        let full = try ScenarioRunner.load(file: file)
        XCTAssertFalse(full.sweep)
        XCTAssertEqual(full.patients.count, 10_000)
        XCTAssertEqual(full.patientGroups.map(\.count), [10_000])
        XCTAssertEqual(Set(full.patients.map(\.host)).count, 10_000, "one address per patient")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "\"count\": 10000").count, 2, "one group size to scale")
        let reduced = try scenario(text.replacingOccurrences(of: "\"count\": 10000", with: "\"count\": 40"), name: "login-storm")
        XCTAssertEqual(reduced.patients.count, 40)
        let report = ScenarioRunner.run(reduced, file: file)
        XCTAssertTrue(report.passed, failureText(report))
        XCTAssertEqual(report.expectations.count, full.steps.reduce(0) { $0 + $1.expectations.count })
    }

    func testTraceHasNoSecretsAndOnlyDigestsOfBroadcasts() throws {
        let file = FixturePaths.fixtures + "/no-leak.json"
        let report = ScenarioRunner.run(try ScenarioRunner.load(file: file), file: file)
        XCTAssertTrue(report.passed, failureText(report))
        let text = report.traceLines.joined(separator: "\n")
        XCTAssertFalse(text.contains("CONFIDENTIAL"), "a broadcast text reached the trace")
        XCTAssertTrue(report.rulesExercised.contains(.noLeak))
        for line in report.traceLines {
            XCTAssertNoThrow(try StrictJSONParser.parseDocument(Array(line.utf8)), "not a JSON line: \(line.prefix(80))")
            XCTAssertTrue(line.hasPrefix("{\"t\":"), "key order starts with t: \(line.prefix(40))")
        }
    }
}
