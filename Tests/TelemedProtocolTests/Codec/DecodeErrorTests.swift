import TelemedCrypto
import XCTest
@testable import TelemedProtocol

/// One targeted input per `DecodeError` case (SECURITY-RULES.md attack 7, R-FRAME).
final class DecodeErrorTests: XCTestCase {
    private let skv = CodecFixtures.b32(6).hex

    /// A KEY_CONFIRMATION body with `fields` spliced in after the opcode.
    private func confirmation(_ fields: String) -> String {
        #"{"opcode":11,"# + fields + "}"
    }

    private func assertInvalidJSON(_ body: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try CodecFixtures.codec.decode(body)
            XCTFail("decoded", file: file, line: line)
        } catch {
            guard case .invalidJSON = error else { return XCTFail("got \(error)", file: file, line: line) }
        }
    }

    private func assertInvalidJSON(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertInvalidJSON(Array(text.utf8), file: file, line: line)
    }

    // MARK: - Keys

    func testDuplicateKeys() {
        assertDecodeError(confirmation(#""id_i":"p","id_i":"q","ts":1,"skv":"\#(skv)""#), .duplicateKey("id_i"))
        assertDecodeError(confirmation(#""id_i":"p","\u0069d_i":"p","ts":1,"skv":"\#(skv)""#), .duplicateKey("id_i"))
        assertDecodeError(#"{"opcode":70,"opcode":70}"#, .duplicateKey("opcode"))
        // Duplicates are found before the opcode is even looked at.
        assertDecodeError(#"{"x":1,"x":2}"#, .duplicateKey("x"))
    }

    func testUnknownKey() {
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":"\#(skv)","x":1"#), .unknownKey("x"))
        assertDecodeError(#"{"opcode":70,"nested":{"a":[1,2,{}]}}"#, .unknownKey("nested"))
        // An unknown key that is a valid surrogate pair is reported in safe form.
        assertDecodeError(#"{"opcode":70,"\ud83d\ude00":1}"#, .unknownKey(#"\xf0\x9f\x98\x80"#))
        // Unknown keys win over missing ones.
        assertDecodeError(#"{"opcode":11,"zz":1}"#, .unknownKey("zz"))
    }

    func testMissingKey() {
        assertDecodeError(confirmation(#""id_i":"p","ts":1"#), .missingKey("skv"))
        assertDecodeError(#"{"id_i":"p"}"#, .missingKey("opcode"))
        assertDecodeError("{}", .missingKey("opcode"))
        assertDecodeError(#"{"opcode":20}"#, .missingKey("group"))
    }

    func testWrongTypes() {
        assertDecodeError(confirmation(#""id_i":"p","ts":"1","skv":"\#(skv)""#), .wrongType("ts"))
        assertDecodeError(confirmation(#""id_i":7,"ts":1,"skv":"\#(skv)""#), .wrongType("id_i"))
        assertDecodeError(confirmation(#""id_i":"p","ts":{},"skv":"\#(skv)""#), .wrongType("ts"))
        assertDecodeError(confirmation(#""id_i":"p","ts":[1],"skv":"\#(skv)""#), .wrongType("ts"))
        assertDecodeError(confirmation(#""id_i":"p","ts":true,"skv":"\#(skv)""#), .wrongType("ts"))
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":null"#), .wrongType("skv"))
        assertDecodeError(#"{"opcode":"11"}"#, .wrongType("opcode"))
        assertDecodeError(#"{"opcode":70.0}"#, .wrongType("opcode"))
    }

    // MARK: - Integers

    func testIntegerTwoToTheFiftyThreeIsOutOfRange() {
        assertDecodeError(confirmation(#""id_i":"p","ts":9007199254740992,"skv":"\#(skv)""#), .integerOutOfRange("ts"))
        assertDecodeError(confirmation(#""id_i":"p","ts":18446744073709551616,"skv":"\#(skv)""#), .integerOutOfRange("ts"))
        assertDecodeError(#"{"opcode":9007199254740992}"#, .integerOutOfRange("opcode"))
    }

    func testVeryLongDigitStringIsOutOfRangeWithoutOverflow() {
        let digits = "9" + String(repeating: "0", count: 60_000)
        assertDecodeError(confirmation(#""id_i":"p","ts":\#(digits),"skv":"\#(skv)""#), .integerOutOfRange("ts"))
    }

    func testNegativeIntegers() {
        assertDecodeError(confirmation(#""id_i":"p","ts":-1,"skv":"\#(skv)""#), .integerOutOfRange("ts"))
        assertDecodeError(confirmation(#""id_i":"p","ts":-0,"skv":"\#(skv)""#), .integerOutOfRange("ts"))
    }

    func testFractionAndExponentAreNotIntegers() {
        assertDecodeError(confirmation(#""id_i":"p","ts":1.0,"skv":"\#(skv)""#), .wrongType("ts"))
        assertDecodeError(confirmation(#""id_i":"p","ts":1e3,"skv":"\#(skv)""#), .wrongType("ts"))
        assertDecodeError(confirmation(#""id_i":"p","ts":1E+3,"skv":"\#(skv)""#), .wrongType("ts"))
        assertDecodeError(confirmation(#""id_i":"p","ts":-1.5e-3,"skv":"\#(skv)""#), .wrongType("ts"))
    }

    func testNumberGrammarErrors() {
        assertInvalidJSON(confirmation(#""id_i":"p","ts":01,"skv":"\#(skv)""#))
        assertInvalidJSON(confirmation(#""id_i":"p","ts":+1,"skv":"\#(skv)""#))
        assertInvalidJSON(confirmation(#""id_i":"p","ts":1.,"skv":"\#(skv)""#))
        assertInvalidJSON(confirmation(#""id_i":"p","ts":.5,"skv":"\#(skv)""#))
        assertInvalidJSON(confirmation(#""id_i":"p","ts":1e,"skv":"\#(skv)""#))
        assertInvalidJSON(confirmation(#""id_i":"p","ts":-,"skv":"\#(skv)""#))
        assertInvalidJSON(confirmation(#""id_i":"p","ts":0x10,"skv":"\#(skv)""#))
        assertInvalidJSON(#"{"opcode":NaN}"#)
    }

    // MARK: - Hex and lengths

    func testUppercaseHexIsRefused() {
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":"\#(skv.uppercased())""#), .invalidHex("skv"))
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":"\#(String(repeating: "A", count: 64))""#), .invalidHex("skv"))
    }

    func testNonHexAndOddLengthAreInvalidHex() {
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":"\#(String(repeating: "g", count: 64))""#), .invalidHex("skv"))
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":"\#(skv.dropLast())""#), .invalidHex("skv"))
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":" \#(skv.dropLast())""#), .invalidHex("skv"))
    }

    func testWrongHexLength() {
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":"\#(skv.dropLast(2))""#), .wrongLength("skv", expected: 32, actual: 31))
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":"\#(skv)00""#), .wrongLength("skv", expected: 32, actual: 33))
        assertDecodeError(confirmation(#""id_i":"p","ts":1,"skv":"""#), .wrongLength("skv", expected: 32, actual: 0))
    }

    func testCiphertextLengthsPerOpcode() {
        let hex = CodecFixtures.hex(bytes:)
        assertDecodeError(#"{"opcode":30,"epoch":1,"seq":0,"members":1,"ct":"\#(hex(47))"}"#, .wrongLength("ct", expected: 48, actual: 47))
        assertDecodeError(#"{"opcode":30,"epoch":1,"seq":0,"members":1,"ct":"\#(hex(49))"}"#, .wrongLength("ct", expected: 48, actual: 49))
        assertDecodeError(#"{"opcode":50,"id_i":"p","seq":0,"ct":"\#(hex(31))"}"#, .wrongLength("ct", expected: 32, actual: 31))
        assertDecodeError(#"{"opcode":60,"seq":0,"ct":"\#(hex(15))"}"#, .wrongLength("ct", expected: 16, actual: 15))
        assertDecodeError(#"{"opcode":60,"seq":0,"ct":"\#(hex(273))"}"#, .wrongLength("ct", expected: 272, actual: 273))
        let sig = #""sig_r":"\#(hex(256))","sig_s":"\#(hex(32))""#
        assertDecodeError(#"{"opcode":40,"epoch":1,"seq":0,"ts":1,"ct":"\#(hex(16))",\#(sig)}"#, .wrongLength("ct", expected: 17, actual: 16))
        assertDecodeError(#"{"opcode":40,"epoch":1,"seq":0,"ts":1,"ct":"\#(hex(16_401))",\#(sig)}"#, .wrongLength("ct", expected: 16_400, actual: 16_401))
    }

    func testElementLengthFollowsTheCodecsL() {
        let hex = CodecFixtures.hex(bytes:)
        let body = #"{"opcode":40,"epoch":1,"seq":0,"ts":1,"ct":"\#(hex(17))","sig_r":"\#(hex(255))","sig_s":"\#(hex(32))"}"#
        assertDecodeError(body, .wrongLength("sig_r", expected: 256, actual: 255))
        let small = MessageCodec(groupName: "g", elementLength: 255)
        XCTAssertNoThrow(try small.decode(Array(body.utf8)))
    }

    // MARK: - Text

    func testInvalidUTF8Bytes() {
        let prefix = Array(#"{"opcode":70,"x":""#.utf8)
        let suffix = Array(#""}"#.utf8)
        let bad: [[UInt8]] = [
            [0xff], [0xfe], [0x80], [0xbf], [0xc2], [0xe2, 0x82], [0xf0, 0x9f, 0x98],
            [0xed, 0xa0, 0x80],          // U+D800 encoded in UTF-8
            [0xed, 0xbf, 0xbf],          // U+DFFF encoded in UTF-8
            [0xf4, 0x90, 0x80, 0x80],    // U+110000
            [0xf5, 0x80, 0x80, 0x80],
        ]
        for bytes in bad {
            assertDecodeError(prefix + bytes + suffix, .invalidUTF8)
        }
    }

    func testOverlongUTF8() {
        let prefix = Array(#"{"opcode":70,"x":""#.utf8)
        let suffix = Array(#""}"#.utf8)
        let overlong: [[UInt8]] = [
            [0xc0, 0xaf], [0xc1, 0xbf],              // "/" and U+007F in two bytes
            [0xe0, 0x80, 0xaf], [0xe0, 0x9f, 0xbf],  // below U+0800 in three bytes
            [0xf0, 0x80, 0x80, 0xaf], [0xf0, 0x8f, 0xbf, 0xbf],  // below U+10000 in four bytes
        ]
        for bytes in overlong {
            assertDecodeError(prefix + bytes + suffix, .invalidUTF8)
        }
        // An overlong quote must not end the string early either.
        assertDecodeError(Array(#"{"opcode":70,"x":"a"#.utf8) + [0xc0, 0xa2] + Array("}".utf8), .invalidUTF8)
    }

    func testValidMultibyteUTF8IsAccepted() throws {
        let key = [0xc2, 0x80, 0xe0, 0xa0, 0x80, 0xed, 0x9f, 0xbf, 0xee, 0x80, 0x80, 0xf0, 0x90, 0x80, 0x80, 0xf4, 0x8f, 0xbf, 0xbf] as [UInt8]
        let body = Array(#"{"opcode":70,""#.utf8) + key + Array(#"":1}"#.utf8)
        assertDecodeError(body, .unknownKey(DecodeError.render(key)))
    }

    func testLoneSurrogateEscapes() {
        assertInvalidJSON(#"{"opcode":70,"x":"\ud800"}"#)
        assertInvalidJSON(#"{"opcode":70,"x":"\udc00"}"#)
        assertInvalidJSON(#"{"opcode":70,"x":"\ud800\u0041"}"#)
        assertInvalidJSON(#"{"opcode":70,"x":"\ud800\ud800"}"#)
        assertInvalidJSON(#"{"opcode":70,"x":"\ud800x"}"#)
        assertInvalidJSON(#"{"opcode":70,"x":"\uDBFF"}"#)
        // A proper pair is fine (and the key is then merely unknown).
        assertDecodeError(#"{"opcode":70,"\uD83D\uDE00":1}"#, .unknownKey(#"\xf0\x9f\x98\x80"#))
    }

    func testStringGrammarErrors() {
        assertInvalidJSON(#"{"opcode":70,"x":"a\qb"}"#)
        assertInvalidJSON(#"{"opcode":70,"x":"\u12"}"#)
        assertInvalidJSON(#"{"opcode":70,"x":"\u12g4"}"#)
        assertInvalidJSON(#"{"opcode":70,"x":"abc}"#)
        assertInvalidJSON(#"{"opcode":70,"x":'a'}"#)
        assertInvalidJSON(Array(#"{"opcode":70,"x":"a"#.utf8) + [0x0a] + Array(#""}"#.utf8))
        assertInvalidJSON(Array(#"{"opcode":70,"x":"a"#.utf8) + [0x00] + Array(#""}"#.utf8))
    }

    func testByteOrderMarkIsRefused() {
        assertDecodeError([0xef, 0xbb, 0xbf] + Array(#"{"opcode":70}"#.utf8), .invalidJSON("byte order mark"))
    }

    func testTrailingGarbage() {
        assertInvalidJSON(#"{"opcode":70}x"#)
        assertInvalidJSON(#"{"opcode":70}{}"#)
        assertInvalidJSON(#"{"opcode":70},"#)
        assertInvalidJSON(Array(#"{"opcode":70}"#.utf8) + [0x00])
        // Trailing whitespace is insignificant.
        XCTAssertNoThrow(try CodecFixtures.codec.decode(Array("{\"opcode\":70}\r\n\t ".utf8)))
    }

    func testStructuralGrammarErrors() {
        for text in ["", " ", "{", "}", #"{"opcode":70"#, #"{"opcode":70,}"#, #"{,"opcode":70}"#,
                     #"{"opcode" 70}"#, #"{"opcode":}"#, #"{opcode:70}"#, #"{"opcode":70 "x":1}"#,
                     #"{"opcode":70,"x":[1,]}"#, #"{"opcode":70,"x":tru}"#, #"{"opcode":70,"x":nul}"#,
                     "{\"opcode\":70,\u{0B}\"x\":1}", "{\"opcode\":70,\u{A0}\"x\":1}"] {
            assertInvalidJSON(text)
        }
    }

    func testDeepNestingIsRefusedWithoutRecursingDeep() {
        let deep = #"{"opcode":70,"x":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        assertInvalidJSON(deep)
        let deepObjects = #"{"opcode":70,"x":"# + String(repeating: #"{"a":"#, count: 50_000) + "1" + String(repeating: "}", count: 50_000) + "}"
        assertInvalidJSON(deepObjects)
        // Shallow nesting is grammar-checked and then a type error.
        assertDecodeError(#"{"opcode":60,"seq":[[[{"a":[]}]]],"ct":"00"}"#, .wrongType("seq"))
    }

    func testNotAnObject() {
        assertDecodeError("[]", .notAnObject)
        assertDecodeError(" 1 ", .notAnObject)
        assertDecodeError(#""opcode""#, .notAnObject)
        assertDecodeError("null", .notAnObject)
        assertDecodeError(#"[{"opcode":70}]"#, .notAnObject)
    }

    // MARK: - Opcode, group, ids

    func testUnknownOpcode() {
        assertDecodeError(#"{"opcode":13}"#, .unknownOpcode(13))
        assertDecodeError(#"{"opcode":12}"#, .missingKey("group"))  // KEY_VERIFICATION_V2 since §8
        assertDecodeError(#"{"opcode":0}"#, .unknownOpcode(0))
        assertDecodeError(#"{"opcode":266}"#, .unknownOpcode(266))
        assertDecodeError(#"{"opcode":9007199254740991}"#, .unknownOpcode(9_007_199_254_740_991))
    }

    func testWrongGroup() {
        var request = CodecFixtures.keyVerification
        request.group = "telemed-3072-256"
        assertDecodeError(CodecFixtures.codec.encode(.keyVerification(request)), .unexpectedGroup("telemed-3072-256"))
        var token = CodecFixtures.sessionToken
        token.group = "TELEMED-2048-256"
        assertDecodeError(CodecFixtures.codec.encode(.sessionToken(token)), .unexpectedGroup("TELEMED-2048-256"))
        assertDecodeError(#"{"opcode":10,"group":1,"id_i":"p","id_gwn":"g","ts_i":1,"rn_i":"","c1":"","c2":"","sig_r":"","sig_s":""}"#, .wrongType("group"))
    }

    func testGroupIsCheckedAfterTheKeySetAndBeforeOtherFields() {
        let bad = #"{"opcode":10,"group":"other","id_i":"p","id_gwn":"g","ts_i":1,"rn_i":"","c1":"","c2":"","sig_r":"","# 
        assertDecodeError(bad + #""sig_s":""}"#, .unexpectedGroup("other"))
        assertDecodeError(bad + #""sig_x":""}"#, .unknownKey("sig_x"))
        assertDecodeError(String(bad.dropLast()) + "}", .missingKey("sig_s"))
    }

    func testInvalidIDCharacters() {
        for id in ["pat ient", "pätient", "a/b", "a:b", "a+b", "a@b", #"a\u0000"#, #"a\"b"#, #"\n"#] {
            assertDecodeError(confirmation(#""id_i":"\#(id)","ts":1,"skv":"\#(skv)""#), .invalidID("id_i"))
        }
    }

    func testIDLengths() throws {
        let max = String(repeating: "a", count: 64)
        assertDecodeError(confirmation(#""id_i":"\#(max)a","ts":1,"skv":"\#(skv)""#), .invalidID("id_i"))
        assertDecodeError(confirmation(#""id_i":"","ts":1,"skv":"\#(skv)""#), .invalidID("id_i"))
        let decoded = try CodecFixtures.codec.decode(Array(confirmation(#""id_i":"\#(max)","ts":1,"skv":"\#(skv)""#).utf8))
        guard case .keyConfirmation(let message) = decoded else { return XCTFail("not a confirmation") }
        XCTAssertEqual(message.idI.value, max)
    }

    func testErrorsEchoPeerTextOnlyInSafeBoundedForm() {
        let longKey = String(repeating: "k", count: 1000)
        do {
            _ = try CodecFixtures.codec.decode(Array(#"{"opcode":70,"\#(longKey)":1}"#.utf8))
            XCTFail("decoded")
        } catch {
            guard case .unknownKey(let text) = error else { return XCTFail("got \(error)") }
            XCTAssertLessThanOrEqual(text.utf8.count, DecodeError.maxEchoedBytes + "…".utf8.count)
            XCTAssertTrue(text.hasSuffix("…"))
        }
        assertDecodeError(#"{"opcode":70,"a\nb\\":1}"#, .unknownKey(#"a\x0ab\x5c"#))
    }
}
