import Crypto

/// HKDF-SHA-256 (RFC 5869, swift-crypto).
public enum KeyDerivation {
    /// The longest output HKDF-SHA-256 can produce: 255 blocks of 32 bytes.
    public static let maximumOutputByteCount = 255 * 32

    /// HKDF-SHA-256 with an empty salt, the raw ASCII bytes of `info`, 32 bytes of output
    /// (PROTOCOL.md §4: k_d2p, k_p2d, k_gk). Key in, key out: the material stays in
    /// swift-crypto's zeroed-on-free storage.
    package static func hkdf32(ikm: SymmetricKey, info: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: [UInt8](), info: Array(info.utf8), outputByteCount: 32)
    }

    /// General HKDF-SHA-256 (extract then expand), for public inputs and the known-answer
    /// tests (RFC 5869 and Wycheproof inputs); `hkdf32(ikm:info:)` is it with fixed arguments.
    ///
    /// - Precondition: `1 ≤ outputByteCount ≤ maximumOutputByteCount`.
    public static func hkdfSHA256(
        ikm: some Sequence<UInt8>, salt: [UInt8], info: [UInt8], outputByteCount: Int
    ) -> [UInt8] {
        precondition(
            (1...maximumOutputByteCount).contains(outputByteCount),
            "HKDF-SHA-256 output must be 1…8160 bytes")
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(ikm)), salt: salt, info: info,
            outputByteCount: outputByteCount)
        return key.withUnsafeBytes { Array($0) }
    }
}
