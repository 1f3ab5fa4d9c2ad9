import XCTest
import TelemedBigInt

/// Arithmetic and number theory on fixed values; the generated-input checks are in
/// `BigIntPropertyTests`.
final class BigIntArithmeticTests: XCTestCase {
    func testPrimalityAndBitQueries() {
        XCTAssertTrue(BigInt(1_000_003).isProbablePrime())
        XCTAssertFalse(BigInt(1_000_001).isProbablePrime())
        XCTAssertFalse(BigInt(561).isProbablePrime(), "a Carmichael number")
        let m127 = BigInt.one.shiftedLeft(127) - .one
        XCTAssertTrue(m127.isProbablePrime())
        XCTAssertEqual(m127.bitWidth, 127)
        XCTAssertEqual(BigInt.zero.bitWidth, 0)
        XCTAssertTrue(m127.testBit(126))
        XCTAssertFalse(m127.testBit(127))
        XCTAssertEqual(m127.shiftedRight(120), BigInt(127))
        XCTAssertEqual(BigInt(-7).shiftedRight(1), BigInt(-4), "floor division")
        XCTAssertEqual(BigInt(Int.max).intValue, Int.max)
        XCTAssertNil((BigInt(Int.max) + .one).intValue)
    }

    /// ~100k short-lived values: exercises allocation and the wiping deinit (GMPStorage).
    /// Leaks cannot be asserted from inside the process; see the final report for a valgrind run.
    func testManyAllocationsAreReleased() {
        let modulus = BigInt.one.shiftedLeft(255) - BigInt(19)
        var acc = BigInt(3)
        for i in 0..<100_000 {
            acc = acc.multipliedMod(acc + BigInt(i), modulus)
        }
        XCTAssertFalse(acc.isZero)
    }
}
