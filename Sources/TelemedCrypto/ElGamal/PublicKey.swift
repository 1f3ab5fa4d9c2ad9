/// An ElGamal public key y = g^x in a named group, always a valid element.
public struct PublicKey: Sendable, Hashable {
    /// The key's group.
    public let group: TelemedGroup
    /// y = g^x mod p.
    public let y: BigInt

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
    init(trusted group: TelemedGroup, y: BigInt) {
        self.group = group
        self.y = y
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
