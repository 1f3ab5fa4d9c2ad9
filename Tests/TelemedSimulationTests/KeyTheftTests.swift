@_spi(Testing) import TelemedCrypto
import TelemedProtocol
import XCTest
@testable import TelemedSimulation

/// Attack 30 in the simulator (PROTOCOL.md §8.8, §8.10) and the insider route behind the R-FS
/// scan.
final class KeyTheftTests: XCTestCase {
    private let cast = """
        "config":{"minimumVersion":1},"patientConfig":{"version":2},
        "patients":[{"id":"alice","host":"10.0.3.10"},{"id":"victor","host":"10.0.3.11","version":1}]
        """

    /// Exercises the `keyTheft` expectation (`Simulation.checkKeyTheft`, `stealKeys`) over real
    /// v1 and v2 handshakes of `PatientNode` and `DoctorNode`: the wrong claims fail, each with
    /// what the thief really got. (The right claims are `Fixtures/key-theft.json`, run by the
    /// fixture tests.)
    func testWrongTheftClaimsFail() throws {
        let scenario = try scenario("""
            {\(cast),"seed":30,"steps":[
              {"do":"connect","patient":"alice"},{"do":"connect","patient":"victor"},
              {"do":"check","expect":{"keyTheft":{"patient":"alice","recovers":["K","K_GWN","SK"],"opensSession":true}}},
              {"do":"check","expect":{"keyTheft":{"patient":"victor","recovers":["K","K_GWN"],"opensSession":false}}}]}
            """, name: "wrong-theft")
        let report = ScenarioRunner.run(scenario, file: "wrong-theft.json")
        XCTAssertFalse(report.passed)
        XCTAssertEqual(report.failedExpectations.count, 2, report.failedExpectations.joined(separator: "\n"))
        let alice = try XCTUnwrap(report.failedExpectations.first { $0.hasPrefix("$.steps[2].expect.keyTheft") })
        XCTAssertTrue(alice.contains("version-2 handshake recovers K, K_GWN; not SK"), alice)
        XCTAssertTrue(alice.contains("expected recovers [K, K_GWN, SK], opensSession true"), alice)
        let victor = try XCTUnwrap(report.failedExpectations.first { $0.hasPrefix("$.steps[3].expect.keyTheft") })
        XCTAssertTrue(victor.contains("version-1 handshake recovers K, K_GWN, SK; its SK opens victor's GROUP_KEY"), victor)
    }

    /// Exercises `stealKeys` with no recorded session: a patient that never got a GROUP_KEY
    /// fails the expectation instead of passing vacuously.
    func testTheftWithoutASessionFails() throws {
        let scenario = try scenario("""
            {\(cast),"steps":[{"do":"check","expect":{"keyTheft":{"patient":"alice","recovers":["K","K_GWN"],"opensSession":false}}}]}
            """)
        let report = ScenarioRunner.run(scenario, file: "x.json")
        XCTAssertEqual(report.failedExpectations,
                       ["$.steps[0].expect.keyTheft: the recording holds no handshake of alice that reached a GROUP_KEY"])
    }

    /// Exercises `ExpectationDecoder` and `NameChecker` for `keyTheft`: bad values get a clear
    /// error at their path.
    func testKeyTheftIsDecodedStrictly() {
        func error(_ expect: String) -> String? {
            scenarioError("""
                {\(cast),"steps":[{"do":"check","expect":{"keyTheft":\(expect)}}]}
                """).map { "\($0.path): \($0.message)" }
        }
        XCTAssertEqual(error(#"{"patient":"alice","recovers":["K","x"],"opensSession":false}"#),
                       #"$.steps[0].expect.keyTheft.recovers[1]: "x" is none of K, K_GWN, SK"#)
        XCTAssertEqual(error(#"{"patient":"alice","recovers":["K","K"],"opensSession":false}"#),
                       "$.steps[0].expect.keyTheft.recovers: names a value twice")
        XCTAssertEqual(error(#"{"patient":"alice","recovers":["K"]}"#),
                       "$.steps[0].expect.keyTheft.opensSession: missing; expected true or false")
        XCTAssertEqual(error(#"{"patient":"zed","recovers":[],"opensSession":false}"#),
                       #"$.steps[0].expect.keyTheft: unknown patient "zed""#)
        XCTAssertNil(error(#"{"patient":"alice","recovers":"K","opensSession":false}"#))
        XCTAssertEqual(scenarioError(#"{"patients":[{"id":"a","host":"10.0.0.2","version":3}],"steps":[{"do":"check"}]}"#)
                        .map { "\($0.path): \($0.message)" }, "$.patients[0].version: expected 1 or 2")
    }

    /// Exercises the insider route (`RecordingRandom`, `EphemeralSearch`, the v2 branch of
    /// `Simulation.flushRecoveries`) on the real machines: every v2 answer the doctor sent
    /// yields its b and Z, every v2 request a patient device sent yields its a, and the SK
    /// derived from them opens that session's GROUP_KEY (the harness reads the v2 GK of every
    /// member).
    func testTheHarnessRebuildsEveryEphemeralItSupplied() throws {
        let file = FixturePaths.fixtures + "/version-2.json"
        let scenario = try ScenarioRunner.load(file: file)
        let simulation = try Simulation(scenario: scenario, seed: scenario.seed)
        let report = simulation.runScript(file: file)
        XCTAssertTrue(report.passed, failureText(report))
        let answers = simulation.wiretap.frames.filter { !$0.towardsDoctor && $0.opcode == .sessionTokenV2 }
        let deviceRequests = simulation.wiretap.frames.filter {
            $0.towardsDoctor && $0.opcode == .keyVerificationV2 && $0.flow.patientID != nil
        }
        let labels = Array(simulation.secrets.hexSecrets.values)
        XCTAssertGreaterThanOrEqual(answers.count, 4)
        XCTAssertEqual(labels.filter { $0.hasPrefix("b for ") }.count, answers.count)
        XCTAssertEqual(labels.filter { $0.hasPrefix("Z of ") }.count, answers.count)
        XCTAssertEqual(labels.filter { $0.hasPrefix("a of ") }.count, deviceRequests.count)
        XCTAssertEqual(simulation.doctorDraws.count, 0, "every answered connection's draws were used and dropped")
        // The members' v2 group keys were read with the insider SK.
        XCTAssertTrue(labels.contains { $0.hasPrefix("GK of epoch") })
        for name in ["alice", "bob"] {
            XCTAssertFalse(simulation.heldGroupKeys[name]?.isEmpty ?? true, "\(name)'s v2 GROUP_KEY opened with the insider SK")
        }
    }

    /// Exercises `EphemeralSearch.draw` against `RandomNumberGenerator.bytes(_:)`: a window of
    /// recorded words is exactly what the machine drew.
    func testARecordedWindowIsTheDraw() {
        let log = DrawLog()
        var recording = RecordingRandom(base: .init(seed: 7), log: log)
        _ = recording.next()
        let drawn = recording.bytes(32)
        XCTAssertEqual(EphemeralSearch.draw(log.words, at: 1), drawn)
        log.close()
        _ = recording.next()
        XCTAssertEqual(log.words, [], "a closed log records nothing")
    }
}
