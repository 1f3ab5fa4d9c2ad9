import TelemedBigInt

/// Exactly 32 bytes: nonces (`rn`), SHA-256 digests, SKV, scalars on the wire.
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

    /// Compares in time independent of where the first difference is.
    public func constantTimeEquals(_ other: Bytes32) -> Bool {
        var difference: UInt8 = 0
        for index in 0..<32 { difference |= bytes[index] ^ other.bytes[index] }
        return difference == 0
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
