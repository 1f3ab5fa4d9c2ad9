/// A §4 signature (r, s): r a group element, s a scalar mod q. Unvalidated until verified.
public struct Signature: Sendable, Hashable {
    /// r = g^k mod p.
    public let r: BigInt
    /// s = k^-1 (e − x r') mod q.
    public let s: BigInt

    /// Wraps (r, s) without checks; ``PublicKey/isValidSignature(_:for:)`` does the range checks.
    public init(r: BigInt, s: BigInt) {
        self.r = r
        self.s = s
    }

    /// Decodes `sig_r` (L bytes) and `sig_s` (32 bytes); checks lengths only.
    ///
    /// - Throws: ``CryptoError/wrongLength(expected:actual:)``.
    public init(group: TelemedGroup, rBytes: [UInt8], sBytes: [UInt8]) throws(CryptoError) {
        guard rBytes.count == group.elementLength else {
            throw .wrongLength(expected: group.elementLength, actual: rBytes.count)
        }
        guard sBytes.count == TelemedGroup.scalarLength else {
            throw .wrongLength(expected: TelemedGroup.scalarLength, actual: sBytes.count)
        }
        self.init(r: BigInt(bigEndian: rBytes), s: BigInt(bigEndian: sBytes))
    }

    /// `sig_r`: r as L bytes.
    ///
    /// - Precondition: `0 ≤ r < 2^(8L)` (true for every signature made or decoded here).
    public func rBytes(in group: TelemedGroup) -> [UInt8] {
        precondition(!r.isNegative && r.byteWidth <= group.elementLength, "r does not fit L bytes")
        return FixedWidth.encode(r, width: group.elementLength)
    }

    /// `sig_s`: s as 32 bytes.
    ///
    /// - Precondition: `0 ≤ s < 2^256` (true for every signature made or decoded here).
    public func sBytes(in group: TelemedGroup) -> [UInt8] {
        precondition(!s.isNegative && s.byteWidth <= TelemedGroup.scalarLength, "s does not fit 32 bytes")
        return FixedWidth.encode(s, width: TelemedGroup.scalarLength)
    }
}
