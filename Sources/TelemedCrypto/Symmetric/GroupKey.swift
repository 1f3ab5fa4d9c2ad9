import Crypto

/// GK_e: the group key of one epoch (PROTOCOL.md §4), the AES-256-GCM key of broadcasts.
///
/// Held in swift-crypto's `SymmetricKey` (zeroed on free, constant-time `==`), redacted in
/// descriptions and mirrors. Its bytes leave the type only inside this module: sealed under a
/// member's k_d2p (`SealingKey.seal(_:aad:)`), read back from an opened GROUP_KEY
/// (`OpeningKey.openGroupKey(_:seq:aad:)`) and hashed into a fingerprint.
public struct GroupKey: Sendable, Equatable {
    let key: SymmetricKey

    /// GK_e = SHA-256 of the lp-framed fields in `hasher`.
    package init(hashing hasher: LPHasher) {
        self.key = hasher.finalizeKey()
    }

    /// Wraps an opened GROUP_KEY plaintext, which must be 32 bytes.
    init(opened plaintext: [UInt8]) throws(CryptoError) {
        guard plaintext.count == 32 else { throw .wrongLength(expected: 32, actual: plaintext.count) }
        self.key = SymmetricKey(data: plaintext)
    }

    /// SHA-256(`prefix` ‖ GK): a digest that identifies the key without revealing it.
    package func fingerprint(prefix: [UInt8]) -> Bytes32 {
        var hasher = SHA256()
        hasher.update(data: prefix)
        key.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return Bytes32(exactly: Array(hasher.finalize()))
    }

    /// Compares in constant time (swift-crypto's `SymmetricKey ==`).
    public static func == (lhs: GroupKey, rhs: GroupKey) -> Bool { lhs.key == rhs.key }

    /// The raw bytes, for the package's own tests and the simulator's secret scanner (R-NOLEAK).
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes(body)
    }
}

extension GroupKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Never shows key material.
    public var description: String { "GroupKey(<redacted>)" }
    /// Never shows key material.
    public var debugDescription: String { description }
    /// An empty mirror, so `dump` and reflection show no key bytes.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
