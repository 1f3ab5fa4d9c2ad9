import TelemedProtocol
import XCTest
@testable import TelemedSimulation

/// Issue 11 item 7, broadcasts: epochs start again at 1 after a doctor restart, so the
/// simulator names a broadcast by (doctor run, epoch, seq). A scenario names it by the label of
/// its `broadcast` step. Run through `ScenarioRunner.run`, the entry point of `simulate`.
final class BroadcastRunTests: XCTestCase {
    private let cast = """
        "patients":[{"id":"alice","host":"10.0.1.10"},{"id":"bob","host":"10.0.1.11"}]
        """

    /// Two broadcasts with the same (epoch, seq) in two doctor runs keep their own readers,
    /// and reading the second is no R-EPOCH violation (before the fix: a false violation and
    /// four failed `readers` expectations).
    func testSameEpochAndSeqInTwoRunsAreTwoBroadcasts() throws {
        let scenario = try scenario("""
            {\(cast),"steps":[
              {"do":"connect","patient":"alice","expect":{"epoch":1}},
              {"do":"broadcast","label":"R1","text":"First run, epoch one, seq zero.",
               "expect":{"readers":{"broadcast":"R1","can":"alice","cannot":"bob"}}},
              {"do":"restart"},
              {"do":"connect","patient":"bob","expect":{"epoch":1}},
              {"do":"broadcast","label":"R2","text":"Second run, epoch one, seq zero.",
               "expect":{"readers":{"broadcast":"R2","can":"bob","cannot":"alice"},"receipts":{"broadcast":"R2","from":"bob"}}},
              {"do":"check","expect":{"readers":{"broadcast":"R1","can":"alice","cannot":"bob"}}}]}
            """)
        let report = ScenarioRunner.run(scenario, file: "x.json")
        XCTAssertTrue(report.passed, failureText(report))
        XCTAssertEqual(report.violations, [])
        XCTAssertTrue(report.rulesExercised.contains(.epoch))
        XCTAssertTrue(report.steps[4].happenings.contains("broadcast 1/0 of doctor run 2 sealed once, sent to 1"),
                      "\(report.steps[4].happenings)")
    }

    /// The run-keyed expectations can fail: a reader of the other run's broadcast is not a
    /// reader of this one, and a receipt for run 2's 1/0 is no receipt for run 1's.
    func testExpectationsNamingTheOtherRunFail() throws {
        let scenario = try scenario("""
            {\(cast),"steps":[
              {"do":"connect","patient":"alice"},
              {"do":"broadcast","label":"R1","text":"First run, epoch one, seq zero."},
              {"do":"restart"},
              {"do":"connect","patient":"bob"},
              {"do":"broadcast","label":"R2","text":"Second run, epoch one, seq zero.",
               "expect":{"receipts":{"broadcast":"R1","from":"bob"}}},
              {"do":"check","expect":{"readers":{"broadcast":"R1","can":"bob"}}},
              {"do":"check","expect":{"readers":{"broadcast":"R2","can":"alice"}}}]}
            """)
        let report = ScenarioRunner.run(scenario, file: "x.json")
        XCTAssertEqual(report.failedExpectations, [
            "$.steps[4].expect.receipts: no receipt for R1 from bob",
            "$.steps[5].expect.readers: bob did not read R1",
            "$.steps[6].expect.readers: alice did not read R2",
        ], failureText(report))
        XCTAssertEqual(report.violations, [])
    }

    func testBroadcastKeyOrdersAndNamesByRunFirst() {
        let early = BroadcastKey(run: 1, epoch: 9, seq: 9)
        let late = BroadcastKey(run: 2, epoch: 1, seq: 0)
        XCTAssertLessThan(early, late)
        XCTAssertNotEqual(BroadcastKey(run: 1, epoch: 1, seq: 0), late)
        XCTAssertEqual(early.description, "9/9")
        XCTAssertEqual(late.description, "1/0 of doctor run 2")
    }
}
