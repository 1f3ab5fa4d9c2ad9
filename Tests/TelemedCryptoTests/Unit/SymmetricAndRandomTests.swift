import XCTest
@_spi(Testing) import TelemedCrypto

/// SealingKey/OpeningKey over SealedChannel, HKDF wrapper, LPWriter, Bytes32 and the generators.
final class SymmetricAndRandomTests: XCTestCase {
    func testSealedChannelRoundTripAndEveryTamperFails() throws {
        let key = SecretFixtures.trafficKey("a"), other = SecretFixtures.trafficKey("b")
        let plaintext = Array("the doctor is unavailable 14:00-15:00".utf8)
        let aad = Array("header".utf8)
        var sealing = SealingKey(key)
        for _ in 0..<7 { _ = sealing.seal([], aad: { _ in [] }) }
        let (seq, sealed) = sealing.seal(plaintext) { _ in aad }
        XCTAssertEqual(seq, 7)
        XCTAssertEqual(sealed.count, plaintext.count + 16)
        var opening = OpeningKey(key)
        XCTAssertEqual(try opening.open(sealed, seq: 7, aad: aad), plaintext)
        XCTAssertEqual(SealedChannel.nonceBytes(seq: 0x0102), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2])
        // Matches the explicit-nonce path.
        XCTAssertEqual(try KnownAnswerTestsOnly.aes256GCMSeal(key: key.withUnsafeBytes { Array($0) },
                                                              nonce: SealedChannel.nonceBytes(seq: 7),
                                                              plaintext: plaintext, aad: aad), sealed)
        func assertFails(_ bytes: [UInt8], key: TrafficKey = key, seq: UInt64 = 7, aad: [UInt8] = aad, _ what: String) {
            var fresh = OpeningKey(key)
            XCTAssertThrowsError(try fresh.open(bytes, seq: seq, aad: aad), what) {
                XCTAssertEqual($0 as? OpeningError, .authenticationFailure, what)
            }
            XCTAssertNil(fresh.lastAcceptedSeq, "a failed open must not advance: \(what)")
        }
        for bit in 0..<(sealed.count * 8) {
            var flipped = sealed
            flipped[bit / 8] ^= 1 << (bit % 8)
            assertFails(flipped, "bit \(bit)")
        }
        assertFails(sealed, key: other, "other key")
        assertFails(sealed, seq: 8, "other seq")
        assertFails(sealed, aad: aad + [0], "other aad")
        for cut in 0..<sealed.count { assertFails(Array(sealed.prefix(cut)), "cut at \(cut)") }
        // Empty plaintext: just the tag.
        var fresh = SealingKey(key)
        let empty = fresh.seal([], aad: { _ in [] })
        XCTAssertEqual(empty.ciphertext.count, 16)
        var emptyOpening = OpeningKey(key)
        XCTAssertEqual(try emptyOpening.open(empty.ciphertext, seq: empty.seq, aad: []), [])
    }

    func testLPWriterAndBytes32() throws {
        var writer = LPWriter()
        writer.lp("AB")
        writer.lpU64(1)
        writer.lp([UInt8]())
        XCTAssertEqual(writer.bytes, [0, 0, 0, 2, 0x41, 0x42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        XCTAssertThrowsError(try Bytes32([1, 2])) { XCTAssertEqual($0 as? CryptoError, .wrongLength(expected: 32, actual: 2)) }
        XCTAssertThrowsError(try Bytes32(hex: String(repeating: "zz", count: 32)))
        let digest = Hashing.sha256(Array("abc".utf8))
        XCTAssertEqual(digest.hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(try Bytes32(hex: digest.hex), digest)
        XCTAssertTrue(digest.constantTimeEquals(digest))
        XCTAssertFalse(digest.constantTimeEquals(Hashing.sha256([])))
    }

    func testSeededRandomIsDeterministicAndForksAreIndependent() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let streamA = (0..<16).map { _ in a.next() }
        XCTAssertEqual(streamA, (0..<16).map { _ in b.next() })
        XCTAssertNotEqual(streamA, (0..<16).map { _ in c.next() })
        // fork depends on the seed and label only, not on the parent's position.
        var fresh = SeededRandom(seed: 42).fork("doctor"), used = a.fork("doctor")
        XCTAssertEqual(fresh.next(), used.next())
        var other = SeededRandom(seed: 42).fork("patient")
        XCTAssertNotEqual(SeededRandom(seed: 42).fork("doctor").bytes32(), other.bytes(32))
        XCTAssertEqual(SeededRandom(seed: [0, 0, 0, 0, 0, 0, 0, 42]).fork("x").bytes32(), SeededRandom(seed: 42).fork("x").bytes32())
    }

    func testSystemRandomProducesDistinctValues() {
        var rng = SystemRandom()
        let values = Set((0..<64).map { _ in rng.next() })
        XCTAssertGreaterThan(values.count, 60)
        let a = Bytes32(random: &rng), b = Bytes32(random: &rng)
        XCTAssertNotEqual(a, b)
    }
}

private extension SeededRandom {
    func bytes32() -> [UInt8] {
        var copy = self
        return copy.bytes(32)
    }
}
