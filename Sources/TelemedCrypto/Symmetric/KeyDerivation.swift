import Crypto

/// HKDF-SHA-256 (RFC 5869, swift-crypto).
public enum KeyDerivation {
    /// The longest output HKDF-SHA-256 can produce: 255 blocks of 32 bytes.
    public static let maximumOutputByteCount = 255 * 32

    /// HKDF-SHA-256 with an empty salt, the raw ASCII bytes of `info`, 32 bytes of output
    /// (PROTOCOL.md §4: k_d2p, k_p2d, k_gk).
    public static func hkdf32(ikm: some Sequence<UInt8>, info: String) -> SymmetricKey32 {
        let okm = hkdfSHA256(ikm: ikm, salt: [], info: Array(info.utf8), outputByteCount: 32)
        return SymmetricKey32(Bytes32(exactly: okm))
    }

    /// General HKDF-SHA-256 (extract then expand). `hkdf32` is this with fixed arguments;
    /// the known-answer tests use it with the RFC 5869 and Wycheproof inputs.
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
