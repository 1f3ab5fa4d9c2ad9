import Crypto

/// SHA-256 and HMAC-SHA-256 (swift-crypto).
public enum Hashing {
    /// SHA-256 of `data`.
    public static func sha256(_ data: some Sequence<UInt8>) -> Bytes32 {
        Bytes32(exactly: Array(SHA256.hash(data: Array(data))))
    }

    /// HMAC-SHA-256 of `message` under `key` (any key length, as RFC 2104 allows).
    public static func hmacSHA256(key: some Sequence<UInt8>, message: some Sequence<UInt8>) -> Bytes32 {
        let code = HMAC<SHA256>.authenticationCode(
            for: Array(message), using: SymmetricKey(data: Array(key)))
        return Bytes32(exactly: Array(code))
    }
}
