import TelemedTestSupport
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
            XCTAssertEqual(group.p, try TestHex.int(entry.p), entry.name)
            XCTAssertEqual(group.q, try TestHex.int(entry.q), entry.name)
            XCTAssertEqual(group.g, try TestHex.int(entry.g), entry.name)
            let constants = try XCTUnwrap([NamedGroupConstants.telemed2048, .telemed3072].first { $0.name == entry.name })
            XCTAssertEqual(constants.seed, entry.seed)
            XCTAssertEqual([constants.attempt, constants.counter, Int(constants.index), constants.count],
                           [entry.attempt, entry.counter, entry.index, entry.count])
        }
    }

    func testTextbookEncryption() throws {
        for (index, v) in vectors.textbook_encryption.enumerated() {
            let p = try TestHex.int(v.p), x = try TestHex.int(v.x)
            let ct = KnownAnswerTestsOnly.encrypt(p: p, g: try TestHex.int(v.g), y: try TestHex.int(v.y), m: try TestHex.int(v.m), k: try TestHex.int(v.k))
            XCTAssertEqual(ct, ElGamalCiphertext(c1: try TestHex.int(v.c1), c2: try TestHex.int(v.c2)), "case \(index)")
            XCTAssertEqual(KnownAnswerTestsOnly.decrypt(p: p, x: x, c1: ct.c1, c2: ct.c2), try TestHex.int(v.m), "case \(index)")
        }
    }

    func testTextbookSignature() throws {
        for (index, v) in vectors.textbook_signature.enumerated() {
            let p = try TestHex.int(v.p), g = try TestHex.int(v.g), h = try TestHex.int(v.h)
            let sig = KnownAnswerTestsOnly.sign(p: p, g: g, x: try TestHex.int(v.x), k: try TestHex.int(v.k), h: h)
            XCTAssertEqual(sig, Signature(r: try TestHex.int(v.r), s: try TestHex.int(v.s)), "case \(index)")
            if let sig {
                XCTAssertTrue(KnownAnswerTestsOnly.verify(p: p, g: g, y: try TestHex.int(v.y), h: h, signature: sig), "case \(index)")
            }
        }
    }

    func testSubgroupSignaturesWithExplicitKAndWithRFC6979() throws {
        XCTAssertFalse(vectors.subgroup_signature.isEmpty)
        for (index, v) in vectors.subgroup_signature.enumerated() {
            let group = try TelemedGroup.named(v.group)
            let x = try TestHex.int(v.x), message = try TestHex.bytes(v.message)
            let key = try PrivateKey(group: group, scalarBytes: try TestHex.bytes(v.x))
            XCTAssertEqual(key.publicKey.bytes, try TestHex.bytes(v.y), "case \(index): y")
            let explicit = KnownAnswerTestsOnly.subgroupSign(group: group, x: x, k: try TestHex.int(v.k), message: message)
            XCTAssertEqual(explicit, Signature(r: try TestHex.int(v.r), s: try TestHex.int(v.s)), "case \(index): explicit k")
            let h1 = Hashing.sha256(message).bytes
            let extra = try TestHex.bytes(v.extra_entropy)
            XCTAssertEqual(KnownAnswerTestsOnly.rfc6979Nonce(q: group.q, x: x, h1: h1, extraEntropy: extra),
                           try TestHex.int(v.rfc6979_k), "case \(index): RFC 6979 k")
            let real = key.sign(message, extraEntropy: extra)
            XCTAssertEqual(real.rBytes(in: group), try TestHex.bytes(v.rfc6979_r), "case \(index): r")
            XCTAssertEqual(real.sBytes(in: group), try TestHex.bytes(v.rfc6979_s), "case \(index): s")
            XCTAssertTrue(key.publicKey.isValidSignature(real, for: message), "case \(index)")
            if let explicit { XCTAssertTrue(key.publicKey.isValidSignature(explicit, for: message), "case \(index)") }
        }
    }

    func testSubgroupEncryptionWithExplicitEphemeral() throws {
        for (index, v) in vectors.subgroup_encryption.enumerated() {
            let group = try TelemedGroup.named(v.group)
            let key = try PrivateKey(group: group, scalarBytes: try TestHex.bytes(v.x))
            let m = try group.element(from: try TestHex.bytes(v.m))
            let ct = ElGamal.encrypt(m, to: key.publicKey, ephemeral: try TestHex.int(v.k))
            XCTAssertEqual(ct.c1Bytes(in: group), try TestHex.bytes(v.c1), "case \(index)")
            XCTAssertEqual(ct.c2Bytes(in: group), try TestHex.bytes(v.c2), "case \(index)")
            XCTAssertEqual(try key.decrypt(ct), m, "case \(index)")
        }
    }

    func testSeededRandomStreamMatchesItsDocumentedDefinition() throws {
        for v in vectors.seeded_random {
            let seed = try XCTUnwrap(UInt64(v.seed))
            var rng = SeededRandom(seed: seed)
            XCTAssertEqual(TestHex.string(rng.bytes(100)), v.first100, "seed \(v.seed)")
            var child = SeededRandom(seed: seed).fork(v.fork_label)
            XCTAssertEqual(TestHex.string(child.bytes(40)), v.fork_first40, "seed \(v.seed) fork")
        }
    }

    func testHKDF32() throws {
        for v in vectors.hkdf32 {
            let key = KeyDerivation.hkdf32(ikm: SymmetricKey(data: try TestHex.bytes(v.ikm)), info: v.info)
            XCTAssertEqual(TestHex.string(key.withUnsafeBytes { Array($0) }), v.okm, v.info)
        }
    }
}
