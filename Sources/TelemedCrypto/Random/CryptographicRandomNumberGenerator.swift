/// Marker for generators suitable for keys and nonces.
///
/// Every function in this module that draws secret values takes an
/// `inout some RandomNumberGenerator`; callers in production pass ``SystemRandom``, tests and
/// the simulator pass ``SeededRandom``. The marker exists so that higher layers can demand a
/// cryptographic generator in their own signatures.
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
