import TelemedCrypto
import TelemedTestSupport
import XCTest
@testable import TelemedProtocol

/// Sample messages with deterministic contents, valid for `CodecFixtures.codec`.
enum CodecFixtures {
    static let groupName = "telemed-2048-256"
    static let elementLength = 256
    static let codec = MessageCodec(groupName: groupName, elementLength: elementLength)

    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        return rng.bytes(count: count)
    }

    static func b32(_ seed: UInt64) -> Bytes32 {
        // 32 bytes always make a Bytes32; a failure here is a broken fixture.
        guard let value = try? Bytes32(bytes(32, seed: seed)) else { preconditionFailure("fixture Bytes32") }
        return value
    }

    static func element(_ seed: UInt64) -> ElementBytes {
        ElementBytes(bytes(elementLength, seed: seed))
    }

    static func id(_ text: String) -> PeerID {
        guard let id = try? PeerID(text) else { preconditionFailure("fixture id \(text)") }
        return id
    }

    static let keyVerification = KeyVerification(
        group: groupName, idI: id("patient-01"), idGWN: id("gwn.doctor_A"), tsI: 1_700_000_000_123,
        rnI: b32(1), c1: element(2), c2: element(3), sigR: element(4), sigS: b32(5)
    )
    static let keyConfirmation = KeyConfirmation(idI: id("patient-01"), ts: 1_700_000_000_999, skv: b32(6))
    static let sessionToken = SessionToken(
        group: groupName, idGWN: id("gwn.doctor_A"), idI: id("patient-01"), tsGWN: 1_700_000_000_500,
        rnGWN: b32(7), rnI: b32(1), c1: element(8), c2: element(9), sigR: element(10), sigS: b32(11)
    )
    static let groupKey = GroupKeyMessage(epoch: 3, seq: 0, members: 2, ct: bytes(48, seed: 12))
    static let broadcast = BroadcastMessage(
        epoch: 3, seq: 9_007_199_254_740_991, ts: 1_700_000_001_000, ct: bytes(17, seed: 13),
        sigR: element(14), sigS: b32(15)
    )
    static let receipt = ReceiptMessage(idI: id("p"), seq: 0, ct: bytes(32, seed: 16))
    static let disconnect = DisconnectMessage(seq: 4, ct: bytes(16, seed: 17))

    /// One of every message kind.
    static let all: [Message] = [
        .keyVerification(keyVerification), .keyConfirmation(keyConfirmation), .sessionToken(sessionToken),
        .groupKey(groupKey), .encMsg(broadcast), .decMsg(receipt), .disconnect(disconnect), .rejected,
    ]

    /// UTF-8 of `text`.
    static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Hex text of `count` bytes (all 0xab).
    static func hex(bytes count: Int) -> String { String(repeating: "ab", count: count) }
}

/// Asserts that `body` fails to decode with exactly `expected`.
func assertDecodeError(
    _ body: [UInt8], _ expected: DecodeError, codec: MessageCodec = CodecFixtures.codec,
    file: StaticString = #filePath, line: UInt = #line
) {
    do {
        let message = try codec.decode(body)
        XCTFail("decoded \(message.opcode) instead of throwing \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
    }
}

/// Asserts that `text` fails to decode with exactly `expected`.
func assertDecodeError(
    _ text: String, _ expected: DecodeError, file: StaticString = #filePath, line: UInt = #line
) {
    assertDecodeError(Array(text.utf8), expected, file: file, line: line)
}
