import XCTest
@_spi(Testing) import TelemedCrypto

/// The accelerated strategy (fixed-base comb for g and prepared keys, multi-exponentiation in
/// verification, implied element checks) gives exactly what the plain-GMP reference gives,
/// in both named groups. The generated-input checks are in `AccelerationPropertyTests`.
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
