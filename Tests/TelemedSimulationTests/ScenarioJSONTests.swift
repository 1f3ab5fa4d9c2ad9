import TelemedCrypto
import TelemedProtocol
import XCTest
@testable import TelemedSimulation

/// Scenario files and tampered frames go through the protocol's JSON stack
/// (`StrictJSONParser.parseDocument`, `JSONWriter.write`), driven through `ScenarioDecoder.decode`
/// (what `simulate` loads files with) and `ScenarioRunner.run` (what `simulate` runs).
final class ScenarioJSONTests: XCTestCase {
    /// `ScenarioDecoder.decode`: a key given twice is a mistake, named by its path.
    func testDuplicateKeysAreRefusedWithTheirPath() {
        XCTAssertEqual(scenarioError(#"{"seed":1,"seed":2}"#)?.description, "$.seed: duplicate key")
        XCTAssertEqual(scenarioError(#"{"steps":[{"do":"check"},{"do":"advance","millis":1,"millis":2}]}"#)?.description,
                       "$.steps[1].millis: duplicate key")
        XCTAssertEqual(scenarioError(#"{"network":{"drop":0.1,"drop":0.2}}"#)?.path, "$.network.drop")
    }

    /// `ScenarioDecoder.decode`: text that is not strict JSON names the line and column.
    func testSyntaxErrorsNameLineAndColumn() throws {
        let found = try XCTUnwrap(scenarioError("{\n  \"seed\": 01\n}"))
        XCTAssertEqual(found.path, "$")
        XCTAssertTrue(found.message.hasPrefix("not valid JSON (line 2, column "), found.message)
        let surrogate = try XCTUnwrap(scenarioError(#"{"title":"\ud800"}"#))
        XCTAssertEqual(surrogate.path, "$")
        XCTAssertTrue(surrogate.message.contains("surrogate"), surrogate.message)
        let utf8 = try XCTUnwrap(
            scenarioError(Array("{\"title\":\"".utf8) + [0xc0, 0xaf] + Array("\"}".utf8)))
        XCTAssertEqual(utf8.message, "not valid JSON (line 1, column 11: invalid UTF-8)")
    }

    /// `ScenarioDecoder.decode`: what the old reader accepted still reads — fractions,
    /// 64-bit seeds above the wire's 2^53−1, negative offsets, nesting deeper than a frame's.
    func testScenarioNumbersReadFromTheirLiteral() throws {
        let deep = String(repeating: "[", count: 30) + String(repeating: "]", count: 30)
        let decoded = try scenario("""
            {"seed":18446744073709551615,"network":{"drop":0.25,"duplicate":1e-1},
             "patients":[{"id":"alice","host":"10.0.1.10","clockOffsetMillis":-1500}],
             "attackers":[{"name":"eve","host":"203.0.113.7"}],
             "steps":[{"do":"send","attacker":"eve","frame":{"json":\(deep)}}]}
            """)
        XCTAssertEqual(decoded.seed, UInt64.max)
        XCTAssertEqual(decoded.network.drop, 0.25)
        XCTAssertEqual(decoded.network.duplicate, 0.1)
        XCTAssertEqual(decoded.patients.first?.clockOffsetMillis, -1500)
    }

    /// `ScenarioRunner.run`: a frame written as JSON and tampered is edited on the member list
    /// in order and written back by `JSONWriter` — literals kept, the duplicate next to its
    /// original, the removed field gone — and the codec refuses it (R-FRAME).
    func testTamperedFrameIsTheEditedMemberList() throws {
        let decoded = try scenario("""
            {"attackers":[{"name":"eve","host":"203.0.113.7"}],
             "steps":[{"do":"send","attacker":"eve",
                       "frame":{"json":{"opcode":11, "id_i":"alice", "ts":1.50, "x":[1,{"y":-0}]}},
                       "mutate":[{"set":{"ts":2.5e3}},{"duplicateKey":"id_i"},{"remove":"x"},{"set":{"z":[0.10]}}],
                       "expect":{"rejected":"R-FRAME"}}]}
            """)
        let report = ScenarioRunner.run(decoded, file: "inline")
        XCTAssertTrue(report.passed, failureText(report))
        let expected = Array(#"{"opcode":11,"id_i":"alice","id_i":"alice","ts":2.5e3,"z":[0.10]}"#.utf8)
        let frames = report.traceLines.compactMap { line -> JSONValue? in
            guard let value = try? StrictJSONParser.parseDocument(Array(line.utf8)),
                  value["type"]?.stringValue == "frame", value["from"]?.stringValue?.hasPrefix("eve") == true else { return nil }
            return value
        }
        XCTAssertEqual(frames.count, 1, "\(report.traceLines)")
        XCTAssertEqual(frames.first?["bytes"]?.uintValue, UInt64(expected.count))
        XCTAssertEqual(frames.first?["sha256"]?.stringValue, Simulation.digestPrefix(expected))
    }
}
