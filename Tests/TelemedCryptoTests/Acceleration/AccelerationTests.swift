import TelemedTestSupport
import XCTest
@_spi(Testing) import TelemedCrypto

/// The accelerated strategy (fixed-base comb for g and prepared keys, multi-exponentiation in
/// verification, implied element checks) gives exactly what the plain-GMP reference gives,
/// in both named groups. Seeded; see PropertyRunner for replaying a seed.
final class AccelerationTests: XCTestCase {
    private let groups = [TelemedGroup.telemed2048, TelemedGroup.telemed3072]

    func testNamedGroupsAccelerateByDefaultAndIgnoreTheStrategyInEquality() {
        for group in groups {
            XCTAssertEqual(group.exponentiation, .accelerated)
            let reference = group.using(.reference)
            XCTAssertEqual(reference.exponentiation, .reference)
            XCTAssertEqual(reference, group)
            XCTAssertEqual(reference.hashValue, group.hashValue)
        }
    }

    func testKeysSignaturesAndCiphertextsAreIdenticalUnderBothStrategies() throws {
        try PropertyRunner.run(cases: 6, base: 8_100) { seed, rng in
            let context = ReplaySeed.hint(seed, in: self)
            let fast = groups[Int(seed % 2)]
            let slow = fast.using(.reference)
            let x = rng.bytes(32)
            guard let fastKey = try? PrivateKey(group: fast, scalarBytes: x) else { return }  // x ≥ q: skip
            let slowKey = try PrivateKey(group: slow, scalarBytes: x)
            XCTAssertEqual(fastKey.publicKey.y, slowKey.publicKey.y, "g^x; " + context)

            let message = rng.bytes(Int(rng.next() % 100))
            let entropy = rng.bytes(32)
            let fastSignature = fastKey.sign(message, extraEntropy: entropy)
            XCTAssertEqual(fastSignature, slowKey.sign(message, extraEntropy: entropy), "signature; " + context)
            XCTAssertTrue(slowKey.publicKey.isValidSignature(fastSignature, for: message), context)
            XCTAssertTrue(fastKey.publicKey.isValidSignature(fastSignature, for: message), context)

            let element = fast.randomElement(using: &rng)
            let k = fast.randomScalar(using: &rng)
            let prepared = fastKey.publicKey.precomputingEncryptionTable()
            XCTAssertTrue(prepared.hasEncryptionTable && !fastKey.publicKey.hasEncryptionTable)
            XCTAssertEqual(prepared, fastKey.publicKey)
            let expected = ElGamal.encrypt(element, to: slowKey.publicKey, ephemeral: k)
            XCTAssertEqual(ElGamal.encrypt(element, to: fastKey.publicKey, ephemeral: k), expected, "plain key; " + context)
            XCTAssertEqual(ElGamal.encrypt(element, to: prepared, ephemeral: k), expected, "prepared key; " + context)
            XCTAssertEqual(try fastKey.decrypt(expected), element, context)
            XCTAssertEqual(try slowKey.decrypt(expected), element, context)
        }
    }

    func testVerificationRejectsExactlyWhatTheReferenceRejects() throws {
        try PropertyRunner.run(cases: 8, base: 8_200) { seed, rng in
            let context = ReplaySeed.hint(seed, in: self)
            let fast = TelemedGroup.telemed2048
            let slow = fast.using(.reference)
            let key = PrivateKey(generatingIn: fast, using: &rng)
            let slowPublic = try PublicKey(group: slow, y: key.publicKey.y)
            let message = rng.bytes(40)
            let good = key.sign(message, using: &rng)
            // Tamper with s, with r (as another valid element), or with both.
            let candidates = [
                good,
                Signature(r: good.r, s: (good.s + .one).modulo(fast.q)),
                Signature(r: fast.randomElement(using: &rng), s: good.s),
                Signature(r: good.r, s: .zero),
                Signature(r: fast.p - .one, s: good.s),
            ]
            for (index, signature) in candidates.enumerated() {
                XCTAssertEqual(key.publicKey.isValidSignature(signature, for: message),
                               slowPublic.isValidSignature(signature, for: message), "candidate \(index); " + context)
            }
            XCTAssertTrue(key.publicKey.isValidSignature(good, for: message), context)
        }
    }

    func testDecryptionStillRejectsNonElementsWithoutTheExtraExponentiation() throws {
        var rng = SeededRandom(seed: 8_300)
        let group = TelemedGroup.telemed2048
        let key = PrivateKey(generatingIn: group, using: &rng)
        let good = ElGamal.encrypt(group.randomElement(using: &rng), to: key.publicKey, using: &rng)
        // c2 outside the subgroup (−c2 has order 2q), c1 = 1, and c2 = c1^x (decrypts to M = 1).
        let shared = try PrivateKey(group: group.using(.reference), scalarBytes: key.scalarBytes)
        let oneCipher = ElGamalCiphertext(c1: good.c1, c2: good.c1.powMod(BigInt(bigEndian: key.scalarBytes), group.p))
        let bad = [
            ElGamalCiphertext(c1: good.c1, c2: group.p - good.c2),
            ElGamalCiphertext(c1: .one, c2: good.c2),
            oneCipher,
        ]
        for (index, ciphertext) in bad.enumerated() {
            XCTAssertThrowsError(try key.decrypt(ciphertext), "case \(index)") {
                XCTAssertEqual($0 as? CryptoError, .invalidElement)
            }
            XCTAssertThrowsError(try shared.decrypt(ciphertext), "reference, case \(index)")
        }
    }
}
