import TelemedBigInt

// MARK: - LowercaseHex

/// The wire's hexadecimal: lowercase digits only, two per byte. A validation wrapper around the
/// package's one hex codec (`BigInt.decodeHex` / `BigInt.encodeHex` in TelemedBigInt): that
/// codec reads either case, the wire admits lowercase only (PROTOCOL.md §4), so uppercase is
/// refused here before decoding. The empty string is zero bytes (a length rule, not this
/// type, decides whether a field may be empty).
enum LowercaseHex {
    /// Decodes `text` (UTF-8 bytes) if it is even-length lowercase hex, else nil.
    static func decode(_ text: [UInt8]) -> [UInt8]? {
        if text.isEmpty { return [] }
        guard !text.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) }) else { return nil }
        return try? BigInt.decodeHex(String(decoding: text, as: UTF8.self))
    }

    /// Lowercase hex of `bytes`.
    static func encode(_ bytes: [UInt8]) -> [UInt8] {
        Array(BigInt.encodeHex(bytes).utf8)
    }
}
