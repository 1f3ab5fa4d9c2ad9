#ifndef TELEMED_BASELINE_H
#define TELEMED_BASELINE_H

#include <stddef.h>
#include <stdint.h>

// The limit baseline: exactly the modular exponentiations of one doctor-side handshake
// (PROTOCOL.md §4/§5 for version 1, §8.5/§8.9 for version 2), done with plain GMP calls on
// prepared mpz_t values and nothing else: no decoding, hashing, encoding or allocation inside the timed call.

typedef struct telemed_baseline telemed_baseline;

/// Inputs as lowercase hex (no prefix); dh_a is the patient's version-2 share A = g^a and dh_b
/// the doctor's version-2 ephemeral b (the version-1 run uses neither). Returns NULL if any
/// text is not hexadecimal.
telemed_baseline *telemed_baseline_new(const char *p, const char *q, const char *g,
                                       const char *doctor_x, const char *patient_y,
                                       const char *sig_r, const char *sig_s, const char *challenge_e,
                                       const char *c1, const char *c2,
                                       const char *k_gwn_u, const char *k_encrypt, const char *k_sign,
                                       const char *dh_a, const char *dh_b);

/// One doctor-side handshake's exponentiations; returns a value derived from every result
/// (so nothing can be optimised away) — 0 if a check that should pass failed.
uint64_t telemed_baseline_run(telemed_baseline *b);

/// The same for a version-2 handshake (§8.5): version 1's exponentiations plus dh_i's element
/// check A^q, B = g^b and Z = A^b.
uint64_t telemed_baseline_run_v2(telemed_baseline *b);

/// The number of mpz_powm and mpz_powm_sec calls one run of `version` (1 or 2) makes.
void telemed_baseline_counts(int version, int *public_powm, int *secret_powm);

/// The linked GMP's version text.
const char *telemed_baseline_gmp_version(void);

void telemed_baseline_free(telemed_baseline *b);

/// Hands free heap back to the system (glibc malloc_trim), then reports this process's
/// resident bytes (/proc/self/statm) and malloc'd bytes (glibc mallinfo2); -1 where unknown.
void telemed_memory_probe(long *resident_bytes, long *heap_bytes);

#endif
