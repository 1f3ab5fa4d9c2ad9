import XCTest
import Crypto
@_spi(Testing) import TelemedCrypto

/// The arithmetic against answers computed independently in Python (Vectors/crypto_vectors.json).
final class SelfMadeVectorTests: XCTestCase {
    private var vectors: SelfMadeVectors!

    override func setUpWithError() throws {
        vectors = try SelfMadeVectors.load()
    }

    func testPythonDerivedGroupsEqualTheCommittedConstants() throws {
        XCTAssertFalse(vectors.groups.isEmpty)
        for entry in vectors.groups {
            let group = try TelemedGroup.named(entry.name)
            XCTAssertEqual(group.p, try Hex.int(entry.p), entry.name)
            XCTAssertEqual(group.q, try Hex.int(entry.q), entry.name)
            XCTAssertEqual(group.g, try Hex.int(entry.g), entry.name)
            let constants = try XCTUnwrap([NamedGroupConstants.telemed2048, .telemed3072].first { $0.name == entry.name })
            XCTAssertEqual(constants.seed, entry.seed)
            XCTAssertEqual([constants.attempt, constants.counter, Int(constants.index), constants.count],
                           [entry.attempt, entry.counter, entry.index, entry.count])
        }
    }

    func testTextbookEncryption() throws {
        for (index, v) in vectors.textbook_encryption.enumerated() {
            let p = try Hex.int(v.p), x = try Hex.int(v.x)
            let ct = KnownAnswerTestsOnly.encrypt(p: p, g: try Hex.int(v.g), y: try Hex.int(v.y), m: try Hex.int(v.m), k: try Hex.int(v.k))
            XCTAssertEqual(ct, ElGamalCiphertext(c1: try Hex.int(v.c1), c2: try Hex.int(v.c2)), "case \(index)")
            XCTAssertEqual(KnownAnswerTestsOnly.decrypt(p: p, x: x, c1: ct.c1, c2: ct.c2), try Hex.int(v.m), "case \(index)")
        }
    }

    func testTextbookSignature() throws {
        for (index, v) in vectors.textbook_signature.enumerated() {
            let p = try Hex.int(v.p), g = try Hex.int(v.g), h = try Hex.int(v.h)
            let sig = KnownAnswerTestsOnly.sign(p: p, g: g, x: try Hex.int(v.x), k: try Hex.int(v.k), h: h)
            XCTAssertEqual(sig, Signature(r: try Hex.int(v.r), s: try Hex.int(v.s)), "case \(index)")
            if let sig {
                XCTAssertTrue(KnownAnswerTestsOnly.verify(p: p, g: g, y: try Hex.int(v.y), h: h, signature: sig), "case \(index)")
            }
        }
    }

    func testSubgroupSignaturesWithExplicitKAndWithRFC6979() throws {
        XCTAssertFalse(vectors.subgroup_signature.isEmpty)
        for (index, v) in vectors.subgroup_signature.enumerated() {
            let group = try TelemedGroup.named(v.group)
            let x = try Hex.int(v.x), message = try Hex.bytes(v.message)
            let key = try PrivateKey(group: group, scalarBytes: try Hex.bytes(v.x))
            XCTAssertEqual(key.publicKey.bytes, try Hex.bytes(v.y), "case \(index): y")
            let explicit = KnownAnswerTestsOnly.subgroupSign(group: group, x: x, k: try Hex.int(v.k), message: message)
            XCTAssertEqual(explicit, Signature(r: try Hex.int(v.r), s: try Hex.int(v.s)), "case \(index): explicit k")
            let h1 = Hashing.sha256(message).bytes
            let extra = try Hex.bytes(v.extra_entropy)
            XCTAssertEqual(KnownAnswerTestsOnly.rfc6979Nonce(q: group.q, x: x, h1: h1, extraEntropy: extra),
                           try Hex.int(v.rfc6979_k), "case \(index): RFC 6979 k")
            let real = key.sign(message, extraEntropy: extra)
            XCTAssertEqual(real.rBytes(in: group), try Hex.bytes(v.rfc6979_r), "case \(index): r")
            XCTAssertEqual(real.sBytes(in: group), try Hex.bytes(v.rfc6979_s), "case \(index): s")
            XCTAssertTrue(key.publicKey.isValidSignature(real, for: message), "case \(index)")
            if let explicit { XCTAssertTrue(key.publicKey.isValidSignature(explicit, for: message), "case \(index)") }
        }
    }

    func testSubgroupEncryptionWithExplicitEphemeral() throws {
        for (index, v) in vectors.subgroup_encryption.enumerated() {
            let group = try TelemedGroup.named(v.group)
            let key = try PrivateKey(group: group, scalarBytes: try Hex.bytes(v.x))
            let m = try group.element(from: try Hex.bytes(v.m))
            let ct = ElGamal.encrypt(m, to: key.publicKey, ephemeral: try Hex.int(v.k))
            XCTAssertEqual(ct.c1Bytes(in: group), try Hex.bytes(v.c1), "case \(index)")
            XCTAssertEqual(ct.c2Bytes(in: group), try Hex.bytes(v.c2), "case \(index)")
            XCTAssertEqual(try key.decrypt(ct), m, "case \(index)")
        }
    }

    func testSeededRandomStreamMatchesItsDocumentedDefinition() throws {
        for v in vectors.seeded_random {
            let seed = try XCTUnwrap(UInt64(v.seed))
            var rng = SeededRandom(seed: seed)
            XCTAssertEqual(Hex.string(rng.bytes(100)), v.first100, "seed \(v.seed)")
            var child = SeededRandom(seed: seed).fork(v.fork_label)
            XCTAssertEqual(Hex.string(child.bytes(40)), v.fork_first40, "seed \(v.seed) fork")
        }
    }

    func testHKDF32() throws {
        for v in vectors.hkdf32 {
            let key = KeyDerivation.hkdf32(ikm: SymmetricKey(data: try Hex.bytes(v.ikm)), info: v.info)
            XCTAssertEqual(Hex.string(key.withUnsafeBytes { Array($0) }), v.okm, v.info)
        }
    }
}
