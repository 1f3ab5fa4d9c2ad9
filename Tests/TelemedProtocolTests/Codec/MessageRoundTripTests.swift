import enum TelemedTransport.Framing
import struct TelemedTransport.FrameDecoder
import TelemedCrypto
import XCTest
@testable import TelemedProtocol

/// Every message kind encodes to compact JSON in the table's key order and decodes back.
final class MessageRoundTripTests: XCTestCase {
    private let codec = CodecFixtures.codec

    func testEveryMessageRoundTrips() throws {
        for message in CodecFixtures.all {
            let body = codec.encode(message)
            XCTAssertEqual(try codec.decode(body), message, "\(message.opcode)")
        }
    }

    func testEveryMessageRoundTripsThroughFraming() throws {
        var decoder = FrameDecoder()
        for message in CodecFixtures.all { decoder.append(Framing.frame(codec.encode(message))) }
        var decoded: [Message] = []
        while let body = try decoder.nextFrame() { decoded.append(try codec.decode(body)) }
        XCTAssertEqual(decoded, CodecFixtures.all)
        XCTAssertFalse(decoder.hasPartialFrame)
    }

    func testKeysAreWrittenInTheTablesOrder() throws {
        let expected: [Opcode: [String]] = [
            .keyVerification: ["opcode", "group", "id_i", "id_gwn", "ts_i", "rn_i", "c1", "c2", "sig_r", "sig_s"],
            .keyConfirmation: ["opcode", "id_i", "ts", "skv"],
            .sessionToken: ["opcode", "group", "id_gwn", "id_i", "ts_gwn", "rn_gwn", "rn_i", "c1", "c2", "sig_r", "sig_s"],
            .groupKey: ["opcode", "epoch", "seq", "members", "ct"],
            .encMsg: ["opcode", "epoch", "seq", "ts", "ct", "sig_r", "sig_s"],
            .decMsg: ["opcode", "id_i", "seq", "ct"],
            .disconnect: ["opcode", "seq", "ct"],
            .rejected: ["opcode"],
        ]
        for message in CodecFixtures.all {
            let members = try StrictJSONParser.parseObject(codec.encode(message))
            let keys = members.map { String(decoding: $0.key, as: UTF8.self) }
            XCTAssertEqual(keys, expected[message.opcode], "\(message.opcode)")
        }
    }

    func testCompactOutputIsExact() {
        XCTAssertEqual(String(decoding: codec.encode(.rejected), as: UTF8.self), #"{"opcode":70}"#)
        let disconnect = DisconnectMessage(seq: 4, ct: Array(repeating: 0xAB, count: 15) + [0x0F])
        XCTAssertEqual(
            String(decoding: codec.encode(.disconnect(disconnect)), as: UTF8.self),
            #"{"opcode":60,"seq":4,"ct":""# + String(repeating: "ab", count: 15) + #"0f"}"#
        )
        let confirmation = KeyConfirmation(idI: CodecFixtures.id("p1"), ts: 0, skv: CodecFixtures.b32(6))
        XCTAssertEqual(
            String(decoding: codec.encode(.keyConfirmation(confirmation)), as: UTF8.self),
            #"{"opcode":11,"id_i":"p1","ts":0,"skv":""# + CodecFixtures.b32(6).hex + #""}"#
        )
    }

    func testLengthBoundsRoundTrip() throws {
        let sigR = CodecFixtures.element(1)
        let sigS = CodecFixtures.b32(2)
        for count in [17, 16_400] {
            let message = Message.encMsg(BroadcastMessage(epoch: 1, seq: 0, ts: 0, ct: CodecFixtures.bytes(count, seed: 3), sigR: sigR, sigS: sigS))
            XCTAssertEqual(try codec.decode(codec.encode(message)), message)
            // The largest broadcast still fits in a frame.
            XCTAssertLessThanOrEqual(codec.encode(message).count, Framing.maxBodyLength)
        }
        for count in [16, 272] {
            let message = Message.disconnect(DisconnectMessage(seq: 1, ct: CodecFixtures.bytes(count, seed: 4)))
            XCTAssertEqual(try codec.decode(codec.encode(message)), message)
        }
    }

    func testLargestBroadcastFitsAFrameForTheLargerGroup() {
        let codec = MessageCodec(groupName: "telemed-3072-256", elementLength: 384)
        let message = Message.encMsg(BroadcastMessage(
            epoch: JSONNumber.maxInteger, seq: JSONNumber.maxInteger, ts: JSONNumber.maxInteger,
            ct: Array(repeating: 0, count: 16_400), sigR: ElementBytes(Array(repeating: 1, count: 384)),
            sigS: CodecFixtures.b32(1)
        ))
        XCTAssertLessThanOrEqual(codec.encode(message).count, Framing.maxBodyLength)
    }

    func testGroupNameWithCharactersNeedingEscapesRoundTrips() throws {
        let name = "odd \"group\"\\\u{1}é"
        let codec = MessageCodec(groupName: name, elementLength: 256)
        var request = CodecFixtures.keyVerification
        request.group = name
        XCTAssertEqual(try codec.decode(codec.encode(.keyVerification(request))), .keyVerification(request))
    }

    func testOpcodesMatchTheTable() {
        XCTAssertEqual(CodecFixtures.all.map(\.opcode.rawValue), [10, 11, 20, 30, 40, 50, 60, 70])
    }
}
