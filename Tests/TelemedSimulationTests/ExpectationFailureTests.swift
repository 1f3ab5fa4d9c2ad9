import TelemedProtocol
import XCTest
@testable import TelemedSimulation

/// The harness can fail: a wrong expectation fails the run with a message naming the
/// expectation's path, what was expected and what happened, and the reproduce command.
final class ExpectationFailureTests: XCTestCase {
    private let cast = """
        "patients":[{"id":"alice","host":"10.0.1.10"}],"attackers":[{"name":"eve","host":"203.0.113.7"}]
        """

    func testWrongRuleFailsWithAClearMessage() throws {
        let scenario = try scenario("""
            {\(cast),"seed":5,"steps":[
              {"do":"connect","patient":"alice","expect":{"accepted":true}},
              {"do":"send","attacker":"eve","frame":{"captured":{"sender":"alice","opcode":"KEY_VERIFICATION"}},
               "expect":{"rejected":"R-SIG"}}]}
            """, name: "wrong")
        let report = ScenarioRunner.run(scenario, file: "wrong.json")
        XCTAssertFalse(report.passed)
        XCTAssertEqual(report.failedExpectations,
                       ["$.steps[1].expect.rejected: expected a rejection under R-SIG, saw [R-REPLAY]"])
        XCTAssertEqual(report.reproduceCommand, "swift run simulate wrong.json --seed 5")
    }

    func testWrongAcceptanceAndEpochFail() throws {
        let scenario = try scenario("""
            {\(cast),"steps":[{"do":"connect","patient":"alice","expect":{"accepted":false,"epoch":3,"members":[]}}]}
            """)
        let report = ScenarioRunner.run(scenario, file: "x.json")
        XCTAssertEqual(report.failedExpectations.count, 3, failureText(report))
        XCTAssertTrue(report.failedExpectations[1].contains("doctor is at 1"), report.failedExpectations[1])
    }

    func testAScriptProblemIsReportedAsAnAbort() throws {
        let scenario = try scenario("""
            {\(cast),"steps":[{"do":"send","attacker":"eve","frame":{"captured":{"sender":"alice","opcode":"GROUP_KEY"}}}]}
            """)
        let report = ScenarioRunner.run(scenario, file: "x.json")
        XCTAssertFalse(report.passed)
        XCTAssertEqual(report.abort, "$.steps[0]: nothing captured matches alice GROUP_KEY #-1")
    }

    func testAnInterceptThatMatchesNothingFails() throws {
        let scenario = try scenario("""
            {\(cast),"steps":[{"do":"connect","patient":"alice",
              "intercept":[{"sender":"alice","opcode":"DEC_MSG","hold":true}]}]}
            """)
        let report = ScenarioRunner.run(scenario, file: "x.json")
        XCTAssertFalse(report.passed)
        XCTAssertTrue(report.violations.first?.contains("no frame matched") ?? false, failureText(report))
    }

    /// The secret scan is live: a broadcast text smuggled into the trace (here through an
    /// operator command's argument, which the trace records) is reported as R-NOLEAK.
    func testASecretInTheTraceIsCaught() throws {
        let text = "Top secret: the lab results are ready for review."
        let scenario = try scenario("""
            {\(cast),"steps":[{"do":"connect","patient":"alice"},
              {"do":"broadcast","label":"B1","text":"\(text)"},
              {"do":"unblock","target":"\(text)","expect":{"noLeak":true}}]}
            """)
        let report = ScenarioRunner.run(scenario, file: "x.json")
        XCTAssertFalse(report.passed)
        XCTAssertTrue(report.failedExpectations.first?.contains("broadcast B1") ?? false, failureText(report))
        XCTAssertTrue(report.violations.contains { $0.contains("R-NOLEAK: broadcast B1") }, failureText(report))
        XCTAssertFalse(report.rulesExercised.contains(.noLeak))
    }
}
