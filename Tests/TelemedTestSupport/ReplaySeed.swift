// The one way to replay a failing seed, for the whole test suite: see `ReplaySeed`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PropertyBased
import Testing

/// The one way to replay a failing seed, for the whole test suite.
///
/// Every failure of a seeded test prints one line,
///
///     replay: TELEMED_SEED=<seed> swift test --filter <Suite or Class>/<test>
///
/// and that line, pasted into a shell, reruns exactly the failing case of exactly that test.
/// The seed has one of two forms, and the line always prints the right one:
///
/// - a property check (`forAll`, swift-property-based underneath) prints the library's seed,
///   base64 text such as `aKPPWDEafU0CGMDYHef/ETcbYUyjWQvRVP1DTNy6qJk=`; with it set, `forAll`
///   runs only that input, under the library's fixed-seed scope (which reports it if the input
///   no longer fails);
/// - a parameterized test (`@Test(arguments: ReplaySeed.seeds(…))`) or a model run prints a
///   UInt64 (decimal, or `0x`-prefixed hex); with it set, `seeds(_:)` yields only that seed.
///
/// A seed of the wrong form for the test fails it (`InvalidSeed`) instead of running the
/// defaults. The library's advice to add a `.fixedSeed` trait is rewritten into the line above
/// (`replacingLibraryAdvice`); such traits are never committed. Other variables that tune the
/// tests (TELEMED_MODEL_RUNS, …) are not seeds; the TelemedProtocol DocC article Tests (Testing.md) lists them.
public enum ReplaySeed {
    /// The one environment variable that names a seed to replay.
    public static let variable = "TELEMED_SEED"

    /// `TELEMED_SEED` holds something that is not a seed.
    public struct InvalidSeed: Error, CustomStringConvertible {
        /// The variable's text.
        public let text: String

        /// The form the reading test takes.
        public let expected: String

        /// Says what was wrong, and the accepted form.
        public var description: String {
            "\(ReplaySeed.variable)=\(text) is not a seed of this test (it takes \(expected))"
        }
    }

    static let integerForm = "a decimal or 0x-prefixed hex UInt64"
    static let propertyForm = "a property-check seed, the base64 text a forAll failure prints"

    /// The seed `TELEMED_SEED` names, nil when it is unset.
    public static func current() throws(InvalidSeed) -> UInt64? {
        guard let raw = getenv(variable) else { return nil }
        return try parse(String(cString: raw))
    }

    /// Parses decimal or `0x`-prefixed hexadecimal text.
    public static func parse(_ text: String) throws(InvalidSeed) -> UInt64 {
        let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        guard let value else { throw InvalidSeed(text: text, expected: integerForm) }
        return value
    }

    /// The xoshiro256** state a property-check seed names (swift-property-based's base64 text),
    /// nil when `TELEMED_SEED` is unset.
    public static func currentPropertySeed() throws(InvalidSeed) -> (UInt64, UInt64, UInt64, UInt64)? {
        guard let raw = getenv(variable) else { return nil }
        return try parsePropertySeed(String(cString: raw))
    }

    /// Parses a property-check seed as the library prints it.
    public static func parsePropertySeed(_ text: String) throws(InvalidSeed) -> (UInt64, UInt64, UInt64, UInt64) {
        guard let state = Xoshiro(seed: text)?.currentState else { throw InvalidSeed(text: text, expected: propertyForm) }
        return state
    }

    /// True when `TELEMED_SEED` is set: a loop then runs one replayed case, so checks over the
    /// whole loop (outcome counts) do not apply.
    public static var isReplaying: Bool { getenv(variable) != nil }

    /// The seeds a loop visits: only the replayed one when `TELEMED_SEED` is set, else `defaults`.
    public static func seeds(_ defaults: some Sequence<UInt64>) throws(InvalidSeed) -> [UInt64] {
        if let seed = try current() { return [seed] }
        return Array(defaults)
    }

    /// The line a failure prints: `replay: TELEMED_SEED=<seed> swift test --filter <test>`.
    /// `test` is `Suite/test` or `Class/method`; `settings` (`NAME=value`, e.g. a
    /// mutant to run against) stand before the seed when the replay needs them too.
    public static func hint(_ seed: UInt64, test: String, settings: [String] = []) -> String {
        hint(text: String(seed), test: test, settings: settings)
    }

    /// The replay line for a seed in either form (`seed` as printed).
    public static func hint(text seed: String, test: String, settings: [String] = []) -> String {
        (["replay:"] + settings + ["\(variable)=\(seed) swift test --filter \(test)"]).joined(separator: " ")
    }

    /// The replay line for a failure in the running Swift Testing test (a parameterized test's
    /// case included: its seed argument is `seed`).
    public static func hint(_ seed: UInt64) -> String {
        hint(seed, test: Test.current.map(name(of:)) ?? "<test>")
    }

    /// `Suite/test` of a Swift Testing test, the form `swift test --filter` takes.
    public static func name(of test: Test) -> String {
        let components = test.id.nameComponents.map { $0.split(separator: "(").first.map(String.init) ?? $0 }
        return components.joined(separator: "/")
    }

    /// `text` with swift-property-based's "Add `.fixedSeed("<seed>")` to the Test to reproduce
    /// this issue." replaced by the replay line of `test` (text without that advice is unchanged).
    public static func replacingLibraryAdvice(in text: String, test: String) -> String {
        let opening = "Add `.fixedSeed(\"", closing = "\")` to the Test to reproduce this issue."
        guard let start = text.firstRange(of: opening), let end = text[start.upperBound...].firstRange(of: closing)
        else { return text }
        var out = text
        out.replaceSubrange(start.lowerBound..<end.upperBound, with: hint(text: String(text[start.upperBound..<end.lowerBound]), test: test))
        return out
    }
}
