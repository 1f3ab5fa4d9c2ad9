import TelemedTestSupport
import XCTest

/// The shared test support: the replay line every seeded loop prints, the seed text it
/// accepts, and the pinned SplitMix64 stream the seeds name.
final class ReplaySeedTests: XCTestCase {
    func testHintNamesTheCallingTestInTheFilterForm() {
        XCTAssertEqual(ReplaySeed.hint(42, in: self),
                       "replay: TELEMED_SEED=42 swift test --filter ReplaySeedTests/testHintNamesTheCallingTestInTheFilterForm")
        XCTAssertEqual(ReplaySeed.hint(7, test: "DoctorModelTests/testX", settings: ["TELEMED_MODEL_MUTANT=m"]),
                       "replay: TELEMED_MODEL_MUTANT=m TELEMED_SEED=7 swift test --filter DoctorModelTests/testX")
    }

    /// Property bodies are closures (`PropertyRunner.run`); the line still names the test.
    func testHintInsideALoopBodyNamesTheEnclosingTest() {
        var lines: [String] = []
        [UInt64(3)].forEach { seed in lines.append(ReplaySeed.hint(seed, in: self)) }
        XCTAssertEqual(lines, ["replay: TELEMED_SEED=3 swift test --filter ReplaySeedTests/testHintInsideALoopBodyNamesTheEnclosingTest"])
    }

    func testSeedTextIsDecimalOrPrefixedHexAndNothingElse() throws {
        XCTAssertEqual(try ReplaySeed.parse("123"), 123)
        XCTAssertEqual(try ReplaySeed.parse("0x7e1e"), 0x7e1e)
        XCTAssertEqual(try ReplaySeed.parse("18446744073709551615"), .max)
        for bad in ["", "-1", "0x", "12a", "18446744073709551616", " 1"] {
            XCTAssertThrowsError(try ReplaySeed.parse(bad), bad)
        }
    }

    func testWithoutTheVariableALoopVisitsItsDefaults() throws {
        try XCTSkipIf(try ReplaySeed.current() != nil, "TELEMED_SEED is set for this run")
        XCTAssertEqual(try ReplaySeed.seeds(base: 10, count: 3), [10, 11, 12])
        XCTAssertEqual(try ReplaySeed.seeds(5...6), [5, 6])
    }

    /// SplitMix64's reference outputs for seed 0 (Vigna's splitmix64.c), so a seed printed by a
    /// failure names the same inputs on every machine.
    func testSplitMix64MatchesTheReferenceStream() {
        var rng = SplitMix64(seed: 0)
        XCTAssertEqual([rng.next(), rng.next(), rng.next()],
                       [0xe220_a839_7b1d_cdaf, 0x6e78_9e6a_a1b9_65f4, 0x06c4_5d18_8009_454f])
    }
}
