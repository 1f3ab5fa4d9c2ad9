import Foundation
import TelemedTestSupport
import XCTest
import TelemedCrypto

/// ElGamal, RFC 6979 and element validation against peer vectors (bundled in Vectors/peer, sources and licences in its PROVENANCE.md).
final class PublicKeyVectorTests: XCTestCase {
    // MARK: - PyCryptodome (libgcrypt) textbook ElGamal

    private struct PyCryptodomeFile: Decodable {
        struct Encryption: Decodable { let p, g, y, x, k, pt, ct1, ct2: String }
        struct Signing: Decodable { let p, g, y, x, k, h, sig1, sig2: String }
        let encryption: [Encryption]
        let signature: [Signing]
    }

    func testTextbookElGamalAgainstPyCryptodome() throws {
        let file = try JSONDecoder().decode(
            PyCryptodomeFile.self, from: VectorSources.peerData("pycryptodome/elgamal_pycryptodome.json"))
        XCTAssertEqual(file.encryption.count, 2)
        XCTAssertEqual(file.signature.count, 2)
        for (index, v) in file.encryption.enumerated() {
            let (p, g, x) = (try TestHex.int(v.p), try TestHex.int(v.g), try TestHex.int(v.x))
            XCTAssertEqual(g.powMod(x, p), try TestHex.int(v.y), "encryption #\(index): y = g^x")
            let ct = KnownAnswerTestsOnly.encrypt(p: p, g: g, y: try TestHex.int(v.y), m: try TestHex.int(v.pt), k: try TestHex.int(v.k))
            XCTAssertEqual(ct.c1, try TestHex.int(v.ct1), "encryption #\(index): c1")
            XCTAssertEqual(ct.c2, try TestHex.int(v.ct2), "encryption #\(index): c2")
            XCTAssertEqual(KnownAnswerTestsOnly.decrypt(p: p, x: x, c1: ct.c1, c2: ct.c2), try TestHex.int(v.pt))
        }
        for (index, v) in file.signature.enumerated() {
            let (p, g, y) = (try TestHex.int(v.p), try TestHex.int(v.g), try TestHex.int(v.y))
            let h = try TestHex.int(v.h)
            let signature = try XCTUnwrap(KnownAnswerTestsOnly.sign(p: p, g: g, x: try TestHex.int(v.x), k: try TestHex.int(v.k), h: h))
            XCTAssertEqual(signature.r, try TestHex.int(v.sig1), "signature #\(index): r")
            XCTAssertEqual(signature.s, try TestHex.int(v.sig2), "signature #\(index): s")
            XCTAssertTrue(KnownAnswerTestsOnly.verify(p: p, g: g, y: y, h: h, signature: signature))
            XCTAssertFalse(KnownAnswerTestsOnly.verify(p: p, g: g, y: y, h: h + .one, signature: signature))
        }
    }

    // MARK: - Botan ElGamal

    /// Botan's encryption draws k as the first ⌈(|p|−1)/8⌉ bytes of its fixed "Nonce" RNG
    /// output, reduced to |p| − 1 bits (elgamal.cpp `BigInt k(rng, p_bits − 1, false)`);
    /// the groups are RFC 2409/3526 MODP primes with g = 2, recomputed from π by
    /// make_crypto_vectors.py into our own vector file.
    func testElGamalEncryptionAgainstBotan() throws {
        let text = try VectorSources.peerText("botan/elgamal_encrypt.vec")
        let modp = try SelfMadeVectors.load().modp_groups
        let file = try BotanVectorFile(text: text, outputKey: "Ciphertext", persistent: false)
        XCTAssertEqual(file.records.count, 6)
        for record in file.records {
            let name = try record.required("Group")
            let group = try XCTUnwrap(modp.first { $0.name == name }, "no MODP prime for \(name)")
            let p = try TestHex.int(group.p), g = try TestHex.int(group.g)
            let width = p.byteWidth
            let x = try TestHex.botanNumber(record.required("Secret"))
            let nonce = try TestHex.bytes(record.required("Nonce"))
            let kBits = p.bitWidth - 1
            let k = BigInt(bigEndian: nonce.prefix((kBits + 7) / 8)).modulo(BigInt.one.shiftedLeft(kBits))
            let m = BigInt(bigEndian: try TestHex.bytes(record.required("Msg")))
            let ct = KnownAnswerTestsOnly.encrypt(p: p, g: g, y: g.powMod(x, p), m: m, k: k)
            let expected = try TestHex.bytes(record.required("Ciphertext"))
            XCTAssertEqual(try ct.c1.bytes(width: width) + ct.c2.bytes(width: width), expected,
                           "elgamal_encrypt.vec line \(record.line)")
            XCTAssertEqual(KnownAnswerTestsOnly.decrypt(p: p, x: x, c1: ct.c1, c2: ct.c2), m)
        }
    }

