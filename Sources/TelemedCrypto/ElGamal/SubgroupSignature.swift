// Hash-then-sign ElGamal in the order-q subgroup (PROTOCOL.md §4 "Signatures"):
//
//   h1 = SHA-256(signed bytes); e = int(h1) mod q
//   k from RFC 6979 (HMAC-SHA-256, hedged with k'); r = g^k mod p; r' = r mod q
//   s = k^-1 · (e − x·r') mod q; if r' = 0 or s = 0, the next RFC 6979 candidate
//   verify: r valid element, r' ≠ 0, 0 < s < q, g^e ≡ y^r' · r^s (mod p)
//
// Every secret exponentiation (g^k, and k^-1 computed as k^(q−2) mod q) is constant-time:
// g^k by the group's comb with masked table scans (or mpz_powm_sec under the reference
// strategy), k^(q−2) by mpz_powm_sec. Verification handles public values only: g^e comes
// from the fixed-base table and y^r'·r^s from one simultaneous multi-exponentiation.

@_spi(Testing) import TelemedBigInt

/// The §4 signature arithmetic shared by ``PrivateKey``, ``PublicKey`` and the known-answer layer.
enum SubgroupSignature {
    /// e = int(h1) mod q.
    static func challenge(_ h1: [UInt8], group: TelemedGroup) -> BigInt {
        BigInt(bigEndian: h1).modulo(group.q)
    }

    /// Signs the digest `h1` with x, nonces from RFC 6979 hedged with `extraEntropy`.
    static func sign(h1: [UInt8], x: BigInt, group: TelemedGroup, extraEntropy: [UInt8]) -> Signature {
        var nonces = RFC6979NonceGenerator(q: group.q, x: x, h1: h1, extraEntropy: extraEntropy)
        while true {
            let k = nonces.next()
            if let signature = sign(h1: h1, x: x, k: k, group: group) { return signature }
        }
    }

    /// One signing attempt with an explicit k; nil when r' = 0 or s = 0.
    static func sign(h1: [UInt8], x: BigInt, k: BigInt, group: TelemedGroup) -> Signature? {
        let q = group.q
        let r = group.generatorPowerSecure(k)
        let rPrime = r.modulo(q)
        guard !rPrime.isZero else { return nil }
        let kInverse = k.powModSecure(group.engine.qMinusTwo, q)
        let e = challenge(h1, group: group)
        let s = kInverse.multipliedMod((e - x.multipliedMod(rPrime, q)).modulo(q), q)
        guard !s.isZero else { return nil }
        return Signature(r: r, s: s)
    }

    /// The §4 check, in the order the spec gives; total on every input.
    static func verify(h1: [UInt8], y: BigInt, signature: Signature, group: TelemedGroup) -> Bool {
        let (p, q) = (group.p, group.q)
        guard group.isValidElement(signature.r) else { return false }
        let rPrime = signature.r.modulo(q)
        guard !rPrime.isZero else { return false }
        guard signature.s.signum > 0, signature.s < q else { return false }
        let e = challenge(h1, group: group)
        switch group.exponentiation {
        case .reference:
            let left = group.g.powMod(e, p)
            let right = y.powMod(rPrime, p).multipliedMod(signature.r.powMod(signature.s, p), p)
            return left == right
        case .accelerated:
            let left = group.generatorPower(e)
            let right = group.engine.domain.multiPower([y, signature.r], [rPrime, signature.s])
            return left == right
        }
    }
}
