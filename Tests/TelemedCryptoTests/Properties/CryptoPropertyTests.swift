import PropertyBased
import TelemedTestSupport
import Testing
@_spi(Testing) import TelemedCrypto

/// Property checks of the crypto module, on swift-property-based through `forAll`: keys and
/// signing randomness come from a generated seed (`SeededRandom`, since key generation and
/// signing take the cryptographic generator marker); messages, plaintexts and bit positions are
/// generated values, shrunk on failure. A failure prints its replay line
/// (`replay: TELEMED_SEED=<seed> swift test --filter CryptoPropertyTests/<test>`, `ReplaySeed`).
@Suite struct CryptoPropertyTests {
    let group = TelemedGroup.telemed2048

    /// `ElGamal.encrypt` then `PrivateKey.decrypt` gives the element back, and the ciphertext's
    /// halves are group elements.
    @Test func testDecryptInvertsEncrypt() async {
        await forAll(count: 24, Gen.uint64()) { seed in
            var rng = SeededRandom(seed: seed)
            let key = PrivateKey(generatingIn: group, using: &rng)
            let m = group.randomElement(using: &rng)
            let ct = ElGamal.encrypt(m, to: key.publicKey, using: &rng)
            let decrypted = try key.decrypt(ct)
            #expect(decrypted == m)
            #expect(group.isValidElement(ct.c1) && group.isValidElement(ct.c2))
        }
    }

    /// `PrivateKey.sign` / `PublicKey.isValidSignature`: a signature verifies for its own
    /// message and key only; a longer message, an edited message, another key and a flipped bit
    /// of the encoded r or s (`Signature(group:rBytes:sBytes:)`) all fail.
    @Test func testSignaturesVerifyOnlyForTheirMessageKeyAndBits() async {
        let input = zip(Gen.uint64(), Gen.uint8().array(of: 0...199), Gen.uint8(), Gen.uint64())
        await forAll(count: 12, input) { seed, message, extra, flip in
            var rng = SeededRandom(seed: seed)
            let key = PrivateKey(generatingIn: group, using: &rng)
            let otherKey = PrivateKey(generatingIn: group, using: &rng)
            let signature = key.sign(message, using: &rng)
            #expect(key.publicKey.isValidSignature(signature, for: message))
            #expect(!otherKey.publicKey.isValidSignature(signature, for: message), "other key")
            #expect(!key.publicKey.isValidSignature(signature, for: message + [extra]), "longer message")
            if !message.isEmpty {
                var edited = message
                edited[Int(flip % UInt64(message.count))] ^= 1 << UInt8((flip >> 32) % 8)
                #expect(!key.publicKey.isValidSignature(signature, for: edited), "edited message")
            }
            // Flip one bit of the encoded r or s.
            var r = signature.rBytes(in: group), s = signature.sBytes(in: group)
            let bit = Int(flip % UInt64((r.count + s.count) * 8))
            if bit < r.count * 8 { r[bit / 8] ^= 1 << (bit % 8) } else { s[(bit / 8) - r.count] ^= 1 << (bit % 8) }
            let flipped = try #require(try? Signature(group: group, rBytes: r, sBytes: s), "a same-length encoding decodes")
            #expect(!key.publicKey.isValidSignature(flipped, for: message), "bit \(bit) flipped")
        }
    }

    /// `PublicKey.isValidSignature` on random (r, s) of every shape (uniform encodings, a valid
    /// element with a random scalar, boundary values, huge and negative values) never verifies
    /// and never traps.
    @Test func testRandomSignaturesNeverVerify() async {
        var keyRNG = SeededRandom(seed: 3_000)
        let publicKey = PrivateKey(generatingIn: group, using: &keyRNG).publicKey
        let edges: [BigInt] = [.zero, .one, group.p - .one, group.p, group.q, group.q - .one, BigInt(-1)]
        await forAll(count: 200, zip(Gen.int(in: 0...3), Gen.uint64())) { shape, seed in
            var rng = SeededRandom(seed: seed)
            let r: BigInt, s: BigInt
            switch shape {
            case 0:   // uniform encodings
                r = BigInt(bigEndian: rng.bytes(256)); s = BigInt(bigEndian: rng.bytes(32))
            case 1:   // a valid element for r, random s
                r = group.randomElement(using: &rng); s = group.randomScalar(using: &rng)
            case 2:   // boundary values
                r = edges[Int(rng.next() % UInt64(edges.count))]; s = edges[Int(rng.next() % UInt64(edges.count))]
            default:  // huge and negative values
                r = BigInt(bigEndian: rng.bytes(600)); s = -BigInt(bigEndian: rng.bytes(40))
            }
            #expect(!publicKey.isValidSignature(Signature(r: r, s: s), for: rng.bytes(16)))
        }
    }

    /// `PrivateKey.decrypt` of random ciphertext pairs (valid elements or raw 256/257-byte
    /// values) either gives a valid element or throws `CryptoError.invalidElement`.
    @Test func testRandomCiphertextsNeverTrap() async {
        var keyRNG = SeededRandom(seed: 4_999)
        let key = PrivateKey(generatingIn: group, using: &keyRNG)
        await forAll(count: 100, zip(Gen.bool(), Gen.bool(), Gen.uint64())) { c1IsElement, c2IsElement, seed in
            var rng = SeededRandom(seed: seed)
            let c1 = c1IsElement ? group.randomElement(using: &rng) : BigInt(bigEndian: rng.bytes(256))
            let c2 = c2IsElement ? group.randomElement(using: &rng) : BigInt(bigEndian: rng.bytes(257))
            do {
                let m = try key.decrypt(ElGamalCiphertext(c1: c1, c2: c2))
                #expect(group.isValidElement(m))
            } catch {
                #expect(error as? CryptoError == .invalidElement)
            }
        }
    }

    /// `SealingKey.seal` numbers its records 0, 1, 2, … and `OpeningKey.open` gives back each
    /// plaintext under its seq and associated data.
    @Test func testSealedChannelRoundTrips() async {
        let records = zip(Gen.uint8().array(of: 0...299), Gen.uint8().array(of: 0...39)).array(of: 1...4)
        await forAll(count: 100, zip(Gen.uint8().array(of: 16), records)) { keyBytes, records in
            let key = SecretFixtures.trafficKey(TestHex.string(keyBytes))
            var sealing = SealingKey(key), opening = OpeningKey(key)
            for (expectedSeq, (plaintext, aad)) in records.enumerated() {
                let (seq, sealed) = sealing.seal(plaintext) { _ in aad }
                #expect(seq == UInt64(expectedSeq))
                let opened = try opening.open(sealed, seq: seq, aad: aad)
                #expect(opened == plaintext)
            }
        }
    }
}
