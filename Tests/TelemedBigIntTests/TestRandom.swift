/// SplitMix64: a tiny deterministic generator so BigInt tests run the same everywhere.
/// Failures print the seed; `TELEMED_PROPERTY_SEED=<seed>` replays a single seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Foundation

/// The seeds a property loop visits: `base ..< base + count`, or just the replayed one.
func propertySeeds(base: UInt64, count: Int) -> [UInt64] {
    if let text = ProcessInfo.processInfo.environment["TELEMED_PROPERTY_SEED"], let seed = UInt64(text) {
        return [seed]
    }
    return (0..<UInt64(count)).map { base &+ $0 }
}
