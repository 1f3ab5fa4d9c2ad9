#ifndef TELEMED_CGMP_SHIM_H
#define TELEMED_CGMP_SHIM_H

#include <gmp.h>

// Swift cannot import GMP's function-like macros; these inline wrappers expose them.

static inline int cgmp_sgn(const mpz_t op) { return mpz_sgn(op); }
static inline int cgmp_odd_p(const mpz_t op) { return mpz_odd_p(op); }
static inline int cgmp_even_p(const mpz_t op) { return mpz_even_p(op); }
static inline int cgmp_cmp_ui(const mpz_t op, unsigned long v) { return mpz_cmp_ui(op, v); }
static inline int cgmp_cmp_si(const mpz_t op, long v) { return mpz_cmp_si(op, v); }
static inline int cgmp_legendre(const mpz_t a, const mpz_t p) { return mpz_legendre(a, p); }
static inline size_t cgmp_limb_bytes(void) { return sizeof(mp_limb_t); }

// MARK: - Montgomery arithmetic on limb vectors
//
// Residues are n-limb vectors below an odd n-limb modulus m; R = 2^(64·n) on 64-bit limbs.
// `minv` is −m^-1 mod 2^GMP_NUMB_BITS. Every helper below runs a sequence of GMP calls that
// depends only on n (and, for the `_fast` variant, on whether the operands are the same
// pointer), never on limb values: mpn_addmul_1, mpn_add_n, mpn_sub_n and mpn_cnd_swap have
// data-independent timing, and the `_sec` multiply uses GMP's side-channel-silent
// mpn_sec_mul / mpn_sec_sqr. The `_fast` multiply uses mpn_mul_n / mpn_sqr, whose
// Karatsuba/Toom branches can depend on values: use it for public operands only.

/// Scratch limbs `cgmp_mont_mul_sec` needs beyond the 2n-limb product buffer.
static inline mp_size_t cgmp_mont_sec_itch(mp_size_t n) {
    mp_size_t a = mpn_sec_mul_itch(n, n);
    mp_size_t b = mpn_sec_sqr_itch(n);
    mp_size_t c = a > b ? a : b;
    return c > n ? c : n;
}

/// Montgomery reduction: rp = tp · R^-1 mod m, fully reduced. tp holds 2n limbs (destroyed),
/// the value below m·R; sp is n limbs of scratch. rp may alias neither tp nor sp.
static inline void cgmp_mont_redc(mp_limb_t *rp, mp_limb_t *tp, const mp_limb_t *mp,
                                  mp_size_t n, mp_limb_t minv, mp_limb_t *sp) {
    for (mp_size_t i = 0; i < n; i++) {
        mp_limb_t u = tp[i] * minv;
        // tp[i] becomes zero; keep the carry there and add all carries in one pass below.
        tp[i] = mpn_addmul_1(tp + i, mp, n, u);
    }
    mp_limb_t carry = mpn_add_n(rp, tp + n, tp, n);
    mp_limb_t borrow = mpn_sub_n(sp, rp, mp, n);
    // The sum is below 2m: subtract m once exactly when it overflowed R or is at least m.
    mpn_cnd_swap((carry | (borrow ^ 1)) & 1, rp, sp, n);
}

/// rp = ap · bp · R^-1 mod m with side-channel-silent GMP multiplication. tp: 2n limbs;
/// sp: cgmp_mont_sec_itch(n) limbs. rp may equal ap or bp.
static inline void cgmp_mont_mul_sec(mp_limb_t *rp, const mp_limb_t *ap, const mp_limb_t *bp,
                                     const mp_limb_t *mp, mp_size_t n, mp_limb_t minv,
                                     mp_limb_t *tp, mp_limb_t *sp) {
    mpn_sec_mul(tp, ap, n, bp, n, sp);
    cgmp_mont_redc(rp, tp, mp, n, minv, sp);
}

/// rp = ap · bp · R^-1 mod m with GMP's fastest multiplication (public operands only).
/// tp: 2n limbs; sp: n limbs. rp may equal ap or bp.
static inline void cgmp_mont_mul_fast(mp_limb_t *rp, const mp_limb_t *ap, const mp_limb_t *bp,
                                      const mp_limb_t *mp, mp_size_t n, mp_limb_t minv,
                                      mp_limb_t *tp, mp_limb_t *sp) {
    if (ap == bp) {
        mpn_sqr(tp, ap, n);
    } else {
        mpn_mul_n(tp, ap, bp, n);
    }
    cgmp_mont_redc(rp, tp, mp, n, minv, sp);
}

/// Constant-time table read: rp = entry `which` of `count` entries of n limbs each, reading
/// every entry (GMP mpn_sec_tabselect).
static inline void cgmp_tabselect(mp_limb_t *rp, const mp_limb_t *table, mp_size_t n,
                                  mp_size_t count, mp_size_t which) {
    mpn_sec_tabselect(rp, table, n, count, which);
}

#endif
