import Crypto

/// A traffic key: k_d2p or k_p2d, HKDF-SHA-256 of SK (PROTOCOL.md §4).
///
/// Held in swift-crypto's `SymmetricKey` (zeroed on free, constant-time `==`), redacted in
/// descriptions and mirrors. A traffic key seals or opens nothing by itself: the machines turn
/// it into one ``SealingKey`` (the sending direction) or one ``OpeningKey`` (the receiving
/// one), which own the sequence numbers and so the GCM nonces.
public struct TrafficKey: Sendable, Equatable {
    let key: SymmetricKey

    /// HKDF-SHA-256(SK, empty salt, `info`), 32 bytes.
    package init(derivedFrom sessionKey: SessionKey, info: String) {
        self.key = KeyDerivation.hkdf32(ikm: sessionKey.key, info: info)
    }

    /// Compares in constant time (swift-crypto's `SymmetricKey ==`).
    public static func == (lhs: TrafficKey, rhs: TrafficKey) -> Bool { lhs.key == rhs.key }

    /// The raw bytes, for the package's own tests and the simulator's secret scanner (R-NOLEAK).
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes(body)
    }
}

extension TrafficKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Never shows key material.
    public var description: String { "TrafficKey(<redacted>)" }
    /// Never shows key material.
    public var debugDescription: String { description }
    /// An empty mirror, so `dump` and reflection show no key bytes.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
