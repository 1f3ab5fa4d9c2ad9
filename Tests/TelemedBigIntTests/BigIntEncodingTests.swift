import XCTest
import TelemedBigInt
import TelemedTestSupport

/// Bytes, hex and decimal conversions.
final class BigIntEncodingTests: XCTestCase {
    func testBytesAndHexRoundTrip() throws {
        for seed in try ReplaySeed.seeds(base: 500, count: 200) {
            var rng = SplitMix64(seed: seed)
            let replay = ReplaySeed.hint(seed, in: self)
            let count = Int(rng.next() % 70)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if let first = bytes.first, first == 0 { bytes[0] = 1 }
            let value = BigInt(bigEndian: bytes)
            XCTAssertEqual(value.magnitudeBytes(), bytes, replay)
            let width = count + Int(rng.next() % 5)
            let fixed = try value.bytes(width: width)
            XCTAssertEqual(fixed.count, width, replay)
            XCTAssertEqual(BigInt(bigEndian: fixed), value, replay)
            let hex = try value.hex(width: width)
            XCTAssertEqual(try BigInt(hex: hex, width: width), value, replay)
            XCTAssertEqual(try BigInt(decimal: value.description), value, replay)
            XCTAssertEqual(try BigInt(hex: value.toString(radix: 16).count % 2 == 0 ? value.toString(radix: 16) : "0" + value.toString(radix: 16)), value)
        }
    }

    func testTooWideAndNegativeValuesAreErrors() {
        XCTAssertThrowsError(try BigInt(256).bytes(width: 1)) {
            XCTAssertEqual($0 as? BigIntError, .valueTooWide(neededBytes: 2, width: 1))
        }
        XCTAssertThrowsError(try BigInt(-1).bytes(width: 8)) { XCTAssertEqual($0 as? BigIntError, .negativeValue) }
        XCTAssertEqual(try BigInt.zero.bytes(width: 0), [])
        XCTAssertEqual(try BigInt(255).bytes(width: 1), [255])
    }

    func testMalformedTextIsAnError() {
        for bad in ["", "0", "abc", "zz", "0x00", "1 2", "é1"] {
            XCTAssertThrowsError(try BigInt(hex: bad), bad)
        }
        XCTAssertThrowsError(try BigInt(hex: "0001", width: 1))
        XCTAssertEqual(try BigInt(hex: "00ff", width: 2), BigInt(255))
        XCTAssertEqual(try BigInt(hex: "ABcd"), BigInt(0xabcd))
        for bad in ["", "-", "12a", "+1", " 1", "1.0"] {
            XCTAssertThrowsError(try BigInt(decimal: bad), bad)
        }
        XCTAssertEqual(try BigInt(decimal: "-123456789012345678901234567890").description, "-123456789012345678901234567890")
        XCTAssertEqual(BigInt.encodeHex([0, 1, 0xab]), "0001ab")
        XCTAssertEqual(BigInt(bigEndian: [UInt8]()), .zero)
    }
}
