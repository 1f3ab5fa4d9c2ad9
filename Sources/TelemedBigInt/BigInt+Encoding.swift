import CGMP

// MARK: - Bytes and text

extension BigInt {
    /// Interprets big-endian bytes as a non-negative integer. Empty input is zero.
    public init<Bytes: Collection>(bigEndian bytes: Bytes) where Bytes.Element == UInt8 {
        let array = Array(bytes)
        self.init { z in
            guard !array.isEmpty else { return }
            array.withUnsafeBufferPointer { buffer in
                __gmpz_import(z, buffer.count, 1, 1, 1, 0, buffer.baseAddress)
            }
        }
    }

    /// The big-endian bytes of the absolute value, minimal length (empty for zero).
    public func magnitudeBytes() -> [UInt8] {
        let count = byteWidth
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        var written = 0
        out.withUnsafeMutableBufferPointer { buffer in
            _ = __gmpz_export(buffer.baseAddress, &written, 1, 1, 1, 0, raw)
        }
        precondition(written == count, "GMP exported an unexpected length")
        return out
    }

    /// Exactly `width` big-endian bytes, left-padded with zeros.
    ///
    /// - Throws: ``BigIntError/negativeValue`` or ``BigIntError/valueTooWide(neededBytes:width:)``;
    ///   a value is never truncated.
    public func bytes(width: Int) throws(BigIntError) -> [UInt8] {
        precondition(width >= 0, "width must be non-negative")
        guard !isNegative else { throw .negativeValue }
        let minimal = magnitudeBytes()
        guard minimal.count <= width else {
            throw .valueTooWide(neededBytes: minimal.count, width: width)
        }
        return [UInt8](repeating: 0, count: width - minimal.count) + minimal
    }

    /// Parses hexadecimal digits (either case, no prefix, no sign). Empty text is an error.
    public init(hex: some StringProtocol) throws(BigIntError) {
        let bytes = try BigInt.decodeHex(hex)
        self.init(bigEndian: bytes)
    }

    /// Parses hexadecimal text that must be exactly `width` bytes (2·width digits).
    public init(hex: some StringProtocol, width: Int) throws(BigIntError) {
        guard hex.utf8.count == width * 2 else { throw .invalidHex }
        try self.init(hex: hex)
    }

    /// Parses decimal digits with an optional leading minus sign.
    public init(decimal: some StringProtocol) throws(BigIntError) {
        let text = String(decimal)
        var digits = Substring(text)
        if digits.first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw .invalidDecimal
        }
        let storage = GMPStorage()
        let status = __gmpz_set_str(storage.pointer, text, 10)
        guard status == 0 else { throw .invalidDecimal }
        self.init(storage: storage)
    }

    /// Lowercase hexadecimal of exactly `width` bytes.
    public func hex(width: Int) throws(BigIntError) -> String {
        let data = try bytes(width: width)
        return BigInt.encodeHex(data)
    }

    /// Text in the given radix (2...36), lowercase, with a leading minus for negatives.
    public func toString(radix: Int = 10) -> String {
        precondition((2...36).contains(radix), "radix must be in 2...36")
        let size = __gmpz_sizeinbase(raw, Int32(radix)) + 2
        var buffer = [CChar](repeating: 0, count: size)
        buffer.withUnsafeMutableBufferPointer { pointer in
            _ = __gmpz_get_str(pointer.baseAddress, Int32(radix), raw)
        }
        let end = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Hex helpers

    /// Lowercase hexadecimal of arbitrary bytes.
    public static func encodeHex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hexadecimal text of even length, either case; anything else is an error.
    public static func decodeHex(_ text: some StringProtocol) throws(BigIntError) -> [UInt8] {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.count % 2 == 0 else { throw .invalidHex }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else {
                throw .invalidHex
            }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}

// MARK: - Uniform random values

// `package`: this module cannot see TelemedCrypto's CryptographicRandomNumberGenerator marker,
// so a public version would take any generator. Embedding programs draw secrets through
// TelemedGroup.randomScalar(using:), which demands the marker.

extension BigInt {
    /// A uniformly distributed integer in `0 ..< bound`, drawn from `generator` by rejection
    /// sampling over the bit length of `bound` (no modulo bias).
    package static func random<G: RandomNumberGenerator>(
        below bound: BigInt, using generator: inout G
    ) throws(BigIntError) -> BigInt {
        guard bound.signum > 0 else { throw .nonPositiveBound }
        let bits = (bound - .one).bitWidth
        if bits == 0 { return .zero }
        let byteCount = (bits + 7) / 8
        let topMask: UInt8 = bits % 8 == 0 ? 0xff : UInt8((1 << (bits % 8)) - 1)
        var buffer = [UInt8](repeating: 0, count: byteCount)
        // Each draw succeeds with probability above 1/2; the loop ends almost surely.
        while true {
            fill(&buffer, using: &generator)
            buffer[0] &= topMask
            let candidate = BigInt(bigEndian: buffer)
            if candidate < bound {
                wipe(&buffer)
                return candidate
            }
        }
    }

    /// A uniformly distributed integer in `lower ... upper`.
    package static func random<G: RandomNumberGenerator>(
        in lower: BigInt, _ upper: BigInt, using generator: inout G
    ) throws(BigIntError) -> BigInt {
        guard upper >= lower else { throw .nonPositiveBound }
        return lower + (try random(below: upper - lower + .one, using: &generator))
    }

    static func fill<G: RandomNumberGenerator>(_ buffer: inout [UInt8], using generator: inout G) {
        var index = 0
        while index < buffer.count {
            var word = generator.next()
            for _ in 0..<8 where index < buffer.count {
                buffer[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
    }

    /// Zeroes `buffer` through ``SecureMemory/wipe(_:)-([UInt8])`` (a volatile store loop the
    /// optimiser keeps).
    static func wipe(_ buffer: inout [UInt8]) {
        SecureMemory.wipe(&buffer)
    }
}
