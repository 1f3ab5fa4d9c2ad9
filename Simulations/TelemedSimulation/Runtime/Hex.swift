import TelemedBigInt

// MARK: - Hex

/// The simulator's hex (scenario `raw` frames, tampered fields, the leak scan), through the
/// package's one codec in TelemedBigInt. Scenario files may write either case; output is
/// lowercase.
enum Hex {
    /// Lowercase hex of `bytes`.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        BigInt.encodeHex(bytes)
    }

    /// The bytes of even-length hex text in either case (empty text is zero bytes), else nil.
    static func decode(_ text: String) -> [UInt8]? {
        text.isEmpty ? [] : try? BigInt.decodeHex(text)
    }
}
