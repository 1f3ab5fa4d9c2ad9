import TelemedTestSupport
import XCTest
@_spi(Testing) import TelemedCrypto

/// Seeded property tests (see PropertyRunner for replaying a seed).
final class PropertyTests: XCTestCase {
    private let group = TelemedGroup.telemed2048

    func testDecryptInvertsEncrypt() throws {
        try PropertyRunner.run(cases: 24, base: 1_000) { seed, rng in
            let key = PrivateKey(generatingIn: group, using: &rng)
            let m = group.randomElement(using: &rng)
            let ct = ElGamal.encrypt(m, to: key.publicKey, using: &rng)
            XCTAssertEqual(try key.decrypt(ct), m, ReplaySeed.hint(seed, in: self))
            XCTAssertTrue(group.isValidElement(ct.c1) && group.isValidElement(ct.c2), ReplaySeed.hint(seed, in: self))
        }
    }

    func testSignaturesVerifyOnlyForTheirMessageKeyAndBits() throws {
        try PropertyRunner.run(cases: 12, base: 2_000) { seed, rng in
            let context = ReplaySeed.hint(seed, in: self)
            let key = PrivateKey(generatingIn: group, using: &rng)
            let otherKey = PrivateKey(generatingIn: group, using: &rng)
            let message = rng.bytes(Int(rng.next() % 200))
            let signature = key.sign(message, using: &rng)
            XCTAssertTrue(key.publicKey.isValidSignature(signature, for: message), context)
            XCTAssertFalse(otherKey.publicKey.isValidSignature(signature, for: message), "other key; " + context)
            var otherMessage = message + [UInt8(truncatingIfNeeded: rng.next())]
            XCTAssertFalse(key.publicKey.isValidSignature(signature, for: otherMessage), "longer message; " + context)
            if !message.isEmpty {
                otherMessage = message
                otherMessage[Int(rng.next() % UInt64(message.count))] ^= 1 << UInt8(rng.next() % 8)
                XCTAssertFalse(key.publicKey.isValidSignature(signature, for: otherMessage), "edited message; " + context)
            }
            // Flip one bit of the encoded r or s.
            var r = signature.rBytes(in: group), s = signature.sBytes(in: group)
            let bit = Int(rng.next() % UInt64((r.count + s.count) * 8))
            if bit < r.count * 8 { r[bit / 8] ^= 1 << (bit % 8) } else { s[(bit / 8) - r.count] ^= 1 << (bit % 8) }
            if let flipped = try? Signature(group: group, rBytes: r, sBytes: s) {
                XCTAssertFalse(key.publicKey.isValidSignature(flipped, for: message), "bit \(bit) flipped; " + context)
            } else {
                XCTFail("a same-length encoding failed to decode; " + context)
            }
        }
    }

    /// Random (r, s) of every shape never verifies and never traps.
    func testRandomSignaturesNeverVerify() throws {
        var key: PrivateKey?
        try PropertyRunner.run(cases: 200, base: 3_000) { seed, rng in
            if key == nil { key = PrivateKey(generatingIn: group, using: &rng) }
            guard let publicKey = key?.publicKey else { return }
            let r: BigInt, s: BigInt
            switch rng.next() % 4 {
            case 0:   // uniform encodings
                r = BigInt(bigEndian: rng.bytes(256)); s = BigInt(bigEndian: rng.bytes(32))
            case 1:   // a valid element for r, random s
                r = group.randomElement(using: &rng); s = group.randomScalar(using: &rng)
            case 2:   // boundary values
                let edges: [BigInt] = [.zero, .one, group.p - .one, group.p, group.q, group.q - .one, BigInt(-1)]
                r = edges[Int(rng.next() % UInt64(edges.count))]; s = edges[Int(rng.next() % UInt64(edges.count))]
            default:  // huge and negative values
                r = BigInt(bigEndian: rng.bytes(600)); s = -BigInt(bigEndian: rng.bytes(40))
            }
            XCTAssertFalse(publicKey.isValidSignature(Signature(r: r, s: s), for: rng.bytes(16)), ReplaySeed.hint(seed, in: self))
        }
    }

    /// Random ciphertext pairs either decrypt to a valid element or throw invalidElement.
    func testRandomCiphertextsNeverTrap() throws {
        var rng0 = SeededRandom(seed: 4_999)
        let key = PrivateKey(generatingIn: group, using: &rng0)
        try PropertyRunner.run(cases: 100, base: 4_000) { seed, rng in
            let c1 = rng.next() % 2 == 0 ? group.randomElement(using: &rng) : BigInt(bigEndian: rng.bytes(256))
            let c2 = rng.next() % 2 == 0 ? group.randomElement(using: &rng) : BigInt(bigEndian: rng.bytes(257))
            do {
                let m = try key.decrypt(ElGamalCiphertext(c1: c1, c2: c2))
                XCTAssertTrue(group.isValidElement(m), ReplaySeed.hint(seed, in: self))
            } catch {
                XCTAssertEqual(error as? CryptoError, .invalidElement, ReplaySeed.hint(seed, in: self))
            }
        }
    }

    func testSealedChannelRoundTrips() throws {
        try PropertyRunner.run(cases: 100, base: 5_000) { seed, rng in
            let key = SecretFixtures.trafficKey(TestHex.string(rng.bytes(16)))
            var sealing = SealingKey(key), opening = OpeningKey(key)
            var expectedSeq: UInt64 = 0
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let plaintext = rng.bytes(Int(rng.next() % 300)), aad = rng.bytes(Int(rng.next() % 40))
                let (seq, sealed) = sealing.seal(plaintext) { _ in aad }
                XCTAssertEqual(seq, expectedSeq, ReplaySeed.hint(seed, in: self))
                expectedSeq += 1
                XCTAssertEqual(try opening.open(sealed, seq: seq, aad: aad), plaintext, ReplaySeed.hint(seed, in: self))
            }
        }
    }

    /// Replays one seed of a property (the regression-test shape).
    func testReplayHelperReproducesACase() {
        var first: [UInt8] = [], second: [UInt8] = []
        PropertyRunner.replay(seed: 2_003) { _, rng in first = rng.bytes(64) }
        PropertyRunner.replay(seed: 2_003) { _, rng in second = rng.bytes(64) }
        XCTAssertEqual(first, second)
    }
}
