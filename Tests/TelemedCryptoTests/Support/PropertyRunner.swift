@_spi(Testing) import TelemedCrypto
import TelemedTestSupport

/// The seeded loop behind the crypto property tests. Case i uses `SeededRandom(seed: base + i)`
/// (SeededRandom, not SplitMix64, because key generation and signing take the cryptographic
/// generator marker); with `TELEMED_SEED` set only that seed runs (`ReplaySeed`). Assertions
/// append `ReplaySeed.hint(seed, in: self)`, the one replay line:
///
///     replay: TELEMED_SEED=<seed> swift test --filter PropertyTests/<test>
///
/// A seed that once failed becomes a named regression test by calling `replay` with it.
enum PropertyRunner {
    static func run(
        cases: Int, base: UInt64,
        _ body: (_ seed: UInt64, _ rng: inout SeededRandom) throws -> Void
    ) throws {
        for seed in try ReplaySeed.seeds(base: base, count: cases) {
            try replay(seed: seed, body)
        }
    }

    static func replay(seed: UInt64, _ body: (_ seed: UInt64, _ rng: inout SeededRandom) throws -> Void) rethrows {
        var rng = SeededRandom(seed: seed)
        try body(seed, &rng)
    }
}
