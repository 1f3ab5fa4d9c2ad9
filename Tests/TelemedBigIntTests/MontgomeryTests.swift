import XCTest
@_spi(Testing) @testable import TelemedBigInt
import TelemedTestSupport

/// Fixed-base tables and multi-exponentiation agree with `powMod` / `powModSecure` on edge
/// moduli and fixed inputs; generated inputs are in `BigIntPropertyTests`.
final class MontgomeryTests: XCTestCase {
    // MARK: - Fixed-base tables

    func testFixedBaseTableEdgeModuli() {
        // Moduli with all-ones limbs (just below R), the smallest odd modulus, and a base of 0.
        let moduli = [BigInt(3), BigInt.one.shiftedLeft(64) - .one, BigInt.one.shiftedLeft(128) - .one,
                      BigInt.one.shiftedLeft(2048) - BigInt(159)]
        for modulus in moduli {
            for base in [BigInt.zero, .one, modulus - .one, BigInt(2)] {
                let table = FixedBaseTable(base: base, modulus: modulus, exponentBits: 256)
                for e in [BigInt.zero, .one, BigInt(65_537), BigInt.one.shiftedLeft(256) - .one] {
                    XCTAssertEqual(table.powerSecure(e), base.powModSecure(e, modulus), "m \(modulus), b \(base), e \(e)")
                    XCTAssertEqual(table.power(e), base.powMod(e, modulus), "m \(modulus), b \(base), e \(e)")
                }
            }
        }
    }

    func testTableSizeIsAsDocumented() {
        let table = FixedBaseTable(base: BigInt(5), modulus: BigInt.one.shiftedLeft(2048) - BigInt(159),
                                   exponentBits: 256, windowBits: 4)
        XCTAssertEqual(table.byteCount, 64 * 16 * 256)
    }

    // MARK: - Multi-exponentiation

    func testMultiPowModWithAllZeroExponentsIsOne() {
        let modulus = BigInt(1_000_003)
        XCTAssertEqual(BigInt.multiPowMod([BigInt(5), BigInt(7)], [.zero, .zero], modulus: modulus), .one)
        XCTAssertEqual(BigInt.multiPowMod([BigInt(5)], [BigInt(3)], modulus: modulus), BigInt(125))
    }

    // MARK: - The domain itself

    func testDomainRoundTripsValuesAndReusesAcrossCalls() throws {
        var rng = SplitMix64(seed: 7_500)
        let modulus = try BigInt.oddModulus(bits: 3072, &rng)
        let domain = MontgomeryDomain(modulus: modulus)
        let table = domain.fixedBaseTable(for: BigInt(2), exponentBits: 256)
        for _ in 0..<4 {
            let a = try BigInt.randomBits(3100, &rng), b = try BigInt.randomBits(256, &rng)
            XCTAssertEqual(domain.multiPower([a], [.one]), a.modulo(modulus))
            XCTAssertEqual(table.power(b), BigInt(2).powMod(b, modulus))
        }
    }
}
