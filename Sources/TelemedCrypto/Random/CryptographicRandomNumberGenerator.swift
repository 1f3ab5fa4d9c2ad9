/// Marker for generators suitable for keys and nonces.
///
/// Every public entry point of this module that draws secret values — key generation
/// (``PrivateKey/init(generatingIn:using:)``), signing, ElGamal encryption, random scalars and
/// elements, random ``Bytes32`` nonces — takes an `inout some CryptographicRandomNumberGenerator`,
/// and so do the protocol machines' inputs that take `using rng:`. A plain
/// `RandomNumberGenerator` (the standard library's `SystemRandomNumberGenerator` included) does
/// not compile there.
///
/// Production code passes ``SystemRandom``. The deterministic generator that tests, the
/// simulator and the benchmarks use is declared under the `Testing` SPI
/// (`@_spi(Testing) import TelemedCrypto`), so a program that imports the module normally cannot
/// name it and cannot hand a seeded stream to key generation by accident. A type that conforms
/// to this protocol asserts that its output is unpredictable to everyone but its owner.
public protocol CryptographicRandomNumberGenerator: RandomNumberGenerator {}

/// The operating system's CSPRNG (`SystemRandomNumberGenerator`: `getrandom(2)` on Linux).
///
/// This is the only type in the module that touches `SystemRandomNumberGenerator`; the pure
/// code receives it from the node runtime as an injected generator.
public struct SystemRandom: CryptographicRandomNumberGenerator, Sendable {
    /// A handle on the system generator (it has no state of its own).
    public init() {}

    /// The next 64 random bits from the operating system.
    public mutating func next() -> UInt64 {
        var system = SystemRandomNumberGenerator()
        return system.next()
    }
}
