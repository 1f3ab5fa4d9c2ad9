import PropertyBased
@_spi(Testing) @testable import TelemedBigInt
import TelemedTestSupport
import Testing

/// Property checks of TelemedBigInt against machine integers, naive algorithms and its own
/// reference paths, on swift-property-based through `forAll` (machine integers and byte strings
/// are generated and shrunk on failure; larger values come from a generated seed through
/// `BigInt.random`). A failure prints its replay line
/// (`replay: TELEMED_SEED=<seed> swift test --filter BigIntPropertyTests/<test>`).
@Suite struct BigIntPropertyTests {
    // MARK: - Arithmetic

    /// `BigInt.powMod` and `powModSecure` match square-and-multiply on UInt64 (128-bit
    /// products) for odd moduli of every width from 1 to 64 bits.
    @Test func testPowModMatchesNaiveSquareAndMultiply() async {
        let input = zip(Gen.uint64(), Gen.int(in: 0...62), Gen.uint64(), Gen.uint64(), Gen.int(in: 0...63))
        await forAll(count: 400, input) { rawModulus, modulusShift, base, rawExponent, exponentShift in
            let modulus = rawModulus >> modulusShift | 1   // odd, 1 … 2^64−1
            let exponent = rawExponent >> exponentShift
            let expected = BigInt(Self.naivePowMod(base, exponent, modulus))
            let b = BigInt(base), e = BigInt(exponent), m = BigInt(modulus)
            #expect(b.powMod(e, m) == expected)
            #expect(b.powModSecure(e, m) == expected, "secure")
        }
    }

