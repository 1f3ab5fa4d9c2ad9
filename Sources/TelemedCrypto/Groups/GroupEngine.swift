// The precomputed arithmetic of one group: its Montgomery domain mod p, the fixed-base table
// for g, and the constants the hot paths would otherwise rebuild on every call.
//
// Built once per group value (the named groups once per process) and shared by every copy of
// the group, every key in it and every machine using it; immutable afterwards.
//
// The Montgomery layer is TelemedBigInt's `Testing` SPI: this module, the tests and the
// benchmarks import it; an embedding program sees only the groups built on it.

@_spi(Testing) import TelemedBigInt

/// How a group's exponentiations are computed. Both strategies give identical results.
public enum ExponentiationStrategy: String, Sendable, Hashable, CaseIterable {
    /// Fixed-base tables for g (and for public keys prepared with
    /// ``PublicKey/precomputingEncryptionTable()``), a constant-time comb with masked table
    /// scans for secret exponents of g, simultaneous multi-exponentiation for verification,
    /// and no element check that the algebra already implies.
    case accelerated
    /// Plain GMP as before the optimisation: `mpz_powm` for public exponents, `mpz_powm_sec`
    /// for secret ones, and every element check done by exponentiation. The benchmark's
    /// "before" figure; also a cross-check in tests.
    case reference
}

/// A group's precomputation (see the file comment).
final class GroupEngine: Sendable {
    /// Montgomery arithmetic mod p.
    let domain: MontgomeryDomain
    /// g^e for e < 2^bitWidth(q).
    let generatorTable: FixedBaseTable
    /// p − 1 (the upper bound of the element range).
    let pMinusOne: BigInt
    /// q − 2 (Fermat inversion mod q).
    let qMinusTwo: BigInt

    init(p: BigInt, q: BigInt, g: BigInt) {
        domain = MontgomeryDomain(modulus: p)
        generatorTable = domain.fixedBaseTable(for: g, exponentBits: q.bitWidth, windowBits: 4)
        pMinusOne = p - .one
        qMinusTwo = q - BigInt(2)
    }
}
