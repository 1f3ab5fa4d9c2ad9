// SplitMix64 (Steele, Lea, Flood 2014): the one seeded generator of the test loops.
//
// Tests use it to choose inputs (sizes, bytes, event orders). Where a production entry point
// asks for a `CryptographicRandomNumberGenerator` (key generation, signing, ElGamal), tests use
// `SeededRandom` from TelemedCrypto instead, the deterministic generator the simulator runs on;
// SplitMix64 does not claim that marker. The stream is pinned: seeds named in tests (and the
// replay seeds printed by failures) reproduce the same inputs only while this stays unchanged.

/// A tiny deterministic generator whose whole output is fixed by its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose whole output is fixed by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 bits of the stream.
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// `count` bytes, the low byte of one `next()` each.
    public mutating func bytes(count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}