    /// Raw records compare the decrypted integer; the one `[EME-PKCS1-v1_5]` record is
    /// checked by stripping the PKCS#1 v1.5 type-2 padding from our raw result.
    func testElGamalDecryptionAgainstBotan() throws {
        let file = try BotanVectorFile(
            text: try VectorSources.peerText("botan/elgamal_decrypt.vec"), outputKey: "Ciphertext", persistent: false)
        XCTAssertEqual(file.records.count, 17)
        for record in file.records {
            let p = try TestHex.botanNumber(record.required("P"))
            let x = try TestHex.botanNumber(record.required("X"))
            let ct = try TestHex.bytes(record.required("Ciphertext"))
            let width = p.byteWidth
            XCTAssertEqual(ct.count, 2 * width, "line \(record.line)")
            let m = try XCTUnwrap(KnownAnswerTestsOnly.decrypt(
                p: p, x: x, c1: BigInt(bigEndian: ct.prefix(width)), c2: BigInt(bigEndian: ct.suffix(width))))
            let expected = try TestHex.bytes(record.required("Msg"))
            if record.section == "EME-PKCS1-v1_5" {
                let padded = m.magnitudeBytes()
                XCTAssertEqual(padded.first, 0x02, "line \(record.line): PKCS#1 type 2")
                let separator = try XCTUnwrap(padded.firstIndex(of: 0))
                XCTAssertEqual(Array(padded[(separator + 1)...]), expected, "line \(record.line)")
            } else {
                XCTAssertEqual(m, BigInt(bigEndian: expected), "elgamal_decrypt.vec line \(record.line)")
            }
        }
    }

    // MARK: - NIST KAS-FFC invalid public keys (Botan dh_invalid.vec)

    /// Each InvalidKey is treated as a candidate element of its own (p, q); every one must
    /// fail `1 < z < p−1, z^q ≡ 1`. The file's G must pass, as a control.
    func testInvalidPublicValuesAreRefusedAsElements() throws {
        let file = try BotanVectorFile(
            text: try VectorSources.peerText("botan/dh_invalid.vec"), outputKey: "InvalidKey", persistent: true)
        XCTAssertGreaterThanOrEqual(file.records.count, 7)
        for record in file.records {
            let p = try TestHex.botanNumber(record.required("P")), q = try TestHex.botanNumber(record.required("Q"))
            let g = try TestHex.botanNumber(record.required("G"))
            XCTAssertTrue(KnownAnswerTestsOnly.isValidElement(g, p: p, q: q), "control: G of line \(record.line)")
            let z = try TestHex.botanNumber(record.required("InvalidKey"))
            XCTAssertFalse(KnownAnswerTestsOnly.isValidElement(z, p: p, q: q), "dh_invalid.vec line \(record.line)")
        }
    }

    // MARK: - RFC 6979 nonces (Botan dsa_rfc6979.vec = RFC 6979 A.2.1, A.2.2)

    /// Only `Hash = SHA-256` records are checked (the signer uses HMAC-SHA-256 and SHA-256);
    /// the SHA-1/224/384/512 records are skipped. Both RFC groups have q ≤ 256 bits, so both
    /// are used. The nonce is checked through the DSA signature it must produce:
    /// r = (g^k mod p) mod q, s = k^-1 (H(m) + x r) mod q, H(m) = bits2int(SHA-256(m)).
    func testRFC6979NoncesAgainstDSAVectors() throws {
        let file = try BotanVectorFile(
            text: try VectorSources.peerText("botan/dsa_rfc6979.vec"), outputKey: "Signature", persistent: true)
        var checked = 0, skipped = 0
        for record in file.records {
            guard try record.required("Hash") == "SHA-256" else { skipped += 1; continue }
            let p = try TestHex.botanNumber(record.required("P")), q = try TestHex.botanNumber(record.required("Q"))
            let g = try TestHex.botanNumber(record.required("G")), x = try TestHex.botanNumber(record.required("X"))
            guard q.bitWidth <= 256 else { skipped += 1; continue }
            let h1 = Hashing.sha256(try TestHex.bytes(record.required("Msg"))).bytes
            let k = KnownAnswerTestsOnly.rfc6979Nonce(q: q, x: x, h1: h1)
            let hashInt = q.bitWidth < 256 ? BigInt(bigEndian: h1).shiftedRight(256 - q.bitWidth) : BigInt(bigEndian: h1)
            let r = g.powMod(k, p).modulo(q)
            let s = try XCTUnwrap(k.inverse(modulo: q)).multipliedMod((hashInt + x * r).modulo(q), q)
            let width = q.byteWidth
            XCTAssertEqual(try r.bytes(width: width) + s.bytes(width: width), try TestHex.bytes(record.required("Signature")),
                           "dsa_rfc6979.vec line \(record.line), q of \(q.bitWidth) bits")
            checked += 1
        }
        XCTAssertEqual(checked, 4, "two messages × two RFC 6979 DSA groups")
        print("dsa_rfc6979.vec: \(checked) SHA-256 records checked, \(skipped) records with other hashes skipped")
    }
}
