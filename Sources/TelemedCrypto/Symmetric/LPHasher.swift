import Crypto

/// SHA-256 over the protocol's length-prefixed fields (`lp(b) = u32be(len(b)) ‖ b`,
/// PROTOCOL.md §4), fed as a stream: a secret field (SK, k_gk) goes from its key storage into
/// the hash directly, never through an array that would outlive it unwiped. ``LPWriter`` builds
/// the same framing as bytes, for public inputs only.
package struct LPHasher {
    private var hasher = SHA256()

    /// An empty transcript.
    package init() {}

    /// Appends `lp(data)` for public bytes.
    package mutating func lp(_ data: some Sequence<UInt8>) {
        hasher.update(data: LPWriter.field(data))
    }

    /// Appends `lp(ASCII/UTF-8 bytes of text)`.
    package mutating func lp(_ text: String) { lp(Array(text.utf8)) }

    /// Appends `lp(u64be(value))`.
    package mutating func lpU64(_ value: UInt64) { lp(LPWriter.u64(value)) }

    /// Appends `lp(SK)`.
    package mutating func lp(_ sessionKey: SessionKey) { lp(secret: sessionKey.key) }

    /// Appends `lp(k_gk)`.
    package mutating func lp(_ secret: GroupKeySecret) { lp(secret: secret.key) }

    /// Appends `lp(K)`, `lp(K_GWN)` or `lp(Z)` (L bytes).
    package mutating func lp(_ secret: ElementSecret) { lp(secret: secret.key) }

    private mutating func lp(secret key: SymmetricKey) {
        hasher.update(data: LPWriter.u32(UInt32(key.bitCount / 8)))
        key.withUnsafeBytes { hasher.update(bufferPointer: $0) }
    }

    /// The digest of a public value (SKV).
    package func digest() -> Bytes32 {
        Bytes32(exactly: Array(hasher.finalize()))
    }

    /// The digest as a key (SK, GK_e): it goes straight into a `SymmetricKey`.
    func finalizeKey() -> SymmetricKey {
        SymmetricKey(data: hasher.finalize())
    }
}
