#ifndef TELEMED_CGMP_SHIM_H
#define TELEMED_CGMP_SHIM_H

#include <gmp.h>
#include <stdlib.h>
#include <string.h>

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

// MARK: - Zeroization

/// Writes `n` zero bytes through a volatile pointer: the stores are observable behaviour, so
/// the compiler may not drop them as dead (as it may drop a plain memset before free).
static inline void cgmp_secure_zero(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--) {
        *v++ = 0;
    }
}

/// Hands a wiped block back: `release(block, size, context)`. Production passes
/// `cgmp_release_to_free`; the tests pass a releaser that inspects the block first.
typedef void (*cgmp_release_fn)(void *block, size_t size, void *context);

static inline void cgmp_release_to_free(void *block, size_t size, void *context) {
    (void)size;
    (void)context;
    free(block);
}

/// Wipes `size` bytes of `block`, then releases it.
static inline void cgmp_wipe_and_release(void *block, size_t size, cgmp_release_fn release, void *context) {
    if (block != NULL) {
        cgmp_secure_zero(block, size);
    }
    release(block, size, context);
}

/// Moves a block to a fresh allocation of `new_size` bytes: copies min(old, new) bytes, then
/// wipes and releases the old block (so a grown or shrunk limb vector leaves no copy behind, as
/// a plain realloc could). Aborts when memory is exhausted, as GMP's own allocator does.
static inline void *cgmp_wipe_and_move(void *old, size_t old_size, size_t new_size,
                                       cgmp_release_fn release, void *context) {
    void *fresh = malloc(new_size > 0 ? new_size : 1);
    if (fresh == NULL) {
        abort();
    }
    if (old != NULL) {
        memcpy(fresh, old, old_size < new_size ? old_size : new_size);
    }
    cgmp_wipe_and_release(old, old_size, release, context);
    return fresh;
}

static inline void *cgmp_wiping_alloc(size_t size) {
    void *block = malloc(size > 0 ? size : 1);
    if (block == NULL) {
        abort();
    }
    return block;
}

static inline void *cgmp_wiping_realloc(void *old, size_t old_size, size_t new_size) {
    return cgmp_wipe_and_move(old, old_size, new_size, cgmp_release_to_free, NULL);
}

static inline void cgmp_wiping_free(void *block, size_t size) {
    cgmp_wipe_and_release(block, size, cgmp_release_to_free, NULL);
}

/// Makes GMP allocate through malloc and wipe every block it frees or outgrows. Blocks GMP
/// allocated before are malloc blocks too, so freeing them through these functions is sound.
static inline void cgmp_install_wiping_allocator(void) {
    mp_set_memory_functions(cgmp_wiping_alloc, cgmp_wiping_realloc, cgmp_wiping_free);
}

/// 1 when GMP's memory functions are the wiping ones above.
static inline int cgmp_wiping_allocator_installed(void) {
    void *(*allocate)(size_t);
    void *(*reallocate)(void *, size_t, size_t);
    void (*release)(void *, size_t);
    mp_get_memory_functions(&allocate, &reallocate, &release);
    return allocate == cgmp_wiping_alloc && reallocate == cgmp_wiping_realloc && release == cgmp_wiping_free;
}

#endif
