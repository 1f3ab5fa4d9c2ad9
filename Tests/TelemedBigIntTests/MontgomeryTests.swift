import XCTest
@_spi(Testing) @testable import TelemedBigInt
import TelemedTestSupport

/// Fixed-base tables and multi-exponentiation agree with `powMod` / `powModSecure` on seeded
/// random inputs. A failure prints its `replay: TELEMED_SEED=…` line (`ReplaySeed`).
final class MontgomeryTests: XCTestCase {
    // MARK: - Inputs

    /// A random odd modulus of exactly `bits` bits (bits ≥ 2).
    private func oddModulus(bits: Int, _ rng: inout SplitMix64) throws -> BigInt {
        let r = try BigInt.random(below: BigInt.one.shiftedLeft(bits - 1), using: &rng)
        let m = BigInt.one.shiftedLeft(bits - 1) + r
        return m.isOdd ? m : m + .one
    }

    private func randomBits(_ bits: Int, _ rng: inout SplitMix64) throws -> BigInt {
        try BigInt.random(below: BigInt.one.shiftedLeft(bits), using: &rng)
    }

    // MARK: - Fixed-base tables

    func testFixedBaseTableMatchesPowMod() throws {
        let sizes = [2, 63, 64, 65, 127, 128, 200, 512, 1024, 2048]
        for seed in try ReplaySeed.seeds(base: 7_100, count: 20) {
            var rng = SplitMix64(seed: seed)
            let replay = ReplaySeed.hint(seed, in: self)
            let bits = sizes[Int(rng.next() % UInt64(sizes.count))]
            let modulus = try oddModulus(bits: max(bits, 3), &rng)
            let base = try randomBits(bits + 8, &rng)      // sometimes ≥ the modulus
            let exponentBits = 1 + Int(rng.next() % 300)
            let window = 1 + Int(rng.next() % 6)
            let table = FixedBaseTable(base: base, modulus: modulus, exponentBits: exponentBits, windowBits: window)
            var exponents = [BigInt.zero, .one, BigInt.one.shiftedLeft(exponentBits) - .one]
            for _ in 0..<6 { exponents.append(try randomBits(1 + Int(rng.next() % UInt64(exponentBits)), &rng)) }
            for e in exponents {
                let expected = base.powMod(e, modulus)
                XCTAssertEqual(table.power(e), expected, "public, e bits \(e.bitWidth), w \(window); " + replay)
                XCTAssertEqual(table.powerSecure(e), base.powModSecure(e, modulus),
                               "secure, e bits \(e.bitWidth), w \(window); " + replay)
            }
        }
    }

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

    func testMultiPowModMatchesProductOfPowMods() throws {
        let sizes = [3, 64, 65, 190, 512, 2048]
        for seed in try ReplaySeed.seeds(base: 7_300, count: 30) {
            var rng = SplitMix64(seed: seed)
            let replay = ReplaySeed.hint(seed, in: self)
            let modulus = try oddModulus(bits: sizes[Int(rng.next() % UInt64(sizes.count))], &rng)
            let count = 1 + Int(rng.next() % 3)
            var bases: [BigInt] = [], exponents: [BigInt] = []
            var expected = BigInt.one.modulo(modulus)
            for _ in 0..<count {
                let base = try randomBits(modulus.bitWidth + 4, &rng)
                let e = rng.next() % 5 == 0 ? BigInt.zero : try randomBits(1 + Int(rng.next() % 300), &rng)
                bases.append(base)
                exponents.append(e)
                expected = expected.multipliedMod(base.powMod(e, modulus), modulus)
            }
            XCTAssertEqual(BigInt.multiPowMod(bases, exponents, modulus: modulus), expected, replay)
        }
    }

    func testMultiPowModWithAllZeroExponentsIsOne() {
        let modulus = BigInt(1_000_003)
        XCTAssertEqual(BigInt.multiPowMod([BigInt(5), BigInt(7)], [.zero, .zero], modulus: modulus), .one)
        XCTAssertEqual(BigInt.multiPowMod([BigInt(5)], [BigInt(3)], modulus: modulus), BigInt(125))
    }

    // MARK: - The domain itself

    func testDomainRoundTripsValuesAndReusesAcrossCalls() throws {
        var rng = SplitMix64(seed: 7_500)
        let modulus = try oddModulus(bits: 3072, &rng)
        let domain = MontgomeryDomain(modulus: modulus)
        let table = domain.fixedBaseTable(for: BigInt(2), exponentBits: 256)
        for _ in 0..<4 {
            let a = try randomBits(3100, &rng), b = try randomBits(256, &rng)
            XCTAssertEqual(domain.multiPower([a], [.one]), a.modulo(modulus))
            XCTAssertEqual(table.power(b), BigInt(2).powMod(b, modulus))
        }
    }
}
