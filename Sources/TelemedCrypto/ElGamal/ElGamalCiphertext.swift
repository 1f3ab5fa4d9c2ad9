/// An ElGamal ciphertext (c1, c2) = (g^k, M·y^k). Unvalidated until decrypted.
public struct ElGamalCiphertext: Sendable, Hashable {
    /// c1 = g^k mod p.
    public let c1: BigInt
    /// c2 = M · y^k mod p.
    public let c2: BigInt

    /// Wraps (c1, c2) without checks; ``PrivateKey/decrypt(_:)`` validates both.
    public init(c1: BigInt, c2: BigInt) {
        self.c1 = c1
        self.c2 = c2
    }

    /// Decodes two L-byte values; checks lengths only.
    ///
    /// - Throws: ``CryptoError/wrongLength(expected:actual:)``.
    public init(group: TelemedGroup, c1Bytes: [UInt8], c2Bytes: [UInt8]) throws(CryptoError) {
        for bytes in [c1Bytes, c2Bytes] where bytes.count != group.elementLength {
            throw .wrongLength(expected: group.elementLength, actual: bytes.count)
        }
        self.init(c1: BigInt(bigEndian: c1Bytes), c2: BigInt(bigEndian: c2Bytes))
    }

    /// c1 as L bytes. - Precondition: `0 ≤ c1 < 2^(8L)`.
    public func c1Bytes(in group: TelemedGroup) -> [UInt8] {
        precondition(!c1.isNegative && c1.byteWidth <= group.elementLength, "c1 does not fit L bytes")
        return FixedWidth.encode(c1, width: group.elementLength)
    }

    /// c2 as L bytes. - Precondition: `0 ≤ c2 < 2^(8L)`.
    public func c2Bytes(in group: TelemedGroup) -> [UInt8] {
        precondition(!c2.isNegative && c2.byteWidth <= group.elementLength, "c2 does not fit L bytes")
        return FixedWidth.encode(c2, width: group.elementLength)
    }
}
