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

    /// The `enroll` and `revoke` steps (`StepDecoder`, `NameChecker`): a patient outside the cast,
    /// a key name that is an attacker's, an empty key name, a signer named by no earlier
    /// `enroll`, a wrong `replace` type — each refused with its path; a signer introduced by an
    /// earlier `enroll` is accepted.
    func testEnrollAndRevokeStepsAreChecked() {
        let cast = #""patients":[{"id":"alice","host":"10.0.1.10"}],"attackers":[{"name":"eve","host":"203.0.113.7"}]"#
        let cases: [(String, String)] = [
            (#"{\#(cast),"steps":[{"do":"revoke","patient":"zed"}]}"#, "$.steps[0].patient"),
            (#"{\#(cast),"steps":[{"do":"revoke"}]}"#, "$.steps[0].patient"),
            (#"{\#(cast),"steps":[{"do":"enroll","patient":"zed"}]}"#, "$.steps[0].patient"),
            (#"{\#(cast),"steps":[{"do":"enroll","patient":"alice","key":"eve"}]}"#, "$.steps[0].key"),
            (#"{\#(cast),"steps":[{"do":"enroll","patient":"alice","key":""}]}"#, "$.steps[0].key"),
            (#"{\#(cast),"steps":[{"do":"enroll","patient":"alice","replace":"yes"}]}"#, "$.steps[0].replace"),
            (#"{\#(cast),"steps":[{"do":"connect","patient":"alice","signer":"phone"}]}"#, "$.steps[0].signer"),
            (#"{\#(cast),"steps":[{"do":"connect","patient":"alice","signer":"phone"},{"do":"enroll","patient":"alice","key":"phone"}]}"#,
             "$.steps[0].signer"),
        ]
        for (json, path) in cases {
            guard let found = scenarioError(json) else {
                XCTFail("accepted: \(json)")
                continue
            }
            XCTAssertEqual(found.path, path, "\(json) → \(found)")
        }
        XCTAssertNil(scenarioError(#"{\#(cast),"steps":[{"do":"enroll","patient":"alice","key":"phone","replace":true},"#
                                   + #"{"do":"connect","patient":"alice","signer":"phone"},{"do":"revoke","patient":"alice"}]}"#))
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
