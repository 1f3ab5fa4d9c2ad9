import TelemedBigInt

/// The tests' hex and number text, all through TelemedBigInt's one hex codec
/// (`BigInt.decodeHex` / `BigInt.encodeHex`).
public enum TestHex {
    /// Bytes of hex text, either case; white space anywhere is ignored, and empty text is zero
    /// bytes. Odd length or a non-hex digit throws `BigIntError.invalidHex`.
    public static func bytes(_ text: String) throws -> [UInt8] {
        let digits = text.filter { !$0.isWhitespace }
        return digits.isEmpty ? [] : try BigInt.decodeHex(digits)
    }

    /// Lowercase hex of `bytes`.
    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        BigInt.encodeHex(bytes)
    }

    /// A non-negative integer from hex text (empty is zero, odd length allowed).
    public static func int(_ text: String) throws -> BigInt {
        let digits = text.filter { !$0.isWhitespace }
        return BigInt(bigEndian: try bytes(digits.count % 2 == 1 ? "0" + digits : digits))
    }

    /// Botan's number syntax: `0x…` hexadecimal, otherwise decimal.
    public static func botanNumber(_ text: String) throws -> BigInt {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return try int(String(text.dropFirst(2))) }
        return try BigInt(decimal: text)
    }
}
