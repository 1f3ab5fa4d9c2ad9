import Crypto

/// k_gk: the doctor's long-lived secret that makes GK_e unpredictable to anyone who knows only
/// the members' session keys (PROTOCOL.md §4), HKDF-SHA-256 of the doctor's private scalar.
///
/// Held in swift-crypto's `SymmetricKey` (zeroed on free, constant-time `==`), redacted in
/// descriptions and mirrors; the key schedule streams it into the GK_e hash and nowhere else.
public struct GroupKeySecret: Sendable, Equatable {
    let key: SymmetricKey

    /// HKDF-SHA-256(int2octets(x), empty salt, `info`), 32 bytes. The scalar's byte copy is
    /// wiped after use.
    package init(derivedFrom doctorKey: PrivateKey, info: String) {
        var scalar = doctorKey.scalarBytes
        defer { SecureMemory.wipe(&scalar) }
        self.key = KeyDerivation.hkdf32(ikm: SymmetricKey(data: scalar), info: info)
    }

    /// Compares in constant time (swift-crypto's `SymmetricKey ==`).
    public static func == (lhs: GroupKeySecret, rhs: GroupKeySecret) -> Bool { lhs.key == rhs.key }

    /// The raw bytes, for the package's own tests and the simulator's secret scanner (R-NOLEAK).
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes(body)
    }
}

extension GroupKeySecret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Never shows key material.
    public var description: String { "GroupKeySecret(<redacted>)" }
    /// Never shows key material.
    public var debugDescription: String { description }
    /// An empty mirror, so `dump` and reflection show no key bytes.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
