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

    /// Loop bodies are closures; the line still names the test.
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

    /// A property check's seed is swift-property-based's base64 text of four UInt64s; anything
    /// else (a loop's integer seed included) is refused with the form it takes.
    func testPropertySeedIsTheLibrarysTextAndNothingElse() throws {
        let seed = "aKPPWDEafU0CGMDYHef/ETcbYUyjWQvRVP1DTNy6qJk="
        let state = try ReplaySeed.parsePropertySeed(seed)
        XCTAssertNotEqual([state.0, state.1, state.2, state.3], [0, 0, 0, 0])
        for bad in ["", "42", "0x7e1e", "aKPPWDEafU0CGMDYHef/ETcbYUyjWQvRVP1DTNy6qJ", "not base64!"] {
            XCTAssertThrowsError(try ReplaySeed.parsePropertySeed(bad), bad)
        }
        XCTAssertThrowsError(try ReplaySeed.parse(seed))
    }

    /// The library's advice to edit a trait into the test becomes the one replay line.
    func testLibraryAdviceBecomesTheReplayLine() {
        let library = "Failure occured with input 992.\n\nAdd `.fixedSeed(\"aKPP/E+cb=\")` to the Test to reproduce this issue."
        XCTAssertEqual(ReplaySeed.replacingLibraryAdvice(in: library, test: "Suite/check"),
                       "Failure occured with input 992.\n\nreplay: TELEMED_SEED=aKPP/E+cb= swift test --filter Suite/check")
        XCTAssertEqual(ReplaySeed.replacingLibraryAdvice(in: "plain failure", test: "Suite/check"), "plain failure")
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
