// Explicit-parameter arithmetic for checking this module against other implementations'
// vectors. NOT for protocol use: nothing here validates its inputs as the protocol requires,
// and the textbook functions work in the whole of Z_p^* with exponents mod p − 1.
//
// The §4 pieces (`rfc6979Nonce`, `subgroupSign`, `isValidElement`, the AES-GCM pair) call the
// same internal code the real signer, loader and SealedChannel use.

import Crypto

/// Known-answer-test layer: textbook ElGamal with explicit p, g, x, k, and entry points into
/// the real RFC 6979, §4 signing, element check and AES-256-GCM code. `package`: only this
/// package's test targets reach it; it is not part of the library's public surface.
package enum KnownAnswerTestsOnly {
    // MARK: - Textbook ElGamal encryption

    /// c1 = g^k mod p, c2 = m·y^k mod p.
    package static func encrypt(p: BigInt, g: BigInt, y: BigInt, m: BigInt, k: BigInt) -> ElGamalCiphertext {
        precondition(p > .one && !k.isNegative, "textbook encryption needs p > 1 and k ≥ 0")
        return ElGamalCiphertext(c1: g.powMod(k, p), c2: m.multipliedMod(y.powMod(k, p), p))
    }

    /// m = c2 · (c1^x)^-1 mod p, or nil when c1^x has no inverse mod p.
    package static func decrypt(p: BigInt, x: BigInt, c1: BigInt, c2: BigInt) -> BigInt? {
        precondition(p > .one && !x.isNegative, "textbook decryption needs p > 1 and x ≥ 0")
        guard let inverse = c1.powMod(x, p).inverse(modulo: p) else { return nil }
        return c2.multipliedMod(inverse, p)
    }

    // MARK: - Textbook ElGamal signature (PyCryptodome / libgcrypt)

    /// r = g^k mod p, s = (h − x·r)·k^-1 mod (p − 1), h used raw (not hashed); nil when k
    /// has no inverse mod p − 1.
    package static func sign(p: BigInt, g: BigInt, x: BigInt, k: BigInt, h: BigInt) -> Signature? {
        precondition(p > BigInt(2) && !k.isNegative, "textbook signing needs p > 2 and k ≥ 0")
        let order = p - .one
        guard let kInverse = k.inverse(modulo: order) else { return nil }
        let r = g.powMod(k, p)
        let s = (h - x * r).modulo(order).multipliedMod(kInverse, order)
        return Signature(r: r, s: s)
    }

    /// 0 < r < p, 0 < s < p − 1 and y^r · r^s ≡ g^h (mod p). Total on every input.
    package static func verify(p: BigInt, g: BigInt, y: BigInt, h: BigInt, signature: Signature) -> Bool {
        guard p > BigInt(2), !h.isNegative else { return false }
        let (r, s) = (signature.r, signature.s)
        guard r.signum > 0, r < p, s.signum > 0, s < p - .one else { return false }
        let left = y.powMod(r, p).multipliedMod(r.powMod(s, p), p)
        return left == g.powMod(h, p)
    }

    // MARK: - RFC 6979 (the signer's own generator)

    /// The first RFC 6979 §3.2 candidate k for (q, x, h1), HMAC-SHA-256, with k' appended as
    /// in §3.6 when `extraEntropy` is given. Works for any q (qlen need not be 256).
    package static func rfc6979Nonce(q: BigInt, x: BigInt, h1: [UInt8], extraEntropy: [UInt8]? = nil) -> BigInt {
        rfc6979Nonces(q: q, x: x, h1: h1, extraEntropy: extraEntropy, count: 1)[0]
    }

    /// The first `count` candidates of the same sequence (step h.3 between them).
    package static func rfc6979Nonces(
        q: BigInt, x: BigInt, h1: [UInt8], extraEntropy: [UInt8]? = nil, count: Int
    ) -> [BigInt] {
        precondition(count > 0, "ask for at least one nonce")
        var generator = RFC6979NonceGenerator(q: q, x: x, h1: h1, extraEntropy: extraEntropy ?? [])
        return (0..<count).map { _ in generator.next() }
    }

    // MARK: - §4 subgroup signatures with explicit secrets

    /// The §4 signature over SHA-256(`message`) with explicit x and k; nil when r' = 0 or s = 0.
    package static func subgroupSign(group: TelemedGroup, x: BigInt, k: BigInt, message: [UInt8]) -> Signature? {
        precondition(x.signum > 0 && x < group.q && k.signum > 0 && k < group.q, "x and k must be in [1, q − 1]")
        return SubgroupSignature.sign(h1: Hashing.sha256(message).bytes, x: x, k: k, group: group)
    }

    /// The real §4 signer (RFC 6979 nonces hedged with `extraEntropy`) with an explicit x.
    package static func subgroupSign(group: TelemedGroup, x: BigInt, message: [UInt8], extraEntropy: [UInt8]) -> Signature {
        precondition(x.signum > 0 && x < group.q, "x must be in [1, q − 1]")
        return SubgroupSignature.sign(
            h1: Hashing.sha256(message).bytes, x: x, group: group, extraEntropy: extraEntropy)
    }

    // MARK: - Element check on explicit parameters

    /// The §4 element check `1 < z < p − 1`, `z^q ≡ 1 (mod p)` for any (p, q) — e.g. the NIST
    /// KAS-FFC groups, whose q is not 256 bits. Total on every input.
    package static func isValidElement(_ z: BigInt, p: BigInt, q: BigInt) -> Bool {
        ElementCheck.isValid(z, p: p, q: q)
    }

    // MARK: - AES-256-GCM with an explicit nonce

    /// The SealedChannel code path with an explicit 12-byte nonce: ciphertext ‖ 16-byte tag.
    ///
    /// - Throws: ``CryptoError/invalidKeyLength`` or ``CryptoError/wrongLength(expected:actual:)``.
    package static func aes256GCMSeal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        let symmetric = try symmetricKey(key, nonce: nonce)
        return GCMCore.seal(plaintext, key: symmetric, nonce: nonce, aad: aad)
    }

    /// The SealedChannel opening path with an explicit 12-byte nonce.
    ///
    /// - Throws: ``CryptoError/authenticationFailure``, or a length error for key or nonce.
    package static func aes256GCMOpen(key: [UInt8], nonce: [UInt8], ciphertextAndTag: [UInt8], aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        let symmetric = try symmetricKey(key, nonce: nonce)
        return try GCMCore.open(ciphertextAndTag, key: symmetric, nonce: nonce, aad: aad)
    }

    private static func symmetricKey(_ key: [UInt8], nonce: [UInt8]) throws(CryptoError) -> SymmetricKey {
        guard key.count == 32 else { throw .invalidKeyLength }
        guard nonce.count == 12 else { throw .wrongLength(expected: 12, actual: nonce.count) }
        return SymmetricKey(data: key)
    }
}
