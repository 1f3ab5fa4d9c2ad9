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

#endif
