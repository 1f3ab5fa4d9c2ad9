import Crypto

/// A 32-byte AES-256 / HMAC key (k_d2p, k_p2d, k_gk, GK_e). Its description is redacted.
public struct SymmetricKey32: Sendable {
    private let material: Bytes32

    /// Wraps 32 key bytes.
    public init(_ bytes: Bytes32) {
        self.material = bytes
    }

    /// The raw key bytes, for the one place that must transport a key (GK_e sealed under
    /// k_d2p). Never log or print them.
    public var keyBytes: Bytes32 { material }

    /// Runs `body` over the raw key bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try material.bytes.withUnsafeBytes(body)
    }

    /// The swift-crypto key object.
    var symmetricKey: SymmetricKey { SymmetricKey(data: material.bytes) }
}

// MARK: - Equality in constant time

extension SymmetricKey32: Equatable {
    /// Compares the key bytes in time independent of where they differ.
    public static func == (lhs: SymmetricKey32, rhs: SymmetricKey32) -> Bool {
        lhs.material.constantTimeEquals(rhs.material)
    }
}

// MARK: - Redaction

extension SymmetricKey32: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Never shows key material.
    public var description: String { "SymmetricKey32(<redacted>)" }
    /// Never shows key material.
    public var debugDescription: String { description }
    /// An empty mirror, so `dump` and reflection show no key bytes.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
