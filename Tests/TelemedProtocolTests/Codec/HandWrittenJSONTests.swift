import Foundation
import TelemedCrypto
import XCTest
@testable import TelemedProtocol

/// Receivers accept any key order, insignificant whitespace and escapes (PROTOCOL.md §4).
final class HandWrittenJSONTests: XCTestCase {
    private let codec = CodecFixtures.codec
    private let skv = CodecFixtures.b32(6)

    func testOtherKeyOrderAndWhitespace() throws {
        let text = " \r\n\t{ \"skv\" :\t\"\(skv.hex)\" ,\n\"ts\":17 , \"id_i\" : \"p1\",\"opcode\"\r:\r11 }\n "
        let expected = Message.keyConfirmation(KeyConfirmation(idI: CodecFixtures.id("p1"), ts: 17, skv: skv))
        XCTAssertEqual(try codec.decode(CodecFixtures.json(text)), expected)
    }

    func testEscapedKeysAndValuesAreUnescapedFirst() throws {
        // "\u006fpcode" = "opcode", "id\u005fi" = "id_i", "p\u0031" = "p1", "\/" is "/", and an
        // escaped hex digit is still a hex digit.
        let escapedHex = "\\u0061" + String(skv.hex.dropFirst())
        let text = #"{"\u006fpcode":11,"id\u005fi":"p\u0031","t\u0073":5,"skv":""# + escapedHex + #""}"#
        var expectedSKV = skv.bytes
        expectedSKV[0] = 0xa0 | (skv.bytes[0] & 0x0f)
        let expected = Message.keyConfirmation(
            KeyConfirmation(idI: CodecFixtures.id("p1"), ts: 5, skv: try Bytes32(expectedSKV))
        )
        XCTAssertEqual(try codec.decode(CodecFixtures.json(text)), expected)
    }

    func testRejectedWithWhitespace() throws {
        XCTAssertEqual(try codec.decode(CodecFixtures.json("{ \"opcode\" : 70 }")), .rejected)
    }

    func testLargestIntegerIsAccepted() throws {
        let text = #"{"opcode":60,"seq":9007199254740991,"ct":""# + CodecFixtures.hex(bytes: 16) + #""}"#
        guard case .disconnect(let message) = try codec.decode(CodecFixtures.json(text)) else {
            return XCTFail("not a disconnect")
        }
        XCTAssertEqual(message.seq, 9_007_199_254_740_991)
    }

    func testSessionTokenInReverseOrder() throws {
        let token = CodecFixtures.sessionToken
        let text = """
        {
          "sig_s": "\(token.sigS.hex)", "sig_r": "\(BigInt.encodeHex(token.sigR.bytes))",
          "c2": "\(BigInt.encodeHex(token.c2.bytes))", "c1": "\(BigInt.encodeHex(token.c1.bytes))",
          "rn_i": "\(token.rnI.hex)", "rn_gwn": "\(token.rnGWN.hex)", "ts_gwn": \(token.tsGWN),
          "id_i": "\(token.idI)", "id_gwn": "\(token.idGWN)", "group": "\(token.group)", "opcode": 20
        }
        """
        XCTAssertEqual(try codec.decode(CodecFixtures.json(text)), .sessionToken(token))
    }

    func testNonASCIIInAGroupStringIsComparedAfterUnescaping() throws {
        let codec = MessageCodec(groupName: "grüppe", elementLength: 256)
        var request = CodecFixtures.keyVerification
        request.group = "grüppe"
        let encoded = String(decoding: codec.encode(.keyVerification(request)), as: UTF8.self)
        let escaped = encoded.replacingOccurrences(of: "grüppe", with: #"gr\u00fcppe"#)
        XCTAssertNotEqual(escaped, encoded)
        XCTAssertEqual(try codec.decode(CodecFixtures.json(escaped)), .keyVerification(request))
        // The decomposed spelling (u + combining diaeresis) is canonically equivalent in Swift
        // but not byte-equal, and so is refused.
        let decomposed = encoded.replacingOccurrences(of: "grüppe", with: #"gru\u0308ppe"#)
        assertDecodeError(CodecFixtures.json(decomposed), .unexpectedGroup("gru\\xcc\\x88ppe"), codec: codec)
    }
}
