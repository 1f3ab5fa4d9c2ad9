import TelemedTestSupport
import Testing

/// The shared test support: the replay line every seeded test prints (`ReplaySeed.hint`, and
/// `ReplaySeed.replacingLibraryAdvice` for `forAll`), the seed text `TELEMED_SEED` accepts in
/// its two forms, and the pinned SplitMix64 stream the integer seeds name.
@Suite struct ReplaySeedTests {
    /// The line names the running test in the `--filter` form, with any settings first.
    @Test func testHintNamesTheRunningTestInTheFilterForm() {
        #expect(ReplaySeed.hint(42) == "replay: TELEMED_SEED=42 swift test --filter ReplaySeedTests/testHintNamesTheRunningTestInTheFilterForm")
        #expect(ReplaySeed.hint(7, test: "DoctorModelTests/testX", settings: ["TELEMED_MODEL_MUTANT=m"])
                == "replay: TELEMED_MODEL_MUTANT=m TELEMED_SEED=7 swift test --filter DoctorModelTests/testX")
    }

    /// A parameterized case names its test, not the case (the seed selects the case).
    @Test(arguments: [UInt64(3)])
    func testHintInAParameterizedCaseNamesTheTest(seed: UInt64) {
        #expect(ReplaySeed.hint(seed) == "replay: TELEMED_SEED=3 swift test --filter ReplaySeedTests/testHintInAParameterizedCaseNamesTheTest")
    }

    @Test func testSeedTextIsDecimalOrPrefixedHexAndNothingElse() throws {
        #expect(try ReplaySeed.parse("123") == 123)
        #expect(try ReplaySeed.parse("0x7e1e") == 0x7e1e)
        #expect(try ReplaySeed.parse("18446744073709551615") == .max)
        for bad in ["", "-1", "0x", "12a", "18446744073709551616", " 1"] {
            #expect(throws: ReplaySeed.InvalidSeed.self, "\(bad)") { try ReplaySeed.parse(bad) }
        }
    }

    /// A property check's seed is swift-property-based's base64 text of four UInt64s; anything
    /// else (a loop's integer seed included) is refused with the form it takes.
    @Test func testPropertySeedIsTheLibrarysTextAndNothingElse() throws {
        let seed = "aKPPWDEafU0CGMDYHef/ETcbYUyjWQvRVP1DTNy6qJk="
        let state = try ReplaySeed.parsePropertySeed(seed)
        #expect([state.0, state.1, state.2, state.3] != [0, 0, 0, 0])
        for bad in ["", "42", "0x7e1e", "aKPPWDEafU0CGMDYHef/ETcbYUyjWQvRVP1DTNy6qJ", "not base64!"] {
            #expect(throws: ReplaySeed.InvalidSeed.self, "\(bad)") { try ReplaySeed.parsePropertySeed(bad) }
        }
        #expect(throws: ReplaySeed.InvalidSeed.self) { try ReplaySeed.parse(seed) }
    }

    /// The library's advice to edit a trait into the test becomes the one replay line.
    @Test func testLibraryAdviceBecomesTheReplayLine() {
        let library = "Failure occured with input 992.\n\nAdd `.fixedSeed(\"aKPP/E+cb=\")` to the Test to reproduce this issue."
        #expect(ReplaySeed.replacingLibraryAdvice(in: library, test: "Suite/check")
                == "Failure occured with input 992.\n\nreplay: TELEMED_SEED=aKPP/E+cb= swift test --filter Suite/check")
        #expect(ReplaySeed.replacingLibraryAdvice(in: "plain failure", test: "Suite/check") == "plain failure")
    }

    @Test func testWithoutTheVariableALoopVisitsItsDefaults() throws {
        guard !ReplaySeed.isReplaying else { return }  // TELEMED_SEED is set for this run
        #expect(try ReplaySeed.seeds(5...7) == [5, 6, 7])
    }

    /// SplitMix64's reference outputs for seed 0 (Vigna's splitmix64.c), so a seed printed by a
    /// failure names the same inputs on every machine.
    @Test func testSplitMix64MatchesTheReferenceStream() {
        var rng = SplitMix64(seed: 0)
        #expect([rng.next(), rng.next(), rng.next()] == [0xe220_a839_7b1d_cdaf, 0x6e78_9e6a_a1b9_65f4, 0x06c4_5d18_8009_454f])
    }
}
