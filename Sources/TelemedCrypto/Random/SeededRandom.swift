// A deterministic generator for tests and the simulator.
//
// Exact definition (so that any machine, or another language, reproduces the stream):
//
//   key          = SHA-256( lp("TelemedCrypto.SeededRandom v1") ‖ lp(seed bytes) )
//   block(i)     = SHA-256( key ‖ u64be(i) ),  i = 0, 1, 2, …
//   stream       = block(0) ‖ block(1) ‖ …
//   next()       = the next 8 stream bytes read as a little-endian UInt64
//   init(seed: UInt64 n)  = init(seed: u64be(n))
//   fork(label)  = the generator whose key is
//                  SHA-256( lp("TelemedCrypto.SeededRandom fork") ‖ lp(key) ‖ lp(UTF-8 label) )
//                  (it depends on the parent's key only, never on how much the parent has drawn)
//
// Because `bytes(_:)` emits each word little-endian, `rng.bytes(32)` on a fresh generator is
// exactly block(0). lp() is PROTOCOL.md's u32be(length) ‖ bytes.

import Crypto

/// Deterministic, seeded generator (SHA-256 in counter mode). Same seed → same stream on every
/// machine. Never use it for real keys: its output is only as secret as its seed.
///
/// `Testing` SPI: tests, the simulator and the benchmarks reach it with
/// `@_spi(Testing) import TelemedCrypto`. Its ``CryptographicRandomNumberGenerator`` conformance
/// (which lets it drive key generation and the machines deterministically) is therefore
/// invisible to a program that imports the module normally.
@_spi(Testing) public struct SeededRandom: CryptographicRandomNumberGenerator, Sendable {
    // MARK: - State

    private let key: [UInt8]
    private var counter: UInt64 = 0
    private var block: [UInt8] = []
    private var offset: Int = 0

    // MARK: - Construction

    /// A generator keyed by the 8 big-endian bytes of `seed`.
    public init(seed: UInt64) {
        self.init(seed: LPWriter.u64(seed))
    }

    /// A generator keyed by arbitrary seed bytes.
    public init(seed: [UInt8]) {
        var writer = LPWriter()
        writer.lp("TelemedCrypto.SeededRandom v1")
        writer.lp(seed)
        self.init(key: Array(SHA256.hash(data: writer.bytes)))
    }

    private init(key: [UInt8]) {
        self.key = key
    }

    /// An independent child stream, e.g. one per simulated actor, derived from this
    /// generator's seed and `label` only (not from its current position).
    public func fork(_ label: String) -> SeededRandom {
        var writer = LPWriter()
        writer.lp("TelemedCrypto.SeededRandom fork")
        writer.lp(key)
        writer.lp(label)
        return SeededRandom(key: Array(SHA256.hash(data: writer.bytes)))
    }

    // MARK: - RandomNumberGenerator

    /// The next 8 bytes of the stream as a little-endian `UInt64`.
    public mutating func next() -> UInt64 {
        var word: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 8) {
            word |= UInt64(nextByte()) << UInt64(shift)
        }
        return word
    }

    private mutating func nextByte() -> UInt8 {
        if offset == block.count {
            block = Array(SHA256.hash(data: key + LPWriter.u64(counter)))
            counter &+= 1
            offset = 0
        }
        defer { offset += 1 }
        return block[offset]
    }
}

extension SeededRandom: CustomStringConvertible {
    /// Names the type only; the key (a function of the seed) is not printed.
    public var description: String { "SeededRandom(counter: \(counter))" }
}
