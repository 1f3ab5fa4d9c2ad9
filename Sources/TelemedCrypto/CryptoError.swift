@_exported import TelemedBigInt

/// Every way a cryptographic input can be wrong. Cases never carry secret material.
public enum CryptoError: Error, Equatable, Sendable {
    /// A fixed-width value had the wrong number of bytes.
    case wrongLength(expected: Int, actual: Int)
    /// A group element failed `1 < z < p−1` or `z^q ≡ 1 (mod p)`.
    case invalidElement
    /// A scalar was outside its range (`[1, q−1]` for keys, `(0, q)` for `s`).
    case scalarOutOfRange
    /// The group loader rejected a set of parameters; the text names the failed check.
    case invalidGroup(String)
    /// No named group has this name.
    case unknownGroup(String)
    /// AES-GCM refused to open a ciphertext (wrong key, nonce, AAD, tag, or truncated).
    case authenticationFailure
    /// A symmetric key did not have 32 bytes.
    case invalidKeyLength
    /// Text that should encode a value (hex in a key file, say) did not.
    case malformedEncoding(String)
}
