import XCTest
@testable import TelemedSimulation

/// Malformed scenarios are refused with the JSON path of the problem.
final class ScenarioErrorTests: XCTestCase {
    func testUnknownRuleIDNamesItsPath() {
        let found = scenarioError("""
            {"patients":[{"id":"alice","host":"10.0.1.10"}],
             "steps":[{"do":"connect","patient":"alice"},{"do":"advance","seconds":1},{"do":"check"},
                      {"do":"connect","patient":"alice","expect":{"rejected":"R-FOO"}}]}
            """)
        XCTAssertEqual(found?.description, "$.steps[3].expect.rejected: unknown rule id \"R-FOO\"")
    }

    func testOtherMistakesNameTheirPaths() {
        let cases: [(String, String)] = [
            (#"{"steps":[{"do":"dance"}]}"#, "$.steps[0].do"),
            (#"{"steps":[{"do":"check","expect":{"accepted":"yes"}}]}"#, "$.steps[0].expect.accepted"),
            (#"{"steps":[{"do":"connect","patient":"zed"}]}"#, "$.steps[0].patient"),
            (#"{"patients":[{"id":"a b","host":"10.0.0.2"}]}"#, "$.patients[0].id"),
            (#"{"patients":[{"id":"a","host":"not-an-ip"}]}"#, "$.patients[0].host"),
            (#"{"config":{"failureThreshold":0}}"#, "$.config"),
            (#"{"config":{"colour":"red"}}"#, "$.config.colour"),
            (#"{"network":{"drop":1.5}}"#, "$.network.drop"),
            (#"{"steps":[{"do":"check","expect":{"rules":["R-SIG","R-NOPE"]}}]}"#, "$.steps[0].expect.rules[1]"),
            (#"{"steps":[{"do":"check"}],"steps":[]}"#, "$.steps"),
            (#"{"steps":[{"do":"check","expect":{"readers":{"broadcast":"B9"}}}]}"#, "$.steps[0].expect.readers"),
            (#"{"steps":[{"do":"send","attacker":"eve","raw":"00"}]}"#, "$.steps[0].attacker"),
            ("{\"steps\": [", "$"),
        ]
        for (json, path) in cases {
            guard let found = scenarioError(json) else {
                XCTFail("accepted: \(json)")
                continue
            }
            XCTAssertEqual(found.path, path, "\(json) → \(found)")
        }
    }

    func testLoadingAFileNamesTheFile() throws {
        let path = NSTemporaryDirectory() + "sim-bad-\(getpid()).json"
        try Data(#"{"seed":"one"}"#.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try ScenarioRunner.load(file: path)) { error in
            XCTAssertEqual("\(error)", "\(path): $.seed: expected a whole number 0...18446744073709551615, found \"one\"")
        }
    }
}
