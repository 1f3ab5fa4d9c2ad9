import XCTest
import TelemedBigInt
import TelemedTestSupport

/// Uniform sampling by rejection.
final class BigIntRandomTests: XCTestCase {
    /// The edges of `BigInt.random`; generated bounds are in `BigIntPropertyTests`.
    func testRandomBelowEdges() throws {
        var rng = SplitMix64(seed: 1)
        XCTAssertEqual(try BigInt.random(below: .one, using: &rng), .zero)
        XCTAssertThrowsError(try BigInt.random(below: .zero, using: &rng)) { XCTAssertEqual($0 as? BigIntError, .nonPositiveBound) }
        XCTAssertThrowsError(try BigInt.random(in: BigInt(3), BigInt(2), using: &rng))
    }

    /// A chi-square test on bound 5 (not a power of two, so rejection matters): 50,000 draws,
    /// 4 degrees of freedom; 18.47 is the 0.1% critical value. Deterministic seed.
    func testRandomBelowIsRoughlyUniformOnATinyBound() throws {
        var rng = SplitMix64(seed: 0xC0FFEE)
        var counts = [Int](repeating: 0, count: 5)
        let draws = 50_000
        for _ in 0..<draws {
            let value = try BigInt.random(below: BigInt(5), using: &rng)
            counts[try XCTUnwrap(value.intValue)] += 1
        }
        let expected = Double(draws) / 5
        let chiSquare = counts.reduce(0.0) { $0 + pow(Double($1) - expected, 2) / expected }
        XCTAssertLessThan(chiSquare, 18.47, "counts \(counts)")
    }
}
