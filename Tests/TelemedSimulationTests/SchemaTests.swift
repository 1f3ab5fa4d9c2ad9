import XCTest
import TelemedProtocol
@testable import TelemedSimulation

/// The committed JSON Schema documents what the decoder accepts: the same rule ids, step
/// verbs and expectation keys.
final class SchemaTests: XCTestCase {
    private func schema() throws -> JSONValue {
        let path = FixturePaths.fixtures + "/scenario.schema.json"
        let data = try XCTUnwrap(FileManager.default.contents(atPath: path), "missing \(path)")
        return try StrictJSONParser.parseDocument(Array(data), maxDepth: ScenarioDecoder.maxNesting)
    }

    private func keys(_ value: JSONValue?) -> [String] {
        guard case let .object(members)? = value else { return [] }
        return members.map { String(decoding: $0.key, as: UTF8.self) }
    }

    func testRuleIDsMatch() throws {
        guard case let .array(items)? = try schema()["$defs"]?["rule"]?["enum"] else { return XCTFail("no rule enum") }
        XCTAssertEqual(items.compactMap(\.stringValue), RuleID.allCases.map(\.rawValue))
    }

    func testEveryStepVerbAndExpectationKeyIsDocumentedAndAccepted() throws {
        let schema = try schema()
        guard case let .array(steps)? = schema["$defs"]?["step"]?["oneOf"] else { return XCTFail("no steps") }
        let verbs = steps.compactMap { $0["properties"]?["do"]?["const"]?.stringValue }
        XCTAssertEqual(Set(verbs), ["connect", "leave", "kick", "broadcast", "rekey", "unblock", "enroll", "revoke", "restart", "advance",
                                    "skew", "send", "inject", "flood", "close", "check"])
        for key in keys(schema["$defs"]?["expect"]?["properties"]) {
            // Every documented expectation key is known to the decoder (a wrong value, not an unknown key).
            do {
                _ = try scenario(#"{"steps":[{"do":"check","expect":{"\#(key)":{"wrong":"shape","x":1}}}]}"#)
            } catch {
                XCTAssertFalse(error.message.hasPrefix("unknown expectation"), "\(key): \(error)")
            }
        }
    }
}
