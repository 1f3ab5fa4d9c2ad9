import TelemedCrypto

// MARK: - NodeRandom

/// The node's one generator, type-erased so nodes are not generic over it. Only
/// `CryptographicRandomNumberGenerator`s are accepted: `SystemRandom` in production,
/// `SeededRandom` in tests and the simulator. `SeededRandom` is TelemedCrypto's `Testing` SPI,
/// so only code that imports that SPI can build a seeded node.
public struct NodeRandom: CryptographicRandomNumberGenerator {
    private var base: any CryptographicRandomNumberGenerator

    /// Wraps a cryptographic generator.
    public init(_ base: some CryptographicRandomNumberGenerator) {
        self.base = base
    }

    /// The operating system's CSPRNG.
    public static var system: NodeRandom { NodeRandom(SystemRandom()) }

    /// The next 64 bits of the wrapped generator.
    public mutating func next() -> UInt64 {
        base.next()
    }
}

extension NodeRandom: CustomStringConvertible {
    /// Names the wrapper only (a seeded generator's state is not printed).
    public var description: String { "NodeRandom" }
}
