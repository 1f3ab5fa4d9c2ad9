import TelemedCrypto
import XCTest
@testable import TelemedProtocol

/// The one JSON stack, read whole: `StrictJSONParser.parseDocument` (the reader behind
/// `MessageCodec.decode` through `parseObject`, and behind the simulator's `ScenarioDecoder`)
/// keeps nested content and number literals, and `JSONWriter.write` (the writer behind
/// `MessageCodec.encode`'s string quoting and the simulator's traces and tampered frames)
/// gives the same text back.
final class JSONDocumentTests: XCTestCase {
    private func parse(_ text: String, maxDepth: Int = StrictJSONParser.maxDepth) throws -> JSONValue {
        try StrictJSONParser.parseDocument(Array(text.utf8), maxDepth: maxDepth)
    }

    private func number(_ literal: String, _ kind: JSONNumber.Kind) -> JSONValue {
        .number(JSONNumber(literal: Array(literal.utf8), kind: kind))
    }

    private func member(_ key: String, _ value: JSONValue) -> JSONMember {
        JSONMember(key: Array(key.utf8), value: value)
    }

    /// `StrictJSONParser.parseDocument`: objects and arrays keep their content and order,
    /// duplicate keys included (the reader, not the parser, decides about them).
    func testNestedContentIsKept() throws {
        let value = try parse(#" {"a":[1,{"b":"x\u0041","b":null}],"c":{"d":true,"e":[]},"f":false} "#)
        let expected = JSONValue.object([
            member("a", .array([number("1", .integer(1)),
                                .object([member("b", .string(Array("xA".utf8))), member("b", .null)])])),
            member("c", .object([member("d", .bool(true)), member("e", .array([]))])),
            member("f", .bool(false)),
        ])
        XCTAssertEqual(value, expected)
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse(#""s""#), .string(Array("s".utf8)))
    }

    /// `StrictJSONParser.parseDocument`: numbers keep their literal text next to their
    /// reading under the wire integer rule.
    func testNumbersKeepTheirLiteral() throws {
        XCTAssertEqual(try parse("0.25"), number("0.25", .notInteger))
        XCTAssertEqual(try parse("1.50"), number("1.50", .notInteger))
        XCTAssertEqual(try parse("-2E+3"), number("-2E+3", .notInteger))
        XCTAssertEqual(try parse("-7"), number("-7", .negative))
        XCTAssertEqual(try parse("9007199254740991"), number("9007199254740991", .integer(JSONNumber.maxInteger)))
        XCTAssertEqual(try parse("9007199254740992"), number("9007199254740992", .tooLarge))
        XCTAssertEqual(try parse("123456789012345678901234567890"),
                       number("123456789012345678901234567890", .tooLarge))
    }

    /// `MessageCodec.decode`: fractions and exponents are still refused as a wrong type and
    /// large or negative integers as out of range, although the parser now keeps their text.
    func testTheCodecIntegerRuleIsUnchanged() {
        let skv = CodecFixtures.b32(6).hex
        let cases: [(String, DecodeError)] = [
            ("1.5", .wrongType("ts")), ("1.0", .wrongType("ts")), ("1e3", .wrongType("ts")),
            ("-1", .integerOutOfRange("ts")), ("9007199254740992", .integerOutOfRange("ts")),
        ]
        for (ts, error) in cases {
            let body = #"{"opcode":11,"id_i":"p","ts":\#(ts),"skv":"\#(skv)"}"#
            XCTAssertThrowsError(try CodecFixtures.codec.decode(Array(body.utf8)), ts) { thrown in
                XCTAssertEqual(thrown as? DecodeError, error, ts)
            }
        }
        XCTAssertThrowsError(try CodecFixtures.codec.decode(Array(#"{"opcode":70.0}"#.utf8))) { thrown in
            XCTAssertEqual(thrown as? DecodeError, .wrongType("opcode"))
        }
    }

    /// `StrictJSONParser.parseDocument`: lone surrogate escapes and bad UTF-8 are refused,
    /// with the offset a file reader turns into a line and column.
    func testRefusalsCarryAnOffset() {
        for text in [#"{"t":"\ud800"}"#, #"{"t":"\udc00"}"#, #"["\ud800\u0041"]"#] {
            XCTAssertThrowsError(try parse(text), text) { thrown in
                guard let error = thrown as? JSONSyntaxError, case .invalidJSON = error.reason else {
                    return XCTFail("\(text): \(thrown)")
                }
            }
        }
        let badUTF8: [UInt8] = Array("{\n \"t\": \"a".utf8) + [0xff] + Array("\"}".utf8)
        XCTAssertThrowsError(try StrictJSONParser.parseDocument(badUTF8)) { thrown in
            guard let error = thrown as? JSONSyntaxError else { return XCTFail("\(thrown)") }
            XCTAssertEqual(error.reason, .invalidUTF8)
            XCTAssertEqual(error.offset, 10)
            XCTAssertEqual(error.position(in: badUTF8).line, 2)
            XCTAssertEqual(error.position(in: badUTF8).column, 9)
        }
        XCTAssertThrowsError(try parse("{\"a\":1,\n\"b\":01}")) { thrown in
            guard let error = thrown as? JSONSyntaxError else { return XCTFail("\(thrown)") }
            XCTAssertEqual(error.position(in: Array("{\"a\":1,\n\"b\":01}".utf8)).line, 2)
        }
    }

    /// `StrictJSONParser.parseDocument`: the depth bound holds for frames (16, as
    /// `MessageCodec.decode` applies it) and can be raised for a local file.
    func testDepthBound() throws {
        let deep = String(repeating: "[", count: 17) + String(repeating: "]", count: 17)
        XCTAssertThrowsError(try parse(deep))
        XCTAssertEqual(try parse(String(repeating: "[", count: 16) + String(repeating: "]", count: 16)).typeName, "array")
        XCTAssertNoThrow(try parse(deep, maxDepth: 64))
        let deepFrame = #"{"opcode":70,"x":"# + deep + "}"
        XCTAssertThrowsError(try CodecFixtures.codec.decode(Array(deepFrame.utf8))) { thrown in
            guard case .invalidJSON = thrown as? DecodeError else { return XCTFail("\(thrown)") }
        }
    }

    /// `StrictJSONParser.parseDocument` then `JSONWriter.write`: compact text comes back
    /// byte for byte (numbers from their literal, members in order, duplicates kept); any
    /// other spelling comes back as an equal value whose text is a fixed point.
    func testRoundTrip() throws {
        let compact = [
            #"{"opcode":11,"id_i":"p1","ts":1.50,"ts":-0,"x":[1E+5,2e-3,{"y":null,"z":[true,false]}],"e":{}}"#,
            #"["a\"b\\c\u0001\u001f","é ✓ 😀",[],{},0,-12.5e10]"#,
            #""plain""#, "null", "123456789012345678901234567890",
        ]
        for text in compact {
            XCTAssertEqual(String(decoding: JSONWriter.write(try parse(text)), as: UTF8.self), text)
        }
        let other = " { \"a\\/b\" : [ 1 , \"\\u0041\\n\\t\" ] ,\r\n \"\\ud83d\\ude00\" : 2.0 } "
        let value = try parse(other)
        let written = JSONWriter.write(value)
        XCTAssertEqual(String(decoding: written, as: UTF8.self), "{\"a/b\":[1,\"A\\u000a\\u0009\"],\"😀\":2.0}")
        XCTAssertEqual(try StrictJSONParser.parseDocument(written), value)
        XCTAssertEqual(JSONWriter.write(try StrictJSONParser.parseDocument(written)), written)
    }

    /// `MessageCodec.encode` quotes strings with the same escaping as `JSONWriter.write`, so a
    /// decoded and re-written frame is the codec's own text.
    func testEncodedFramesRoundTripThroughTheDocumentWriter() throws {
        let message = Message.keyConfirmation(KeyConfirmation(idI: CodecFixtures.id("p1"), ts: 17, skv: CodecFixtures.b32(6)))
        let encoded = CodecFixtures.codec.encode(message)
        XCTAssertEqual(JSONWriter.write(try StrictJSONParser.parseDocument(encoded)), encoded)
    }
}
