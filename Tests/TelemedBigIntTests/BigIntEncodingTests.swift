import XCTest
import TelemedBigInt

/// Bytes, hex and decimal conversions on fixed values (round trips of generated values are in
/// `BigIntPropertyTests`).
final class BigIntEncodingTests: XCTestCase {
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