    /// Square-and-multiply on UInt64 with 128-bit products (reference for small values).
    static func naivePowMod(_ base: UInt64, _ exponent: UInt64, _ modulus: UInt64) -> UInt64 {
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

    /// `BigInt.powModSecure` equals `powMod` modulo the 1024-bit MODP prime, for base and
    /// exponent drawn below it; exponent 0 gives 1, and anything modulo 1 is 0.
    @Test func testPowModSecureEqualsPowModOnLargeValues() async throws {
        let p = try BigInt(hex: "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffffffffff")
        await forAll(count: 40, Gen.uint64()) { seed in
            var rng = SplitMix64(seed: seed)
            let base = try BigInt.random(below: p, using: &rng)
            let exponent = try BigInt.random(below: p, using: &rng)
            #expect(base.powModSecure(exponent, p) == base.powMod(exponent, p))
        }
        #expect(BigInt(5).powModSecure(.zero, p) == .one)
        #expect(BigInt(5).powModSecure(.zero, BigInt(1)) == .zero)
        #expect(BigInt(5).powMod(.zero, BigInt(1)) == .zero)
    }

    /// `+`, `-`, `*`, unary `-`, `<`, `/`, `%`, `modulo` and `multipliedMod` agree with `Int` on
    /// values within ±2^30 (so no Int operation overflows).
    @Test func testOperatorsAgreeWithInt() async {
        let small = Gen.int(in: -(1 << 30)...(1 << 30))
        await forAll(count: 300, zip(small, small)) { a, b in
            let (x, y) = (BigInt(a), BigInt(b))
            #expect(x + y == BigInt(a + b))
            #expect(x - y == BigInt(a - b))
            #expect(x * y == BigInt(a * b))
            #expect(-x == BigInt(-a))
            #expect((x < y) == (a < b))
            if b != 0 {
                #expect(x / y == BigInt(a / b))
                #expect(x % y == BigInt(a % b))
                let m = abs(b)
                #expect(x.modulo(BigInt(m)) == BigInt(((a % m) + m) % m))
                #expect(x.multipliedMod(y, BigInt(m)) == BigInt(((a * b) % m + m) % m))
            }
            #expect((x + y).hashValue == (y + x).hashValue)
        }
    }

    /// `BigInt.inverse(modulo:)`, `legendre` (Euler's criterion) and `jacobi` modulo the prime
    /// 1 000 003, for every residue class but 0.
    @Test func testInverseGcdJacobiLegendre() async {
        let p = BigInt(1_000_003)   // prime
        await forAll(count: 200, Gen.int(in: 1...1_000_002)) { value in
            let a = BigInt(value)
            #expect(a.inverse(modulo: p).map { a.multipliedMod($0, p) } == .one)
            // Euler's criterion: a^((p−1)/2) ≡ (a/p).
            let euler = a.powMod((p - .one) / BigInt(2), p)
            let symbol = a.legendre(p)
            #expect(euler == (symbol == 1 ? .one : p - .one))
            #expect(a.jacobi(p) == symbol)
        }
    }

    // MARK: - Encoding and sampling

    /// `BigInt(bigEndian:)`, `magnitudeBytes`, `bytes(width:)`, `hex(width:)`,
    /// `BigInt(hex:width:)`, `BigInt(decimal:)` and `toString(radix:)` round-trip values of up
    /// to 69 bytes, at their own width and up to 4 bytes wider (hex from width 1).
    @Test func testBytesAndHexRoundTrip() async {
        await forAll(count: 200, zip(Gen.uint8().array(of: 0...69), Gen.int(in: 0...4))) { generated, padding in
            var bytes = generated
            if let first = bytes.first, first == 0 { bytes[0] = 1 }
            let value = BigInt(bigEndian: bytes)
            #expect(value.magnitudeBytes() == bytes)
            let width = bytes.count + padding
            let fixed = try value.bytes(width: width)
            #expect(fixed.count == width)
            #expect(BigInt(bigEndian: fixed) == value)
            // Width 0 (zero, no bytes) has the empty hex text, which `BigInt(hex:)` refuses as
            // malformed; every hex field of the protocol has a positive width.
            if width > 0 {
                let hex = try value.hex(width: width)
                #expect(try BigInt(hex: hex, width: width) == value)
            }
            #expect(try BigInt(decimal: value.description) == value)
            let radix16 = value.toString(radix: 16)
            #expect(try BigInt(hex: radix16.count % 2 == 0 ? radix16 : "0" + radix16) == value)
        }
    }

    /// `BigInt.random(below:using:)` stays in [0, bound) for bounds of 1 to 40 bytes, and
    /// `random(in:_:using:)` in its closed range.
    @Test func testRandomBelowStaysBelowTheBound() async {
        await forAll(count: 200, zip(Gen.uint8().array(of: 1...40), Gen.uint64())) { boundBytes, seed in
            var rng = SplitMix64(seed: seed)
            let bound = BigInt(bigEndian: boundBytes) + .one
            for _ in 0..<10 {
                let value = try BigInt.random(below: bound, using: &rng)
                #expect(value >= .zero && value < bound)
            }
            let ranged = try BigInt.random(in: BigInt(5), BigInt(9), using: &rng)
            #expect(ranged >= BigInt(5) && ranged <= BigInt(9))
        }
    }

    // MARK: - Montgomery

    /// `FixedBaseTable.power` and `powerSecure` equal `powMod` and `powModSecure` for odd
    /// moduli of 3 to 2048 bits, bases sometimes above the modulus, every window width from 1 to
    /// 6, and exponents 0, 1, all ones and random ones of up to the table's width.
    @Test func testFixedBaseTableMatchesPowMod() async {
        let sizes = [2, 63, 64, 65, 127, 128, 200, 512, 1024, 2048]
        let input = zip(Gen.int(in: 0...(sizes.count - 1)), Gen.int(in: 1...300), Gen.int(in: 1...6), Gen.uint64())
        await forAll(count: 20, input) { sizeIndex, exponentBits, window, seed in
            let bits = sizes[sizeIndex]
            var rng = SplitMix64(seed: seed)
            let modulus = try BigInt.oddModulus(bits: max(bits, 3), &rng)
            let base = try BigInt.randomBits(bits + 8, &rng)      // sometimes ≥ the modulus
            let table = FixedBaseTable(base: base, modulus: modulus, exponentBits: exponentBits, windowBits: window)
            var exponents = [BigInt.zero, .one, BigInt.one.shiftedLeft(exponentBits) - .one]
            for _ in 0..<6 { exponents.append(try BigInt.randomBits(1 + Int(rng.next() % UInt64(exponentBits)), &rng)) }
            for e in exponents {
                #expect(table.power(e) == base.powMod(e, modulus), "public, e bits \(e.bitWidth)")
                #expect(table.powerSecure(e) == base.powModSecure(e, modulus), "secure, e bits \(e.bitWidth)")
            }
        }
    }

    /// `BigInt.multiPowMod` equals the product of `powMod`s for one to three bases (some above
    /// the modulus) and exponents of up to 300 bits, a fifth of them 0.
    @Test func testMultiPowModMatchesProductOfPowMods() async {
        let sizes = [3, 64, 65, 190, 512, 2048]
        await forAll(count: 30, zip(Gen.int(in: 0...(sizes.count - 1)), Gen.int(in: 1...3), Gen.uint64())) { sizeIndex, count, seed in
            let bits = sizes[sizeIndex]
            var rng = SplitMix64(seed: seed)
            let modulus = try BigInt.oddModulus(bits: bits, &rng)
            var bases: [BigInt] = [], exponents: [BigInt] = []
            var expected = BigInt.one.modulo(modulus)
            for _ in 0..<count {
                let base = try BigInt.randomBits(modulus.bitWidth + 4, &rng)
                let e = rng.next() % 5 == 0 ? BigInt.zero : try BigInt.randomBits(1 + Int(rng.next() % 300), &rng)
                bases.append(base)
                exponents.append(e)
                expected = expected.multipliedMod(base.powMod(e, modulus), modulus)
            }
            #expect(BigInt.multiPowMod(bases, exponents, modulus: modulus) == expected)
        }
    }
}

extension BigInt {
    /// A random odd modulus of exactly `bits` bits (bits ≥ 2).
    static func oddModulus(bits: Int, _ rng: inout SplitMix64) throws -> BigInt {
        let r = try BigInt.random(below: BigInt.one.shiftedLeft(bits - 1), using: &rng)
        let m = BigInt.one.shiftedLeft(bits - 1) + r
        return m.isOdd ? m : m + .one
    }

    /// A random value below 2^`bits`.
    static func randomBits(_ bits: Int, _ rng: inout SplitMix64) throws -> BigInt {
        try BigInt.random(below: BigInt.one.shiftedLeft(bits), using: &rng)
    }
}
