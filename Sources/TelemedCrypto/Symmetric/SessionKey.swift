import Crypto

/// SK: the per-session secret both sides hash from the handshake transcript (PROTOCOL.md §4).
///
/// The bytes live in swift-crypto's `SymmetricKey`, whose storage is zeroed when it is freed;
/// `==` is swift-crypto's constant-time comparison; `description`, `debugDescription` and the
/// mirror show no bytes. Only the key schedule reads them, and only by streaming them into a
/// hash or HKDF (SKV, k_d2p / k_p2d, GK_e): no public accessor exists.
public struct SessionKey: Sendable, Equatable {
    let key: SymmetricKey

    /// SK = SHA-256 of the lp-framed transcript in `hasher`.
    package init(hashing hasher: LPHasher) {
        self.key = hasher.finalizeKey()
    }

    /// Compares in constant time (swift-crypto's `SymmetricKey ==`).
    public static func == (lhs: SessionKey, rhs: SessionKey) -> Bool { lhs.key == rhs.key }

    /// The raw bytes, for the package's own tests and the simulator's secret scanner (R-NOLEAK).
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes(body)
    }
}

extension SessionKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Never shows key material.
    public var description: String { "SessionKey(<redacted>)" }
    /// Never shows key material.
    public var debugDescription: String { description }
    /// An empty mirror, so `dump` and reflection show no key bytes.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
