@_spi(Testing) import TelemedBigInt

/// An ElGamal public key y = g^x in a named group, always a valid element.
public struct PublicKey: Sendable, Hashable {
    /// The key's group.
    public let group: TelemedGroup
    /// y = g^x mod p.
    public let y: BigInt
    /// A fixed-base table for y, when prepared (see ``precomputingEncryptionTable()``).
    let encryptionTable: FixedBaseTable?

    /// Wraps `y` after the element check.
    ///
    /// - Throws: ``CryptoError/invalidElement``.
    public init(group: TelemedGroup, y: BigInt) throws(CryptoError) {
        guard group.isValidElement(y) else { throw .invalidElement }
        self.init(trusted: group, y: y)
    }

    /// Decodes exactly L bytes and checks the element.
    ///
    /// - Throws: ``CryptoError/wrongLength(expected:actual:)`` or ``CryptoError/invalidElement``.
    public init(group: TelemedGroup, bytes: [UInt8]) throws(CryptoError) {
        self.init(trusted: group, y: try group.element(from: bytes))
    }

    /// For y computed from a valid private scalar.
    init(trusted group: TelemedGroup, y: BigInt, encryptionTable: FixedBaseTable? = nil) {
        self.group = group
        self.y = y
        self.encryptionTable = encryptionTable
    }

    // MARK: - Precomputation for encryption

    /// The same key with a fixed-base table for y, so that every ``ElGamal`` encryption to it
    /// computes y^k with the constant-time comb instead of a full `mpz_powm_sec`. Worth it for
    /// a key that is encrypted to many times (a patient's pinned doctor key); costs about
    /// 1 ms and 256 KiB (2048-bit p) once. Has no effect under the reference strategy.
    public func precomputingEncryptionTable() -> PublicKey {
        guard encryptionTable == nil else { return self }
        let table = group.engine.domain.fixedBaseTable(for: y, exponentBits: group.q.bitWidth, windowBits: 4)
        return PublicKey(trusted: group, y: y, encryptionTable: table)
    }

    /// True when ``precomputingEncryptionTable()`` prepared this key.
    public var hasEncryptionTable: Bool { encryptionTable != nil }

    /// y^k mod p for a secret k in [1, q − 1].
    func powerSecure(_ k: BigInt) -> BigInt {
        if group.exponentiation == .accelerated, let table = encryptionTable, k.bitWidth <= table.exponentBits {
            return table.powerSecure(k)
        }
        return y.powModSecure(k, group.p)
    }

    // MARK: - Equality (the key, not its precomputation)

    /// Equal when the groups and y are equal.
    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        lhs.group == rhs.group && lhs.y == rhs.y
    }

    /// Hashes the group and y.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(group)
        hasher.combine(y)
    }

    /// y as L bytes.
    public var bytes: [UInt8] { group.encodeElement(y) }

    /// Lowercase hex of ``bytes`` (key files, logs: a public key is not secret).
    public var hex: String { BigInt.encodeHex(bytes) }

    /// The §4 verification of `signature` over `message` (hashed here with SHA-256). Returns
    /// false for every malformed or out-of-range value; never traps.
    public func isValidSignature(_ signature: Signature, for message: [UInt8]) -> Bool {
        let h1 = Hashing.sha256(message).bytes
        return SubgroupSignature.verify(h1: h1, y: y, signature: signature, group: group)
    }
}
