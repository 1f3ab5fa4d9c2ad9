import Crypto
import TelemedBigInt

/// Exactly 32 bytes of a public value: nonces (`rn`, RN_e), SHA-256 digests, SKV and scalars on
/// the wire. Never a secret: SK, the traffic keys, k_gk and GK_e have their own redacted,
/// `SymmetricKey`-backed types (``SessionKey``, ``TrafficKey``, ``GroupKeySecret``, ``GroupKey``).
public struct Bytes32: Sendable, Hashable {
    /// The 32 bytes.
    public let bytes: [UInt8]

    /// Wraps `bytes`, which must be exactly 32 long.
    public init(_ bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == 32 else { throw .wrongLength(expected: 32, actual: bytes.count) }
        self.bytes = bytes
    }

    /// Wraps bytes the caller guarantees to be 32 long (digests, HMAC outputs).
    init(exactly bytes: [UInt8]) {
        precondition(bytes.count == 32, "Bytes32 built from \(bytes.count) bytes")
        self.bytes = bytes
    }

    /// 32 bytes drawn from `generator`.
    public init(random generator: inout some CryptographicRandomNumberGenerator) {
        self.bytes = generator.bytes(32)
    }

    /// Parses exactly 64 hexadecimal digits.
    public init(hex: String) throws(CryptoError) {
        guard hex.utf8.count == 64 else { throw .wrongLength(expected: 32, actual: hex.utf8.count / 2) }
        do {
            self.bytes = try BigInt.decodeHex(hex)
        } catch {
            throw .malformedEncoding("not hexadecimal")
        }
    }

    /// Lowercase hexadecimal, 64 digits.
    public var hex: String { BigInt.encodeHex(bytes) }

    /// Compares in time independent of where the first difference is, through swift-crypto's
    /// constant-time comparison (`SymmetricKey ==`, BoringSSL's `CRYPTO_memcmp` or CryptoKit's).
    /// Used for SKV.
    public func constantTimeEquals(_ other: Bytes32) -> Bool {
        SymmetricKey(data: bytes) == SymmetricKey(data: other.bytes)
    }
}

extension RandomNumberGenerator {
    /// `count` bytes from this generator, little-endian from each 64-bit word.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "byte count must be non-negative")
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            var word = next()
            for _ in 0..<8 where out.count < count {
                out.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return out
    }
}
