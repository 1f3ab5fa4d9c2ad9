import TelemedTestSupport
import XCTest
@_spi(Testing) import TelemedCrypto

/// Keys, encodings, §4 signatures and ElGamal on the named groups, with fixed seeds.
final class KeyAndSignatureTests: XCTestCase {
    private let group = TelemedGroup.telemed2048

    func testKeyEncodingRoundTripsAndRangeChecks() throws {
        var rng = SeededRandom(seed: 1)
        let key = PrivateKey(generatingIn: group, using: &rng)
        XCTAssertEqual(key.scalarBytes.count, 32)
        let reloaded = try PrivateKey(group: group, scalarBytes: key.scalarBytes)
        XCTAssertEqual(reloaded.publicKey, key.publicKey)
        XCTAssertEqual(try PublicKey(group: group, bytes: key.publicKey.bytes), key.publicKey)
        XCTAssertEqual(key.publicKey.bytes.count, 256)

        XCTAssertThrowsError(try PrivateKey(group: group, scalarBytes: [UInt8](repeating: 0, count: 32))) {
            XCTAssertEqual($0 as? CryptoError, .scalarOutOfRange)
        }
        XCTAssertThrowsError(try PrivateKey(group: group, scalarBytes: group.q.bytes(width: 32))) {
            XCTAssertEqual($0 as? CryptoError, .scalarOutOfRange)
        }
        XCTAssertThrowsError(try PrivateKey(group: group, scalarBytes: [1])) {
            XCTAssertEqual($0 as? CryptoError, .wrongLength(expected: 32, actual: 1))
        }
        XCTAssertThrowsError(try PublicKey(group: group, y: group.p - .one)) {
            XCTAssertEqual($0 as? CryptoError, .invalidElement)
        }
        XCTAssertThrowsError(try PublicKey(group: group, y: .one))
    }

    func testSignAndVerifyOnBothGroups() throws {
        for group in TelemedGroup.builtIn {
            var rng = SeededRandom(seed: 2).fork(group.name)
            let key = PrivateKey(generatingIn: group, using: &rng)
            let message = Array("TELEMED-V1 test".utf8)
            let signature = key.sign(message, using: &rng)
            XCTAssertTrue(key.publicKey.isValidSignature(signature, for: message))
            XCTAssertFalse(key.publicKey.isValidSignature(signature, for: message + [0]))
            let decoded = try Signature(group: group, rBytes: signature.rBytes(in: group), sBytes: signature.sBytes(in: group))
            XCTAssertEqual(decoded, signature)
            // Deterministic for a fixed k', different for another k'.
            let a = key.sign(message, extraEntropy: [UInt8](repeating: 7, count: 32))
            XCTAssertEqual(a, key.sign(message, extraEntropy: [UInt8](repeating: 7, count: 32)))
            XCTAssertNotEqual(a, key.sign(message, extraEntropy: [UInt8](repeating: 8, count: 32)))
        }
    }

    /// SECURITY-RULES attack 3: r = 0, 1, p−1, p; s = 0, q; and other out-of-range values.
    func testForgedSignatureShapesAreRejected() throws {
        var rng = SeededRandom(seed: 3)
        let key = PrivateKey(generatingIn: group, using: &rng)
        let message = Array("hello".utf8)
        let good = key.sign(message, using: &rng)
        let badR: [BigInt] = [.zero, .one, group.p - .one, group.p, group.p + .one, BigInt(-5), BigInt(2), group.q]
        for r in badR {
            XCTAssertFalse(key.publicKey.isValidSignature(Signature(r: r, s: good.s), for: message), "r = \(r)")
        }
        let badS: [BigInt] = [.zero, group.q, group.q + good.s, -good.s, BigInt(-1), group.p]
        for s in badS {
            XCTAssertFalse(key.publicKey.isValidSignature(Signature(r: good.r, s: s), for: message), "s = \(s)")
        }
        XCTAssertThrowsError(try Signature(group: group, rBytes: [UInt8](repeating: 0, count: 255), sBytes: [UInt8](repeating: 0, count: 32)))
        XCTAssertThrowsError(try Signature(group: group, rBytes: [UInt8](repeating: 0, count: 256), sBytes: [UInt8](repeating: 0, count: 33)))
    }

    func testElGamalRoundTripAndValidation() throws {
        for group in TelemedGroup.builtIn {
            var rng = SeededRandom(seed: 4).fork(group.name)
            let key = PrivateKey(generatingIn: group, using: &rng)
            let m = group.randomElement(using: &rng)
            let ct = ElGamal.encrypt(m, to: key.publicKey, using: &rng)
            XCTAssertEqual(try key.decrypt(ct), m)
            let decoded = try ElGamalCiphertext(group: group, c1Bytes: ct.c1Bytes(in: group), c2Bytes: ct.c2Bytes(in: group))
            XCTAssertEqual(decoded, ct)
            for (c1, c2) in [(BigInt.zero, ct.c2), (.one, ct.c2), (group.p - .one, ct.c2), (ct.c1, group.p),
                             (ct.c1, .zero), (BigInt(2), ct.c2)] {
                XCTAssertThrowsError(try key.decrypt(ElGamalCiphertext(c1: c1, c2: c2))) {
                    XCTAssertEqual($0 as? CryptoError, .invalidElement)
                }
            }
            // c2 = c1^x decrypts to M = 1, which is not a valid element.
            let sharedOnly = ElGamalCiphertext(c1: ct.c1, c2: ct.c1.powMod(BigInt(bigEndian: key.scalarBytes), group.p))
            XCTAssertThrowsError(try key.decrypt(sharedOnly)) { XCTAssertEqual($0 as? CryptoError, .invalidElement) }
            XCTAssertThrowsError(try ElGamalCiphertext(group: group, c1Bytes: [1], c2Bytes: [1]))
        }
    }

    func testSecretsAreRedacted() {
        var rng = SeededRandom(seed: 5)
        let key = PrivateKey(generatingIn: TelemedGroup.telemed2048, using: &rng)
        let xHex = TestHex.string(key.scalarBytes)
        var dumped = ""
        dump(key, to: &dumped)
        for text in [key.description, key.debugDescription, "\(key)", String(reflecting: key), dumped] {
            XCTAssertFalse(text.contains(xHex), text)
            XCTAssertFalse(text.contains(BigInt(bigEndian: key.scalarBytes).description), text)
        }
        // The secret-key types: SecretTypesTests.testEverySecretTypeIsRedacted.
    }
}
