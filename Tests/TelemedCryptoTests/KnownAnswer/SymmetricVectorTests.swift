import Crypto
import Foundation
import TelemedTestSupport
import XCTest
import TelemedCrypto

/// SHA-256, HMAC-SHA-256, HKDF-SHA-256 and AES-GCM against peer vectors (bundled in Vectors/peer, sources and licences in its PROVENANCE.md).
final class SymmetricVectorTests: XCTestCase {
    // MARK: - SHA-256 (NIST CAVS)

    func testSHA256AgainstNISTShortMessages() throws {
        let file = RspFile(text: try VectorSources.peerText("nist/SHA256ShortMsg_CAVS21.3_OpenCAV.rsp"))
        var checked = 0
        for record in file.records {
            guard let len = record.fields["Len"].flatMap(Int.init), let msg = record.fields["Msg"],
                  let md = record.fields["MD"] else { continue }
            let message = len == 0 ? [] : try TestHex.bytes(msg)
            XCTAssertEqual(Hashing.sha256(message).hex, md.lowercased(), "SHA-256 Len = \(len)")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 60)
    }

    // MARK: - HMAC-SHA-256 (Wycheproof)

    func testHMACAgainstWycheproof() throws {
        let file = try WycheproofFile<WycheproofMACGroup>.load("wycheproof/hmac_sha256_test.json")
        var checked = 0
        for group in file.testGroups {
            for test in group.tests {
                let mac = Hashing.hmacSHA256(key: try TestHex.bytes(test.key), message: try TestHex.bytes(test.msg)).bytes
                let truncated = Array(mac.prefix(group.tagSize / 8))
                let matches = truncated == (try TestHex.bytes(test.tag))
                XCTAssertEqual(matches, test.result == "valid", "HMAC tcId \(test.tcId): \(test.comment)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, file.numberOfTests)
    }

    // MARK: - HKDF-SHA-256 (Botan RFC 5869 data, Wycheproof)

    func testHKDFAgainstBotanRFC5869() throws {
        let file = try BotanVectorFile(
            text: try VectorSources.peerText("botan/hkdf.vec"), outputKey: "Output", persistent: false)
        let records = file.records.filter { $0.section == "HKDF(HMAC(SHA-256))" }
        XCTAssertEqual(records.count, 3, "RFC 5869 A.1–A.3")
        for record in records {
            let expected = try TestHex.bytes(record.required("Output"))
            let okm = KeyDerivation.hkdfSHA256(
                ikm: try TestHex.bytes(record.required("Secret")), salt: try TestHex.bytes(record.fields["Salt"] ?? ""),
                info: try TestHex.bytes(record.fields["Label"] ?? ""), outputByteCount: expected.count)
            XCTAssertEqual(okm, expected, "hkdf.vec line \(record.line)")
        }
        // The A.3 case has an empty salt and info, the protocol's shape: check hkdf32 too.
        if let a3 = records.last, a3.fields["Salt"] == nil {
            let key = KeyDerivation.hkdf32(ikm: SymmetricKey(data: try TestHex.bytes(a3.required("Secret"))), info: "")
            XCTAssertEqual(key.withUnsafeBytes { Array($0) }, Array(try TestHex.bytes(a3.required("Output")).prefix(32)))
        }
    }

    func testHKDFAgainstWycheproof() throws {
        let file = try WycheproofFile<WycheproofHKDFGroup>.load("wycheproof/hkdf_sha256_test.json")
        var checked = 0, refusedBySize = 0
        for group in file.testGroups {
            for test in group.tests {
                guard test.size <= KeyDerivation.maximumOutputByteCount else {
                    // hkdfSHA256 has this bound as a precondition; the only invalid cases are these.
                    XCTAssertEqual(test.result, "invalid", "tcId \(test.tcId)")
                    refusedBySize += 1
                    continue
                }
                let okm = KeyDerivation.hkdfSHA256(
                    ikm: try TestHex.bytes(test.ikm), salt: try TestHex.bytes(test.salt),
                    info: try TestHex.bytes(test.info), outputByteCount: test.size)
                XCTAssertEqual(okm == (try TestHex.bytes(test.okm)), test.result == "valid", "tcId \(test.tcId): \(test.comment)")
                checked += 1
            }
        }
        XCTAssertEqual(checked + refusedBySize, file.numberOfTests)
        XCTAssertEqual(refusedBySize, 3)
    }

    // MARK: - AES-GCM (Botan gcm.vec, Wycheproof)

    /// Records with a 32-byte key, a 12-byte nonce and a 16-byte tag go through the
    /// SealedChannel code path (`KnownAnswerTestsOnly.aes256GCMSeal/Open`); other AES key and
    /// nonce sizes go straight to swift-crypto's `AES.GCM` (SealedChannel only ever uses
    /// AES-256 with 12-byte counter nonces). Truncated tags (`GCM(8)`…`GCM(15)`) are skipped:
    /// swift-crypto supports 16-byte tags only. ARIA and SM4 are skipped.
    func testAESGCMAgainstBotan() throws {
        let file = try BotanVectorFile(
            text: try VectorSources.peerText("botan/gcm.vec"), outputKey: "Out", persistent: false)
        var ours = 0, direct = 0, skipped = 0
        for record in file.records {
            guard ["AES-128/GCM", "AES-192/GCM", "AES-256/GCM"].contains(record.section) else {
                skipped += 1
                continue
            }
            let key = try TestHex.bytes(record.required("Key"))
            let nonce = try TestHex.bytes(record.required("Nonce"))
            let plaintext = try TestHex.bytes(record.fields["In"] ?? "")
            let aad = try TestHex.bytes(record.fields["AD"] ?? "")
            let expected = try TestHex.bytes(record.required("Out"))
            if key.count == 32 && nonce.count == 12 {
                XCTAssertEqual(try KnownAnswerTestsOnly.aes256GCMSeal(key: key, nonce: nonce, plaintext: plaintext, aad: aad),
                               expected, "gcm.vec line \(record.line)")
                XCTAssertEqual(try KnownAnswerTestsOnly.aes256GCMOpen(key: key, nonce: nonce, ciphertextAndTag: expected, aad: aad),
                               plaintext, "gcm.vec line \(record.line)")
                ours += 1
            } else if let sealed = directSeal(key: key, nonce: nonce, plaintext: plaintext, aad: aad) {
                XCTAssertEqual(sealed, expected, "gcm.vec line \(record.line) (swift-crypto directly)")
                direct += 1
            } else {
                skipped += 1   // a nonce size swift-crypto refuses
            }
        }
        XCTAssertEqual(ours, 5, "the AES-256 records with 96-bit nonces and full tags")
        XCTAssertGreaterThan(direct, 10)
        print("gcm.vec: \(ours) through SealedChannel's path, \(direct) through AES.GCM directly, \(skipped) skipped")
    }

    func testAESGCMAgainstWycheproof() throws {
        let file = try WycheproofFile<WycheproofAEADGroup>.load("wycheproof/aes_gcm_test.json")
        var ours = 0, direct = 0, refusedNonce = 0
        for group in file.testGroups {
            for test in group.tests {
                let key = try TestHex.bytes(test.key), nonce = try TestHex.bytes(test.iv)
                let aad = try TestHex.bytes(test.aad), msg = try TestHex.bytes(test.msg)
                let sealed = try TestHex.bytes(test.ct) + TestHex.bytes(test.tag)
                let label = "tcId \(test.tcId) (\(group.keySize)/\(group.ivSize)): \(test.comment)"
                if key.count == 32 && nonce.count == 12 {
                    let opened = try? KnownAnswerTestsOnly.aes256GCMOpen(key: key, nonce: nonce, ciphertextAndTag: sealed, aad: aad)
                    if test.result == "valid" {
                        XCTAssertEqual(opened, msg, label)
                        XCTAssertEqual(try KnownAnswerTestsOnly.aes256GCMSeal(key: key, nonce: nonce, plaintext: msg, aad: aad), sealed, label)
                    } else {
                        XCTAssertNil(opened, label)
                    }
                    ours += 1
                } else if let nonceValue = try? AES.GCM.Nonce(data: nonce) {
                    let box = try? AES.GCM.SealedBox(nonce: nonceValue, ciphertext: Data(try TestHex.bytes(test.ct)), tag: Data(try TestHex.bytes(test.tag)))
                    let opened = box.flatMap { try? AES.GCM.open($0, using: SymmetricKey(data: key), authenticating: aad) }
                    XCTAssertEqual(opened.map { Array($0) }, test.result == "valid" ? msg : nil, label)
                    direct += 1
                } else {
                    // swift-crypto refuses nonces shorter than 12 bytes; the empty IV is the only invalid one.
                    if nonce.isEmpty { XCTAssertEqual(test.result, "invalid", label) }
                    refusedNonce += 1
                }
            }
        }
        XCTAssertEqual(ours + direct + refusedNonce, file.numberOfTests)
        XCTAssertGreaterThanOrEqual(ours, 60)
        print("aes_gcm_test.json: \(ours) through SealedChannel's path, \(direct) through AES.GCM directly, \(refusedNonce) with nonces AES.GCM.Nonce refuses")
    }

    private func directSeal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) -> [UInt8]? {
        guard let nonceValue = try? AES.GCM.Nonce(data: nonce),
              let box = try? AES.GCM.seal(plaintext, using: SymmetricKey(data: key), nonce: nonceValue, authenticating: aad)
        else { return nil }
        return Array(box.ciphertext) + Array(box.tag)
    }
}
