import XCTest
import TelemedBigInt
import TelemedTestSupport

/// Arithmetic and number theory against machine integers and naive algorithms.
final class BigIntArithmeticTests: XCTestCase {
    /// Square-and-multiply on UInt64 with 128-bit products (reference for small values).
    private func naivePowMod(_ base: UInt64, _ exponent: UInt64, _ modulus: UInt64) -> UInt64 {
        var result: UInt64 = 1 % modulus, b = base % modulus, e = exponent
        func mulmod(_ a: UInt64, _ c: UInt64) -> UInt64 {
            let (high, low) = a.multipliedFullWidth(by: c)
            return modulus.dividingFullWidth((high, low)).remainder
        }
        while e > 0 {
            if e & 1 == 1 { result = mulmod(result, b) }
            b = mulmod(b, b)
            e >>= 1
        }
        return result
    }

    func testPowModMatchesNaiveSquareAndMultiply() throws {
        for seed in try ReplaySeed.seeds(base: 100, count: 400) {
            var rng = SplitMix64(seed: seed)
            let replay = ReplaySeed.hint(seed, in: self)
            let modulus = rng.next() >> (rng.next() % 63) | 1   // odd, 1 … 2^64−1
            let base = rng.next() % (modulus &* 3 == 0 ? UInt64.max : modulus &* 3)
            let exponent = rng.next() >> (rng.next() % 64)
            let expected = naivePowMod(base, exponent, modulus)
            let b = BigInt(base), e = BigInt(exponent), m = BigInt(modulus)
            XCTAssertEqual(b.powMod(e, m), BigInt(expected), replay)
            XCTAssertEqual(b.powModSecure(e, m), BigInt(expected), "\(replay) (secure)")
        }
    }

    func testPowModSecureEqualsPowModOnLargeValues() throws {
        let p = try BigInt(hex: "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffffffffff")
        for seed in try ReplaySeed.seeds(base: 200, count: 40) {
            var rng = SplitMix64(seed: seed)
            let replay = ReplaySeed.hint(seed, in: self)
            let base = try BigInt.random(below: p, using: &rng)
            let exponent = try BigInt.random(below: p, using: &rng)
            XCTAssertEqual(base.powModSecure(exponent, p), base.powMod(exponent, p), replay)
        }
        XCTAssertEqual(BigInt(5).powModSecure(.zero, p), .one)
        XCTAssertEqual(BigInt(5).powModSecure(.zero, BigInt(1)), .zero)
        XCTAssertEqual(BigInt(5).powMod(.zero, BigInt(1)), .zero)
    }

    func testOperatorsAgreeWithInt() throws {
        for seed in try ReplaySeed.seeds(base: 300, count: 300) {
            var rng = SplitMix64(seed: seed)
            let replay = ReplaySeed.hint(seed, in: self)
            let a = Int(truncatingIfNeeded: rng.next()) >> 33, b = Int(truncatingIfNeeded: rng.next()) >> 33
            let (x, y) = (BigInt(a), BigInt(b))
            XCTAssertEqual(x + y, BigInt(a + b), replay)
            XCTAssertEqual(x - y, BigInt(a - b), replay)
            XCTAssertEqual(x * y, BigInt(a * b), replay)
            XCTAssertEqual(-x, BigInt(-a), replay)
            XCTAssertEqual(x < y, a < b, replay)
            if b != 0 {
                XCTAssertEqual(x / y, BigInt(a / b), replay)
                XCTAssertEqual(x % y, BigInt(a % b), replay)
                let m = abs(b)
                XCTAssertEqual(x.modulo(BigInt(m)), BigInt(((a % m) + m) % m), replay)
                XCTAssertEqual(x.multipliedMod(y, BigInt(m)), BigInt(((a * b) % m + m) % m), replay)
            }
            XCTAssertEqual((x + y).hashValue == (y + x).hashValue, true)
        }
    }

    func testInverseGcdJacobiLegendre() throws {
        let p = BigInt(1_000_003)   // prime
        for seed in try ReplaySeed.seeds(base: 400, count: 200) {
            var rng = SplitMix64(seed: seed)
            let replay = ReplaySeed.hint(seed, in: self)
            let a = BigInt(Int(rng.next() % 1_000_002) + 1)
            let inverse = a.inverse(modulo: p)
            XCTAssertEqual(inverse.map { a.multipliedMod($0, p) }, .one, replay)
            // Euler's criterion: a^((p−1)/2) ≡ (a/p).
            let euler = a.powMod((p - .one) / BigInt(2), p)
            let symbol = a.legendre(p)
            XCTAssertEqual(euler, symbol == 1 ? .one : p - .one, replay)
            XCTAssertEqual(a.jacobi(p), symbol, replay)
        }
        XCTAssertNil(BigInt(6).inverse(modulo: BigInt(9)))
        XCTAssertEqual(BigInt(12).gcd(BigInt(18)), BigInt(6))
        XCTAssertEqual(BigInt(2).jacobi(BigInt(15)), 1)   // (2/3)(2/5) = (−1)(−1)
        XCTAssertEqual(BigInt(7).jacobi(BigInt(15)), -1)
        XCTAssertEqual(BigInt(5).jacobi(BigInt(15)), 0)
    }

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
