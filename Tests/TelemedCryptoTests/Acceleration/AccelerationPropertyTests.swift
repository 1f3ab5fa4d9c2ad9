import PropertyBased
import TelemedTestSupport
import Testing
@_spi(Testing) import TelemedCrypto

/// The accelerated strategy (fixed-base comb for g and prepared keys, multi-exponentiation in
/// verification, implied element checks) gives exactly what the plain-GMP reference
/// (`TelemedGroup.using(.reference)`) gives, on generated keys, messages and elements, in both
/// named groups. Property checks through `forAll`; a failure prints its replay line
/// (`replay: TELEMED_SEED=<seed> swift test --filter AccelerationPropertyTests/<test>`).
@Suite struct AccelerationPropertyTests {
    /// `PrivateKey(group:scalarBytes:)`, `PrivateKey.sign(_:extraEntropy:)`,
    /// `PublicKey.precomputingEncryptionTable`, `ElGamal.encrypt(_:to:ephemeral:)` and
    /// `PrivateKey.decrypt` agree between the two strategies.
    @Test func testKeysSignaturesAndCiphertextsAreIdenticalUnderBothStrategies() async throws {
        let groups = [TelemedGroup.telemed2048, TelemedGroup.telemed3072]
        let input = zip(Gen.int(in: 0...1), Gen.uint8().array(of: 32), Gen.uint8().array(of: 0...99), Gen.uint64())
        await forAll(count: 6, input) { groupIndex, x, message, seed in
            var rng = SeededRandom(seed: seed)
            let fast = groups[groupIndex]
            let slow = fast.using(.reference)
            guard let fastKey = try? PrivateKey(group: fast, scalarBytes: x) else { return }  // x ≥ q: skip
            let slowKey = try PrivateKey(group: slow, scalarBytes: x)
            #expect(fastKey.publicKey.y == slowKey.publicKey.y, "g^x")

            let entropy = rng.bytes(32)
            let fastSignature = fastKey.sign(message, extraEntropy: entropy)
            #expect(fastSignature == slowKey.sign(message, extraEntropy: entropy), "signature")
            #expect(slowKey.publicKey.isValidSignature(fastSignature, for: message))
            #expect(fastKey.publicKey.isValidSignature(fastSignature, for: message))

            let element = fast.randomElement(using: &rng)
            let k = fast.randomScalar(using: &rng)
            let prepared = fastKey.publicKey.precomputingEncryptionTable()
            #expect(prepared.hasEncryptionTable && !fastKey.publicKey.hasEncryptionTable)
            #expect(prepared == fastKey.publicKey)
            let expected = ElGamal.encrypt(element, to: slowKey.publicKey, ephemeral: k)
            #expect(ElGamal.encrypt(element, to: fastKey.publicKey, ephemeral: k) == expected, "plain key")
            #expect(ElGamal.encrypt(element, to: prepared, ephemeral: k) == expected, "prepared key")
            let (fastDecrypted, slowDecrypted) = (try fastKey.decrypt(expected), try slowKey.decrypt(expected))
            #expect(fastDecrypted == element && slowDecrypted == element)
        }
    }

    /// `PublicKey.isValidSignature` (multi-exponentiation) accepts and rejects exactly what the
    /// reference does: the good signature, s + 1, another element as r, s = 0, r = p − 1.
    @Test func testVerificationRejectsExactlyWhatTheReferenceRejects() async {
        let fast = TelemedGroup.telemed2048
        let slow = fast.using(.reference)
        await forAll(count: 8, zip(Gen.uint64(), Gen.uint8().array(of: 40))) { seed, message in
            var rng = SeededRandom(seed: seed)
            let key = PrivateKey(generatingIn: fast, using: &rng)
            let slowPublic = try PublicKey(group: slow, y: key.publicKey.y)
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
                #expect(key.publicKey.isValidSignature(signature, for: message)
                        == slowPublic.isValidSignature(signature, for: message), "candidate \(index)")
            }
            #expect(key.publicKey.isValidSignature(good, for: message))
        }
    }
}
