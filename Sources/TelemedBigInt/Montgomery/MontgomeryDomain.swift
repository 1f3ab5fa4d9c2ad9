// Montgomery arithmetic modulo one fixed odd modulus, on raw GMP limb vectors.
//
// Theory of operation: a residue a is kept as the n-limb vector a·R mod m (R = 2^(64n)), so a
// modular product is one n×n multiplication and one Montgomery reduction (the C helpers in
// CGMP/shim.h) instead of a multiplication and a long division. A domain owns the modulus,
// −m^-1 mod 2^64, R mod m (the residue 1) and R² mod m (for converting into the domain); it
// is immutable after `init` and shared by every table and exponentiation over that modulus.
// Callers hand in their own scratch (`Workspace`), so a domain is safe to share across threads.

import CGMP

/// Montgomery arithmetic modulo a fixed odd modulus (see the theory of operation). Build one
/// per modulus and reuse it: it precomputes R mod m and R² mod m.
///
/// `Testing` SPI: TelemedCrypto builds its groups on it, and the tests and benchmarks measure
/// it directly; an embedding program uses the groups instead.
@_spi(Testing) public final class MontgomeryDomain: @unchecked Sendable {
    /// The modulus.
    public let modulus: BigInt
    /// Limbs per residue.
    let limbCount: Int
    /// −m^-1 mod 2^64.
    let minv: mp_limb_t
    /// m, n limbs.
    let modulusLimbs: UnsafeMutablePointer<mp_limb_t>
    /// R mod m: the residue 1.
    let oneLimbs: UnsafeMutablePointer<mp_limb_t>
    /// R² mod m.
    let rSquaredLimbs: UnsafeMutablePointer<mp_limb_t>

    /// Prepares arithmetic modulo `modulus`.
    ///
    /// - Precondition: `modulus` is odd and greater than 1.
    public init(modulus: BigInt) {
        precondition(modulus > .one && modulus.isOdd, "Montgomery arithmetic needs an odd modulus above 1")
        self.modulus = modulus
        let n = __gmpz_size(modulus.raw)
        limbCount = n
        modulusLimbs = .allocate(capacity: n)
        oneLimbs = .allocate(capacity: n)
        rSquaredLimbs = .allocate(capacity: n)
        MontgomeryDomain.copyLimbs(of: modulus, into: modulusLimbs, count: n)
        // Newton's iteration doubles the correct low bits of m^-1 mod 2^64 each round.
        let m0 = modulusLimbs[0]
        var inverse: mp_limb_t = 1
        for _ in 0..<7 { inverse = inverse &* (2 &- m0 &* inverse) }
        minv = 0 &- inverse
        let bits = n * MemoryLayout<mp_limb_t>.size * 8
        let r = BigInt.one.shiftedLeft(bits).modulo(modulus)
        let r2 = BigInt.one.shiftedLeft(2 * bits).modulo(modulus)
        MontgomeryDomain.copyLimbs(of: r, into: oneLimbs, count: n)
        MontgomeryDomain.copyLimbs(of: r2, into: rSquaredLimbs, count: n)
    }

    deinit {
        modulusLimbs.deallocate()
        oneLimbs.deallocate()
        rSquaredLimbs.deallocate()
    }

    // MARK: - Public operations

    /// Π bases[i]^exponents[i] mod m for PUBLIC exponents (interleaved sliding windows).
    ///
    /// - Precondition: one non-negative exponent per base, at least one base.
    public func multiPower(_ bases: [BigInt], _ exponents: [BigInt]) -> BigInt {
        MultiExponentiation(domain: self).power(bases, exponents)
    }

    /// A fixed-base table for `base` in this domain (see ``FixedBaseTable``).
    public func fixedBaseTable(for base: BigInt, exponentBits: Int, windowBits: Int = 4) -> FixedBaseTable {
        FixedBaseTable(base: base, domain: self, exponentBits: exponentBits, windowBits: windowBits)
    }

    // MARK: - Scratch

