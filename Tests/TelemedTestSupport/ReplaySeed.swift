// The one way to replay a failing seed.
//
// Every seeded loop in the tests asks `ReplaySeed.seeds(_:)` which seeds to visit: its own
// defaults, or only the seed named by the environment variable `TELEMED_SEED` (decimal, or hex
// with a `0x` prefix). Every failure of such a loop prints `ReplaySeed.hint`:
//
//     replay: TELEMED_SEED=<n> swift test --filter <Class>/<test>
//
// so the printed line, pasted into a shell, reruns exactly the failing case of exactly that
// test. Other variables that tune the tests (TELEMED_MODEL_RUNS, …) are not seeds; README's
// "Tests" section lists them.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the replay seed and formats the replay line of a failure.
public enum ReplaySeed {
    /// The one environment variable that names a seed to replay.
    public static let variable = "TELEMED_SEED"

    /// `TELEMED_SEED` holds something that is not a seed.
    public struct InvalidSeed: Error, CustomStringConvertible {
        /// The variable's text.
        public let text: String

        /// Says what was wrong, and the accepted forms.
        public var description: String {
            "\(ReplaySeed.variable)=\(text) is not a seed (a decimal or 0x-prefixed hex UInt64)"
        }
    }

    /// The seed `TELEMED_SEED` names, nil when it is unset.
    public static func current() throws(InvalidSeed) -> UInt64? {
        guard let raw = getenv(variable) else { return nil }
        return try parse(String(cString: raw))
    }

    /// Parses decimal or `0x`-prefixed hexadecimal text.
    public static func parse(_ text: String) throws(InvalidSeed) -> UInt64 {
        let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        guard let value else { throw InvalidSeed(text: text) }
        return value
    }

    /// The seeds a loop visits: only the replayed one when `TELEMED_SEED` is set, else `defaults`.
    public static func seeds(_ defaults: some Sequence<UInt64>) throws(InvalidSeed) -> [UInt64] {
        if let seed = try current() { return [seed] }
        return Array(defaults)
    }

    /// `base ..< base + count`, or only the replayed seed.
    public static func seeds(base: UInt64, count: Int) throws(InvalidSeed) -> [UInt64] {
        try seeds((0..<UInt64(count)).lazy.map { base &+ $0 })
    }

    /// The line a failure prints: `replay: TELEMED_SEED=<seed> swift test --filter <test>`.
    /// `test` is `Class/method` (see `name(of:function:)`); `settings` (`NAME=value`, e.g. a
    /// mutant to run against) stand before the seed when the replay needs them too.
    public static func hint(_ seed: UInt64, test: String, settings: [String] = []) -> String {
        (["replay:"] + settings + ["\(variable)=\(seed) swift test --filter \(test)"]).joined(separator: " ")
    }

    /// The replay line for a failure in the test method that calls this (or `function`).
    public static func hint(_ seed: UInt64, in testCase: AnyObject, function: String = #function) -> String {
        hint(seed, test: name(of: testCase, function: function))
    }

    /// `Class/method` of a test, the form `swift test --filter` takes.
    public static func name(of testCase: AnyObject, function: String = #function) -> String {
        let method = function.split(separator: "(").first.map(String.init) ?? function
        return "\(String(describing: type(of: testCase)))/\(method)"
    }
}
