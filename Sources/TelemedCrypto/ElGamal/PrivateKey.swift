/// An ElGamal private key x ∈ [1, q − 1] with its public key. Its description is redacted.
public struct PrivateKey: Sendable {
    // MARK: - State

    /// The key's group.
    public let group: TelemedGroup
    /// y = g^x.
    public let publicKey: PublicKey
    private let x: BigInt

    // MARK: - Construction

    /// A fresh key: x uniform in [1, q − 1], y = g^x (constant-time).
    public init(generatingIn group: TelemedGroup, using rng: inout some CryptographicRandomNumberGenerator) {
        self.init(trusted: group, x: group.randomScalar(using: &rng))
    }

    /// Loads int2octets(x): exactly 32 bytes with x in [1, q − 1].
    ///
    /// - Throws: ``CryptoError/wrongLength(expected:actual:)`` or ``CryptoError/scalarOutOfRange``.
    public init(group: TelemedGroup, scalarBytes: [UInt8]) throws(CryptoError) {
        guard scalarBytes.count == TelemedGroup.scalarLength else {
            throw .wrongLength(expected: TelemedGroup.scalarLength, actual: scalarBytes.count)
        }
        let x = BigInt(bigEndian: scalarBytes)
        guard x.signum > 0, x < group.q else { throw .scalarOutOfRange }
        self.init(trusted: group, x: x)
    }

    private init(trusted group: TelemedGroup, x: BigInt) {
        self.group = group
        self.x = x
        self.publicKey = PublicKey(trusted: group, y: group.generatorPowerSecure(x))
    }

    /// int2octets(x): 32 bytes (key files, the k_gk derivation). Handle as a secret.
    public var scalarBytes: [UInt8] { group.encodeScalar(x) }

    /// x itself, for the hedged ephemerals of this module (never leaves it).
    var secretScalar: BigInt { x }

    /// Decrypts (c1, c2) like ``decrypt(_:)`` and returns the element as a secret
    /// (K or K_GWN in version 2, PROTOCOL.md §8.4).
    ///
    /// - Throws: ``CryptoError/invalidElement``.
    public func decryptSecret(_ ciphertext: ElGamalCiphertext) throws(CryptoError) -> ElementSecret {
        ElementSecret(try decrypt(ciphertext), in: group)
    }

    // MARK: - Signing

    /// Signs `message` (§4) with an RFC 6979 nonce hedged with 32 fresh bytes from `rng`.
    public func sign(_ message: [UInt8], using rng: inout some CryptographicRandomNumberGenerator) -> Signature {
        sign(message, extraEntropy: rng.bytes(32))
    }

    /// Signs `message` (§4) with an explicit k' (the worked example, tests, benchmarks).
    /// `Testing` SPI: production signs through ``sign(_:using:)``, which draws k' itself.
    @_spi(Testing) public func sign(_ message: [UInt8], extraEntropy: [UInt8]) -> Signature {
        SubgroupSignature.sign(
            h1: Hashing.sha256(message).bytes, x: x, group: group, extraEntropy: extraEntropy)
    }

    // MARK: - Decryption

    /// Decrypts (c1, c2) to the element M = c2 · (c1^x)^-1 mod p. c1 and c2 are validated
    /// before x touches them, and M must itself be a valid element (R-ELEM).
    ///
    /// - Throws: ``CryptoError/invalidElement``.
    public func decrypt(_ ciphertext: ElGamalCiphertext) throws(CryptoError) -> BigInt {
        guard group.isValidElement(ciphertext.c1), group.isValidElement(ciphertext.c2) else {
            throw .invalidElement
        }
        // c1 has order q, so c1^(q − x) = (c1^x)^-1: one constant-time exponentiation and no
        // variable-time inversion of the secret shared value.
        let inverseShared = ciphertext.c1.powModSecure(group.q - x, group.p)
        let element = ciphertext.c2.multipliedMod(inverseShared, group.p)
        switch group.exponentiation {
        case .reference:
            guard group.isValidElement(element) else { throw .invalidElement }
        case .accelerated:
            // c1 and c2 lie in the order-q subgroup, so M = c2·c1^(q−x) does too: M^q ≡ 1 holds
            // without computing it. The range half of the check remains (it excludes M = 1).
            guard group.isInElementRange(element) else { throw .invalidElement }
        }
        return element
    }
}

// MARK: - Redaction

extension PrivateKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Names the group and the public key only.
    public var description: String { "PrivateKey(group: \(group.name), x: <redacted>)" }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// A mirror without the secret scalar.
    public var customMirror: Mirror {
        Mirror(self, children: ["group": group.name, "x": "<redacted>"], displayStyle: .struct)
    }
}
