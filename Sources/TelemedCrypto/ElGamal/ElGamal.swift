/// ElGamal encryption of subgroup elements (PROTOCOL.md §4): c1 = g^k, c2 = M·y^k mod p.
public enum ElGamal {
    /// Encrypts `element` to `key` with k uniform in [1, q − 1] from `rng`.
    ///
    /// - Precondition: `element` is a valid element of the key's group.
    public static func encrypt(
        _ element: BigInt, to key: PublicKey, using rng: inout some CryptographicRandomNumberGenerator
    ) -> ElGamalCiphertext {
        encrypt(element, to: key, ephemeral: key.group.randomScalar(using: &rng))
    }

    /// Encrypts with an explicit ephemeral k (known-answer tests). `package`: outside this
    /// package the ephemeral always comes from ``encrypt(_:to:using:)``.
    ///
    /// - Precondition: `element` is a valid element and `1 ≤ k ≤ q − 1`.
    package static func encrypt(_ element: BigInt, to key: PublicKey, ephemeral k: BigInt) -> ElGamalCiphertext {
        let group = key.group
        switch group.exponentiation {
        case .reference:
            precondition(group.isValidElement(element), "ElGamal encrypts valid subgroup elements only")
        case .accelerated:
            // The full check costs a 256-bit exponentiation on every handshake for a value the
            // caller built as g^t. Release builds check the range only; a non-element would
            // make c2 a non-element, which every receiver rejects (R-ELEM).
            precondition(group.isInElementRange(element), "ElGamal encrypts valid subgroup elements only")
            assert(group.isValidElement(element), "ElGamal encrypts valid subgroup elements only")
        }
        precondition(k.signum > 0 && k < group.q, "the ephemeral must be in [1, q − 1]")
        let c1 = group.generatorPowerSecure(k)
        let c2 = element.multipliedMod(key.powerSecure(k), group.p)
        return ElGamalCiphertext(c1: c1, c2: c2)
    }
}
