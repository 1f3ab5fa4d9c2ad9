import TelemedProtocol
import XCTest
@testable import TelemedSimulation

/// Patient groups and login storms: `patientGroups` in `ScenarioDecoder.decode`, `group:NAME`
/// in steps and expectations (`GroupResolver`), `connect` with `patients` and the
/// `epochsStarted` expectation, run through `ScenarioRunner.run`.
final class PatientGroupTests: XCTestCase {
    // MARK: - Decoding

    /// `ScenarioDecoder.decode`: a group declares `count` patients with zero-padded ids at
    /// addresses `hostStep` apart, each its own entry of the cast.
    func testAGroupDeclaresNumberedPatientsAtSteppedAddresses() throws {
        let decoded = try scenario("""
            {"patients":[{"id":"alice","host":"10.0.1.10"}],
             "patientGroups":[{"name":"p","count":12,"host":"10.16.0.250","hostStep":3},
                              {"name":"v6-","count":2,"host":"2001:db8::ffff","enrolled":false,"clockOffsetMillis":-5}],
             "steps":[{"do":"check"}]}
            """)
        XCTAssertEqual(decoded.patients.map(\.id),
                       ["alice", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09", "p10", "p11", "p12", "v6-1", "v6-2"])
        XCTAssertEqual(decoded.patients[1].host, "10.16.0.250")
        XCTAssertEqual(decoded.patients[2].host, "10.16.0.253")
        XCTAssertEqual(decoded.patients[3].host, "10.16.1.0", "the address carries into the next byte")
        XCTAssertEqual(decoded.patients[12].host, "10.16.0.250".stepped(by: 33))
        XCTAssertEqual(decoded.patients[14].host, "2001:db8::1:0")
        XCTAssertEqual(decoded.patients[14].enrolled, false)
        XCTAssertEqual(decoded.patients[14].clockOffsetMillis, -5)
        XCTAssertEqual(decoded.patients[1].group, "p")
        XCTAssertNil(decoded.patients[0].group)
        XCTAssertEqual(decoded.patientGroups.map(\.name), ["p", "v6-"])
        XCTAssertEqual(decoded.patientGroups[0].ids.count, 12)
    }

    /// `GroupResolver`: `group:NAME` in a connect step and in every name list of an
    /// expectation becomes the group's ids; ids and references mix.
    func testGroupReferencesExpandInStepsAndExpectations() throws {
        let decoded = try scenario("""
            {"patients":[{"id":"alice","host":"10.0.1.10"}],
             "patientGroups":[{"name":"p","count":3,"host":"10.16.0.1"}],
             "steps":[{"do":"connect","patients":["alice","group:p"],
                       "expect":{"members":"group:p","active":["group:p","alice"],"ended":{"group:p":"left"},
                                 "epochsStarted":{"atMost":2}}}]}
            """)
        guard case let .connectMany(label, ids) = decoded.steps[0].action else { return XCTFail("not a connect of many") }
        XCTAssertEqual(label, "alice, group:p")
        XCTAssertEqual(ids, ["alice", "p1", "p2", "p3"])
        var seen: [String] = []
        for expectation in decoded.steps[0].expectations {
            switch expectation.kind {
            case let .members(names): seen.append("members \(names)")
            case let .active(names): seen.append("active \(names)")
            case let .ended(pairs): seen.append("ended \(pairs.map { "\($0.0)=\($0.1)" })")
            case let .epochsStarted(low, high): seen.append("epochs \(low)...\(high)")
            default: XCTFail("unexpected \(expectation.kind)")
            }
        }
        XCTAssertEqual(seen, [#"members ["p1", "p2", "p3"]"#, #"active ["p1", "p2", "p3", "alice"]"#,
                              #"ended ["p1=left", "p2=left", "p3=left"]"#, "epochs 0...2"])
    }

    /// `ScenarioDecoder.decode`: mistakes in groups and storms are refused with their path.
    func testGroupMistakesNameTheirPaths() {
        let group = #""patientGroups":[{"name":"p","count":3,"host":"10.16.0.1"}]"#
        let cases: [(String, String)] = [
            (#"{"patientGroups":[{"name":"p","count":0,"host":"10.0.0.1"}]}"#, "$.patientGroups[0].count"),
            (#"{"patientGroups":[{"name":"p","count":100001,"host":"10.0.0.1"}]}"#, "$.patientGroups[0].count"),
            (#"{"patientGroups":[{"name":"p q","count":2,"host":"10.0.0.1"}]}"#, "$.patientGroups[0].name"),
            (#"{"patientGroups":[{"name":"p","count":2,"host":"clinic"}]}"#, "$.patientGroups[0].host"),
            (#"{"patientGroups":[{"name":"p","count":2,"host":"255.255.255.255"}]}"#, "$.patientGroups[0].host"),
            (#"{"patientGroups":[{"name":"p","count":2,"host":"10.0.0.1","hostStep":0}]}"#, "$.patientGroups[0].hostStep"),
            (#"{"patientGroups":[{"name":"p","count":2,"host":"10.0.0.1","size":2}]}"#, "$.patientGroups[0].size"),
            (#"{"patientGroups":[{"name":"p","count":2,"host":"10.0.0.1"},{"name":"p","count":1,"host":"10.0.1.1"}]}"#,
             "$.patientGroups[1].name"),
            (#"{"patients":[{"id":"p2","host":"10.0.0.9"}],"patientGroups":[{"name":"p","count":2,"host":"10.0.0.1"}]}"#,
             "$.patients[2].id"),
            ("{\(group),\"steps\":[{\"do\":\"connect\",\"patients\":\"group:q\"}]}", "$.steps[0].patients"),
            ("{\(group),\"steps\":[{\"do\":\"connect\",\"patients\":[]}]}", "$.steps[0].patients"),
            ("{\(group),\"steps\":[{\"do\":\"connect\",\"patients\":\"group:p\",\"from\":\"10.9.9.9\"}]}", "$.steps[0].from"),
            ("{\(group),\"steps\":[{\"do\":\"connect\",\"patients\":[\"p1\",\"zed\"]}]}", "$.steps[0].patients"),
            ("{\(group),\"steps\":[{\"do\":\"check\",\"expect\":{\"members\":\"group:q\"}}]}", "$.steps[0].expect.members"),
            ("{\(group),\"steps\":[{\"do\":\"check\",\"expect\":{\"epochsStarted\":{\"atLeast\":3,\"atMost\":2}}}]}",
             "$.steps[0].expect.epochsStarted"),
            ("{\(group),\"steps\":[{\"do\":\"check\",\"expect\":{\"epochsStarted\":{}}}]}", "$.steps[0].expect.epochsStarted"),
            ("{\(group),\"steps\":[{\"do\":\"check\",\"expect\":{\"epochsStarted\":-1}}]}", "$.steps[0].expect.epochsStarted"),
        ]
        for (json, path) in cases {
            guard let found = scenarioError(json) else {
                XCTFail("accepted: \(json)")
                continue
            }
            XCTAssertEqual(found.path, path, "\(json) → \(found)")
        }
    }

    // MARK: - Running a storm

    /// A small login storm through `ScenarioRunner.run`: a whole group connects at once (every
    /// handshake in flight together), the doctor restarts, the group reconnects at once. Every
    /// patient ends active, the joins share a handful of batched epochs, every invariant holds,
    /// and the trace is the same whether the harness's own crypto runs on one thread or four.
    func testAStormReconnectsEveryPatientInAFewEpochs() throws {
        let storm = try scenario("""
            {"seed":14,"config":{"pendingTotal":64},
             "patientGroups":[{"name":"p","count":32,"host":"10.16.0.1","hostStep":256}],
             "steps":[
               {"do":"connect","patients":"group:p",
                "expect":{"active":"group:p","members":"group:p","sessionTokens":32,"epochsStarted":{"atLeast":1,"atMost":6}}},
               {"do":"restart","expect":{"inactive":"group:p","members":[],"ended":{"group:p":"connectionLost"}}},
               {"do":"connect","patients":"group:p",
                "expect":{"active":"group:p","members":"group:p","epochsStarted":{"atLeast":1,"atMost":6}}},
               {"do":"broadcast","label":"B1","text":"The clinic is open again.",
                "expect":{"readers":{"broadcast":"B1","can":"group:p"},"receipts":{"broadcast":"B1","from":"group:p"}}},
               {"do":"check","expect":{"noLeak":true}}]}
            """, name: "storm")
        let serial = ScenarioRunner.run(storm, file: "storm.json", workers: 1)
        XCTAssertTrue(serial.passed, failureText(serial))
        XCTAssertEqual(serial.expectations.count, 13)
        XCTAssertTrue(serial.steps[0].happenings.contains { $0.hasPrefix("a member of group:p authenticated") },
                      "\(serial.steps[0].happenings)")
        XCTAssertLessThan(serial.steps[0].happenings.count, 20, "32 joins fold into a few lines: \(serial.steps[0].happenings)")
        let parallel = ScenarioRunner.run(storm, file: "storm.json", workers: 4)
        XCTAssertTrue(parallel.passed, failureText(parallel))
        XCTAssertEqual(serial.traceLines, parallel.traceLines, "the number of workers changed the trace")
    }

    /// `epochsStarted` fails with the count it saw: here a bound of zero epochs for a storm, and
    /// a member list that leaves one patient out (the message shortens the long list and names
    /// the one missing).
    func testEpochBoundAndLongMemberListsFailWithReadableMessages() throws {
        let storm = try scenario("""
            {"seed":3,"patientGroups":[{"name":"p","count":20,"host":"10.16.0.1","hostStep":256}],
             "steps":[{"do":"connect","patients":"group:p",
                       "expect":{"epochsStarted":0,"members":["p01","p02","p03","p04","p05","p06","p07","p08","p09","p10",
                                 "p11","p12","p13","p14","p15","p16","p17","p18","p19"]}}]}
            """)
        let report = ScenarioRunner.run(storm, file: "x.json", workers: 1)
        XCTAssertEqual(report.failedExpectations.count, 2, failureText(report))
        let epochs = report.failedExpectations[0]
        XCTAssertTrue(epochs.hasPrefix("$.steps[0].expect.epochsStarted: "), epochs)
        XCTAssertTrue(epochs.hasSuffix("epoch(s) started, expected 0"), epochs)
        XCTAssertEqual(report.failedExpectations[1],
                       "$.steps[0].expect.members: members [p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, …, p19 (19 in all)], "
                       + "doctor has [p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, …, p20 (20 in all)]; extra [p20]")
    }
}

private extension String {
    /// The IPv4 address `self` + `step` (test arithmetic, independent of the decoder's).
    func stepped(by step: UInt32) -> String {
        let parts = split(separator: ".").compactMap { UInt32($0) }
        let value = parts.reduce(0) { $0 << 8 | $1 } + step
        return [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }
}
