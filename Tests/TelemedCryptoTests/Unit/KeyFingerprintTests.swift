import XCTest
@_spi(Testing) import TelemedCrypto

/// ``KeyFingerprint``: `KeyFingerprint(of:)`, `PublicKey.fingerprint`, its text form
/// (`description`) and `KeyFingerprint(text:)`.
final class KeyFingerprintTests: XCTestCase {
    /// Known answers computed outside Swift: `sha256sum` over the 256- or 384-byte big-endian
    /// encoding of y (Python `int.to_bytes(L, "big")` for y = g and y = g² mod p of each named
    /// group, with p and g taken from TelemedGroup+Named.swift). y = g² is reached through
    /// `PrivateKey(group:scalarBytes:)` with the scalar 2, i.e. the production key path.
    func testKnownAnswersAgreeWithAnIndependentSHA256() throws {
        let expected: [(TelemedGroup, String, String)] = [
            (.telemed2048,
             "735f254b2b01df94f1aef5790a0e9bda17eaf9ba66325f8bf0b506890be32ff4",
             "098d7069780a4c265c8352772b562a2638bca3af2eef0b66ff27e172dbded9f7"),
            (.telemed3072,
             "aff8826dbe43da2e1597999845b08d9b0be4250021ececf0396d7d16904010df",
             "11e14fdbf6964e7d0bbe6d8b26911aa8af2b1047ecfa5a1fe106e2acefd3d0a3"),
        ]
        for (group, ofG, ofGSquared) in expected {
            let generatorKey = try PublicKey(group: group, y: group.g)
            XCTAssertEqual(generatorKey.fingerprint.hex, ofG, group.name)
            XCTAssertEqual(KeyFingerprint(of: generatorKey).hex, ofG, group.name)
            let two = [UInt8](repeating: 0, count: 31) + [2]
            let squareKey = try PrivateKey(group: group, scalarBytes: two).publicKey
            XCTAssertEqual(squareKey.fingerprint.hex, ofGSquared, group.name)
        }
        let shown = try PublicKey(group: .telemed2048, y: TelemedGroup.telemed2048.g).fingerprint.description
        XCTAssertEqual(
            shown, "735f 254b 2b01 df94 f1ae f579 0a0e 9bda 17ea f9ba 6632 5f8b f0b5 0689 0be3 2ff4")
    }

    /// 16 groups of 4 lowercase digits, single spaces; distinct keys give distinct fingerprints.
    func testTextShapeAndDistinctKeys() {
        var rng = SeededRandom(seed: 13)
        var seen = Set<KeyFingerprint>()
        for _ in 0..<20 {
            let key = PrivateKey(generatingIn: .telemed2048, using: &rng).publicKey
            let text = key.fingerprint.description
            XCTAssertEqual(text.count, KeyFingerprint.textLength)
            let groups = text.split(separator: " ", omittingEmptySubsequences: false)
            XCTAssertEqual(groups.count, 16)
            XCTAssertTrue(groups.allSatisfy { $0.count == 4 && $0.allSatisfy { "0123456789abcdef".contains($0) } })
            XCTAssertTrue(key.fingerprint.matches(key))
            XCTAssertTrue(seen.insert(key.fingerprint).inserted, "two keys share \(text)")
        }
        let a = PrivateKey(generatingIn: .telemed2048, using: &rng).publicKey
        let b = PrivateKey(generatingIn: .telemed2048, using: &rng).publicKey
        XCTAssertNotEqual(a.fingerprint, b.fingerprint)
        XCTAssertFalse(a.fingerprint.matches(b))
    }

    /// `KeyFingerprint(text:)` reads back `description`, the 64 digits without spaces, and
    /// uppercase digits.
    func testTextRoundTrip() throws {
        var rng = SeededRandom(seed: 14)
        for _ in 0..<10 {
            let fingerprint = PrivateKey(generatingIn: .telemed3072, using: &rng).publicKey.fingerprint
            XCTAssertEqual(try KeyFingerprint(text: fingerprint.description), fingerprint)
            XCTAssertEqual(try KeyFingerprint(text: fingerprint.hex), fingerprint)
            XCTAssertEqual(try KeyFingerprint(text: fingerprint.description.uppercased()), fingerprint)
            XCTAssertEqual(KeyFingerprint(digest: fingerprint.digest), fingerprint)
        }
    }

    /// Malformed text is refused with `CryptoError.malformedEncoding`.
    func testMalformedTextIsRefused() throws {
        let good = try PublicKey(group: .telemed2048, y: TelemedGroup.telemed2048.g).fingerprint.description
        var chars = Array(good)
        chars[4] = "-"
        let wrongSeparator = String(chars)
        chars = Array(good)
        chars[0] = "g"
        let notHex = String(chars)
        let bad = [
            "", " " + good, good + " ", String(good.dropLast()), good + "0", wrongSeparator, notHex,
            good.split(separator: " ").joined(separator: "  "),
            String(good.split(separator: " ").joined().dropLast(2)),
            String(repeating: "0", count: 66),
            "735f254b 2b01df94 f1aef579 0a0e9bda 17eaf9ba 66325f8b f0b50689 0be32ff4",
        ]
        for text in bad {
            XCTAssertThrowsError(try KeyFingerprint(text: text), "accepted \(text.debugDescription)") { error in
                guard case .malformedEncoding = error as? CryptoError else {
                    return XCTFail("\(error) for \(text.debugDescription)")
                }
            }
        }
    }
}