    /// Per-call scratch: a 2n-limb product buffer and the secure multiply's scratch.
    struct Workspace {
        let product: UnsafeMutablePointer<mp_limb_t>
        let scratch: UnsafeMutablePointer<mp_limb_t>
        let scratchCount: Int

        init(limbCount n: Int) {
            product = .allocate(capacity: 2 * n)
            scratchCount = Int(cgmp_mont_sec_itch(n))
            scratch = .allocate(capacity: scratchCount)
        }

        /// Wipes and frees the buffers (they may have held secret-dependent values).
        func release(limbCount n: Int) {
            SecureMemory.wipe(product, count: 2 * n)
            SecureMemory.wipe(scratch, count: scratchCount)
            product.deallocate()
            scratch.deallocate()
        }
    }

    // MARK: - Multiplication

    /// r = a·b·R^-1 mod m with GMP's fastest multiplication. Public operands only.
    @inline(__always)
    func multiplyPublic(_ r: UnsafeMutablePointer<mp_limb_t>, _ a: UnsafePointer<mp_limb_t>,
                        _ b: UnsafePointer<mp_limb_t>, _ w: Workspace) {
        cgmp_mont_mul_fast(r, a, b, modulusLimbs, limbCount, minv, w.product, w.scratch)
    }

    /// r = a·b·R^-1 mod m in time and memory access independent of the limb values.
    @inline(__always)
    func multiplySecure(_ r: UnsafeMutablePointer<mp_limb_t>, _ a: UnsafePointer<mp_limb_t>,
                        _ b: UnsafePointer<mp_limb_t>, _ w: Workspace) {
        cgmp_mont_mul_sec(r, a, b, modulusLimbs, limbCount, minv, w.product, w.scratch)
    }

    // MARK: - Conversion

    /// Writes value·R mod m (the value is first reduced mod m).
    func enter(_ value: BigInt, into r: UnsafeMutablePointer<mp_limb_t>, _ w: Workspace) {
        let reduced = value.isNegative || value >= modulus ? value.modulo(modulus) : value
        let plain = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: limbCount)
        defer { plain.deallocate() }
        MontgomeryDomain.copyLimbs(of: reduced, into: plain, count: limbCount)
        multiplyPublic(r, plain, rSquaredLimbs, w)
    }

    /// Writes value·R mod m for a secret value, with the secure multiplication.
    func enterSecure(_ value: BigInt, into r: UnsafeMutablePointer<mp_limb_t>, _ w: Workspace) {
        let reduced = value.isNegative || value >= modulus ? value.modulo(modulus) : value
        let plain = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: limbCount)
        defer {
            SecureMemory.wipe(plain, count: limbCount)
            plain.deallocate()
        }
        MontgomeryDomain.copyLimbs(of: reduced, into: plain, count: limbCount)
        multiplySecure(r, plain, rSquaredLimbs, w)
    }

    /// The ordinary integer a·R^-1 mod m for a residue a (in time independent of its value).
    func leave(_ a: UnsafePointer<mp_limb_t>, _ w: Workspace) -> BigInt {
        let n = limbCount
        w.product.update(from: a, count: n)
        (w.product + n).update(repeating: 0, count: n)
        return BigInt { z in
            guard let limbs = __gmpz_limbs_write(z, n) else {
                preconditionFailure("GMP returned no limb storage")
            }
            cgmp_mont_redc(limbs, w.product, modulusLimbs, n, minv, w.scratch)
            __gmpz_limbs_finish(z, n)
        }
    }

    /// Copies the low `count` limbs of a non-negative value, zero-padding above its size.
    static func copyLimbs(of value: BigInt, into target: UnsafeMutablePointer<mp_limb_t>, count: Int) {
        precondition(!value.isNegative, "only non-negative values have limb vectors here")
        let size = __gmpz_size(value.raw)
        precondition(size <= count, "value wider than the limb vector")
        if size > 0, let source = __gmpz_limbs_read(value.raw) {
            target.update(from: source, count: size)
        }
        (target + size).update(repeating: 0, count: count - size)
    }
}
