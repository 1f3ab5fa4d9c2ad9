#ifndef TELEMED_BASELINE_H
#define TELEMED_BASELINE_H

#include <stddef.h>
#include <stdint.h>

// The limit baseline: exactly the modular exponentiations of one doctor-side handshake
// (PROTOCOL.md §4/§5), done with plain GMP calls on prepared mpz_t values and nothing else:
// no decoding, hashing, encoding or allocation inside the timed call.

typedef struct telemed_baseline telemed_baseline;

/// Inputs as lowercase hex (no prefix). Returns NULL if any text is not hexadecimal.
telemed_baseline *telemed_baseline_new(const char *p, const char *q, const char *g,
                                       const char *doctor_x, const char *patient_y,
                                       const char *sig_r, const char *sig_s, const char *challenge_e,
                                       const char *c1, const char *c2,
                                       const char *k_gwn_u, const char *k_encrypt, const char *k_sign);

/// One doctor-side handshake's exponentiations; returns a value derived from every result
/// (so nothing can be optimised away) — 0 if a check that should pass failed.
uint64_t telemed_baseline_run(telemed_baseline *b);

/// The number of mpz_powm and mpz_powm_sec calls one run makes.
void telemed_baseline_counts(int *public_powm, int *secret_powm);

/// The linked GMP's version text.
const char *telemed_baseline_gmp_version(void);

void telemed_baseline_free(telemed_baseline *b);

/// Hands free heap back to the system (glibc malloc_trim), then reports this process's
/// resident bytes (/proc/self/statm) and malloc'd bytes (glibc mallinfo2); -1 where unknown.
void telemed_memory_probe(long *resident_bytes, long *heap_bytes);

#endif
