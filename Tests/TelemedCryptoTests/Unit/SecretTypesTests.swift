import Crypto
import TelemedTestSupport
import XCTest
@_spi(Testing) import TelemedCrypto

/// The secret-key types (SessionKey, TrafficKey, GroupKeySecret, GroupKey) and the
/// nonce-owning SealingKey / OpeningKey.
final class SecretTypesTests: XCTestCase {
    func testEverySecretTypeIsRedacted() throws {
        var rng = SeededRandom(seed: 77)
        let doctorKey = PrivateKey(generatingIn: TelemedGroup.telemed2048, using: &rng)
        let session = SecretFixtures.sessionKey("redaction")
        let traffic = SecretFixtures.trafficKey("redaction")
        let secret = GroupKeySecret(derivedFrom: doctorKey, info: "TELEMED-V1 gk-secret")
        let group = SecretFixtures.groupKey("redaction")
        let cases: [(Any, [UInt8])] = [
            (session, session.withUnsafeBytes { Array($0) }), (traffic, traffic.withUnsafeBytes { Array($0) }),
            (secret, secret.withUnsafeBytes { Array($0) }), (group, group.withUnsafeBytes { Array($0) }),
            (SealingKey(traffic), traffic.withUnsafeBytes { Array($0) }),
            (OpeningKey(group), group.withUnsafeBytes { Array($0) }),
        ]
        for (value, keyBytes) in cases {
            XCTAssertEqual(keyBytes.count, 32)
            var dumped = ""
            dump(value, to: &dumped)
            let texts = [String(describing: value), String(reflecting: value), "\(value)", dumped]
            let hex = TestHex.string(keyBytes)
            let decimalBytes = keyBytes.map(String.init).joined(separator: ", ")
            for text in texts {
                XCTAssertTrue(text.contains("redacted") || text.contains("Key"), text)
                XCTAssertFalse(text.lowercased().contains(hex), text)
                XCTAssertFalse(text.contains(decimalBytes), text)
                XCTAssertFalse(text.contains("SymmetricKey"), "the backing store must not be mirrored: \(text)")
            }
        }
    }

    /// `==` is swift-crypto's `SymmetricKey ==` (constant time): it agrees with byte equality
    /// for keys that differ in the first byte, the last byte, or not at all.
    func testEqualityGoesThroughSwiftCrypto() {
        XCTAssertEqual(SecretFixtures.sessionKey("x"), SecretFixtures.sessionKey("x"))
        XCTAssertNotEqual(SecretFixtures.sessionKey("x"), SecretFixtures.sessionKey("y"))
        XCTAssertEqual(SecretFixtures.trafficKey("x"), SecretFixtures.trafficKey("x"))
        XCTAssertNotEqual(SecretFixtures.trafficKey("x"), SecretFixtures.trafficKey("y"))
        XCTAssertEqual(SecretFixtures.groupKey("x"), SecretFixtures.groupKey("x"))
        XCTAssertNotEqual(SecretFixtures.groupKey("x"), SecretFixtures.groupKey("y"))
        // SKV comparison (Bytes32.constantTimeEquals) against the library's own comparison.
        let base = Hashing.sha256(Array("skv".utf8))
        for index in [0, 15, 31] {
            var changed = base.bytes
            changed[index] ^= 0x80
            let other = try? Bytes32(changed)
            XCTAssertEqual(other.map(base.constantTimeEquals), false, "byte \(index)")
            XCTAssertEqual(other.map { SymmetricKey(data: $0.bytes) == SymmetricKey(data: base.bytes) }, false)
        }
        XCTAssertTrue(base.constantTimeEquals(base))
    }

    func testTheSealingKeyNeverRepeatsASeq() {
        var sealing = SealingKey(SecretFixtures.trafficKey("counter"))
        var seen = Set<UInt64>()
        var aadSeqs: [UInt64] = []
        for index in 0..<200 {
            let (seq, _) = sealing.seal([UInt8(truncatingIfNeeded: index)]) { seq in aadSeqs.append(seq); return [] }
            XCTAssertTrue(seen.insert(seq).inserted, "seq \(seq) used twice")
            XCTAssertEqual(seq, UInt64(index))
        }
        XCTAssertEqual(aadSeqs, (0..<200).map(UInt64.init), "the AAD is built from the seq the seal uses")
        XCTAssertEqual(sealing.nextSeq, 200)
        // Sealing the same plaintext twice gives different ciphertexts (different nonces).
        let first = sealing.seal([1, 2, 3]) { _ in [] }, second = sealing.seal([1, 2, 3]) { _ in [] }
        XCTAssertNotEqual(first.ciphertext, second.ciphertext)
    }

    func testTheOpeningKeyRefusesReplaysAndAdvancesOnlyOnSuccess() throws {
        let key = SecretFixtures.trafficKey("opening")
        var sealing = SealingKey(key)
        let messages = (0..<4).map { index in sealing.seal([UInt8(index)]) { _ in [] } }
        var opening = OpeningKey(key)
        XCTAssertNil(opening.lastAcceptedSeq)
        XCTAssertEqual(try opening.open(messages[1].ciphertext, seq: 1, aad: []), [1])
        XCTAssertEqual(opening.lastAcceptedSeq, 1)
        // A replay and an older seq are refused before decryption, and change nothing.
        XCTAssertThrowsError(try opening.open(messages[1].ciphertext, seq: 1, aad: [])) {
            XCTAssertEqual($0 as? OpeningError, .sequenceNotAbove(last: 1))
        }
        XCTAssertThrowsError(try opening.open(messages[0].ciphertext, seq: 0, aad: [])) {
            XCTAssertEqual($0 as? OpeningError, .sequenceNotAbove(last: 1))
        }
        // A forgery at a higher seq fails and does not advance.
        XCTAssertThrowsError(try opening.open(messages[2].ciphertext, seq: 3, aad: [])) {
            XCTAssertEqual($0 as? OpeningError, .authenticationFailure)
        }
        XCTAssertEqual(opening.lastAcceptedSeq, 1)
        XCTAssertTrue(opening.admits(2))
        XCTAssertEqual(try opening.open(messages[3].ciphertext, seq: 3, aad: []), [3])
        XCTAssertFalse(opening.admits(2))
    }

    func testAGroupKeyTravelsSealedAndOpensAsTheSameKey() throws {
        let traffic = SecretFixtures.trafficKey("transport"), group = SecretFixtures.groupKey("transport")
        var sealing = SealingKey(traffic)
        let (seq, ct) = sealing.seal(group) { _ in [9] }
        XCTAssertEqual(ct.count, 48)
        var opening = OpeningKey(traffic)
        XCTAssertEqual(try opening.openGroupKey(ct, seq: seq, aad: [9]), group)
        XCTAssertEqual(opening.lastAcceptedSeq, seq)
        // A 31-byte body is refused and does not advance.
        var short = SealingKey(traffic)
        let wrong = short.seal([UInt8](repeating: 1, count: 31)) { _ in [] }
        var fresh = OpeningKey(traffic)
        XCTAssertThrowsError(try fresh.openGroupKey(wrong.ciphertext, seq: wrong.seq, aad: [])) {
            XCTAssertEqual($0 as? OpeningError, .authenticationFailure)
        }
        XCTAssertNil(fresh.lastAcceptedSeq)
    }
}
