import Foundation
import XCTest
@_spi(Testing) import TelemedCrypto

/// The seeded loop behind every property test. Case i uses `SeededRandom(seed: base + i)`;
/// a failure message names the seed. To replay one case:
///
///     TELEMED_PROPERTY_SEED=<seed> swift test --filter TelemedCryptoTests.PropertyTests/<test>
///
/// (or call `replay(seed:…)` from a test). A seed that once failed becomes a named
/// regression test by calling `replay` with it.
enum PropertyRunner {
    static func run(
        cases: Int, base: UInt64, file: StaticString = #filePath, line: UInt = #line,
        _ body: (_ seed: UInt64, _ rng: inout SeededRandom) throws -> Void
    ) rethrows {
        if let text = ProcessInfo.processInfo.environment["TELEMED_PROPERTY_SEED"], let seed = UInt64(text) {
            try replay(seed: seed, body)
            return
        }
        for index in 0..<UInt64(cases) {
            try replay(seed: base &+ index, body)
        }
    }

    static func replay(seed: UInt64, _ body: (_ seed: UInt64, _ rng: inout SeededRandom) throws -> Void) rethrows {
        var rng = SeededRandom(seed: seed)
        try body(seed, &rng)
    }

    /// The text every property assertion appends.
    static func context(_ seed: UInt64) -> String {
        "seed \(seed) — replay with TELEMED_PROPERTY_SEED=\(seed)"
    }
}
