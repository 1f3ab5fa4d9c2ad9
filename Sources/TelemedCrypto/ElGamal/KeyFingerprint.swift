import TelemedBigInt

/// The fingerprint of a public key: SHA-256 of its canonical encoding (``PublicKey/bytes``,
/// the L-byte big-endian y), for comparing a key out of band (read aloud over the phone,
/// printed on an enrollment request or a doctor card).
///
/// Its text form is 16 groups of 4 lowercase hexadecimal digits separated by single spaces:
///
///     3f2a 9c01 77be 0d4e 5a61 c2f8 e903 14b7 60dd 2b9e 8f05 a1c3 4e7a d092 bb16 5c38
///
/// Only y is hashed, not the group's name: requests, cards and the registry always show the
/// group next to the key, and a key is checked as an element of that group before it is
/// enrolled or pinned.
public struct KeyFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let digest: Bytes32

    /// The fingerprint of `key`: SHA-256 of `key.bytes`.
    public init(of key: PublicKey) {
        self.digest = Hashing.sha256(key.bytes)
    }

    /// Wraps a digest computed elsewhere (a stored fingerprint).
    public init(digest: Bytes32) {
        self.digest = digest
    }

    /// Parses the text form: either the canonical 16 groups of 4 hexadecimal digits separated
    /// by single spaces, or the same 64 digits without spaces. Upper- and lowercase digits are
    /// both accepted; nothing else is (no leading or trailing space, no other separator, no
    /// group of another width).
    ///
    /// - Throws: ``CryptoError/malformedEncoding(_:)`` naming what is wrong.
    public init(text: String) throws(CryptoError) {
        let utf8 = Array(text.utf8)
        var digits = [UInt8]()
        digits.reserveCapacity(64)
        switch utf8.count {
        case 64:
            digits = utf8
        case Self.textLength:
            for (index, byte) in utf8.enumerated() {
                if index % 5 == 4 {
                    guard byte == 0x20 else {
                        throw .malformedEncoding("a fingerprint has a single space after every 4 digits")
                    }
                } else {
                    digits.append(byte)
                }
            }
        default:
            throw .malformedEncoding(
                "a fingerprint has 64 hexadecimal digits in 16 groups of 4 (got \(utf8.count) characters)")
        }
        guard let bytes = try? BigInt.decodeHex(String(decoding: digits, as: UTF8.self)), bytes.count == 32 else {
            throw .malformedEncoding("a fingerprint holds hexadecimal digits only")
        }
        self.digest = Bytes32(exactly: bytes)
    }

    /// The length of the canonical text: 16 × 4 digits and 15 spaces.
    public static let textLength = 79

    /// The 64 lowercase hexadecimal digits, without spaces (storage, JSON).
    public var hex: String { digest.hex }

    /// 16 groups of 4 lowercase hexadecimal digits separated by single spaces.
    public var description: String {
        var out = ""
        out.reserveCapacity(Self.textLength)
        for (index, character) in digest.hex.enumerated() {
            if index > 0, index % 4 == 0 { out.append(" ") }
            out.append(character)
        }
        return out
    }

    /// True when this is the fingerprint of `key`.
    public func matches(_ key: PublicKey) -> Bool {
        self == KeyFingerprint(of: key)
    }
}

extension PublicKey {
    /// This key's ``KeyFingerprint``.
    public var fingerprint: KeyFingerprint { KeyFingerprint(of: self) }
}
