#include "baseline.h"

#include <gmp.h>
#include <stdlib.h>

struct telemed_baseline {
    mpz_t p, q, g, q_minus_x, q_minus_2, y, r, s, r_prime, e, c1, c2, u, k_enc, k_sig;
    mpz_t dh_a, dh_b;  // version 2: the patient's share A = g^a and the doctor's ephemeral b
    mpz_t t1, t2, t3, m;
};

telemed_baseline *telemed_baseline_new(const char *p, const char *q, const char *g,
                                       const char *doctor_x, const char *patient_y,
                                       const char *sig_r, const char *sig_s, const char *challenge_e,
                                       const char *c1, const char *c2,
                                       const char *k_gwn_u, const char *k_encrypt, const char *k_sign,
                                       const char *dh_a, const char *dh_b) {
    telemed_baseline *b = calloc(1, sizeof *b);
    if (b == NULL) return NULL;
    mpz_inits(b->p, b->q, b->g, b->q_minus_x, b->q_minus_2, b->y, b->r, b->s, b->r_prime, b->e,
              b->c1, b->c2, b->u, b->k_enc, b->k_sig, b->dh_a, b->dh_b, b->t1, b->t2, b->t3, b->m, NULL);
    int bad = 0;
    bad |= mpz_set_str(b->p, p, 16);
    bad |= mpz_set_str(b->q, q, 16);
    bad |= mpz_set_str(b->g, g, 16);
    bad |= mpz_set_str(b->q_minus_x, doctor_x, 16);
    bad |= mpz_set_str(b->y, patient_y, 16);
    bad |= mpz_set_str(b->r, sig_r, 16);
    bad |= mpz_set_str(b->s, sig_s, 16);
    bad |= mpz_set_str(b->e, challenge_e, 16);
    bad |= mpz_set_str(b->c1, c1, 16);
    bad |= mpz_set_str(b->c2, c2, 16);
    bad |= mpz_set_str(b->u, k_gwn_u, 16);
    bad |= mpz_set_str(b->k_enc, k_encrypt, 16);
    bad |= mpz_set_str(b->k_sig, k_sign, 16);
    bad |= mpz_set_str(b->dh_a, dh_a, 16);
    bad |= mpz_set_str(b->dh_b, dh_b, 16);
    if (bad) {
        telemed_baseline_free(b);
        return NULL;
    }
    mpz_sub(b->q_minus_x, b->q, b->q_minus_x);
    mpz_sub_ui(b->q_minus_2, b->q, 2);
    mpz_mod(b->r_prime, b->r, b->q);
    return b;
}

void telemed_baseline_counts(int version, int *public_powm, int *secret_powm) {
    // Version 2 adds A^q (public), g^b and A^b (secret): PROTOCOL.md §8.9.
    *public_powm = version == 2 ? 8 : 7;
    *secret_powm = version == 2 ? 8 : 6;
}

// Version 1's checks, verification and decryption (§4/§5): 7 × mpz_powm, 1 × mpz_powm_sec.
// Returns K's lowest limb (and clears *ok when a check failed).
static uint64_t request_side(telemed_baseline *b, int *ok) {
    // Element checks z^q ≡ 1 of sig_r, c1, c2 (public).
    mpz_powm(b->t1, b->r, b->q, b->p);   *ok &= mpz_cmp_ui(b->t1, 1) == 0;
    mpz_powm(b->t1, b->c1, b->q, b->p);  *ok &= mpz_cmp_ui(b->t1, 1) == 0;
    mpz_powm(b->t1, b->c2, b->q, b->p);  *ok &= mpz_cmp_ui(b->t1, 1) == 0;
    // Verification g^e ≡ y^r' · r^s (public).
    mpz_powm(b->t1, b->g, b->e, b->p);
    mpz_powm(b->t2, b->y, b->r_prime, b->p);
    mpz_powm(b->t3, b->r, b->s, b->p);
    mpz_mul(b->t2, b->t2, b->t3);
    mpz_mod(b->t2, b->t2, b->p);
    *ok &= mpz_cmp(b->t1, b->t2) == 0;
    // Decryption K = c2 · c1^(q − x) (secret), then K's element check (public).
    mpz_powm_sec(b->t1, b->c1, b->q_minus_x, b->p);
    mpz_mul(b->m, b->c2, b->t1);
    mpz_mod(b->m, b->m, b->p);
    mpz_powm(b->t1, b->m, b->q, b->p);   *ok &= mpz_cmp_ui(b->t1, 1) == 0;
    return mpz_getlimbn(b->m, 0);
}

// K_GWN = g^u and its encryption (g^k, y^k) (secret): 3 × mpz_powm_sec.
static uint64_t answer_encryption(telemed_baseline *b) {
    uint64_t acc = 0;
    mpz_powm_sec(b->t1, b->g, b->u, b->p);      acc ^= mpz_getlimbn(b->t1, 0);
    mpz_powm_sec(b->t2, b->g, b->k_enc, b->p);  acc ^= mpz_getlimbn(b->t2, 0);
    mpz_powm_sec(b->t3, b->y, b->k_enc, b->p);  acc ^= mpz_getlimbn(b->t3, 0);
    return acc;
}

// The signature's g^k and k^(q−2) mod q (secret): 2 × mpz_powm_sec.
static uint64_t answer_signature(telemed_baseline *b) {
    uint64_t acc = 0;
    mpz_powm_sec(b->t1, b->g, b->k_sig, b->p);  acc ^= mpz_getlimbn(b->t1, 0);
    mpz_powm_sec(b->t2, b->k_sig, b->q_minus_2, b->q);  acc ^= mpz_getlimbn(b->t2, 0);
    return acc;
}

uint64_t telemed_baseline_run(telemed_baseline *b) {
    int ok = 1;
    uint64_t acc = request_side(b, &ok);
    acc ^= answer_encryption(b);
    acc ^= answer_signature(b);
    return ok ? (acc | 1) : 0;
}

uint64_t telemed_baseline_run_v2(telemed_baseline *b) {
    int ok = 1;
    uint64_t acc = request_side(b, &ok);
    // dh_i's element check A^q ≡ 1 (public), after K's (§8.5).
    mpz_powm(b->t1, b->dh_a, b->q, b->p);  ok &= mpz_cmp_ui(b->t1, 1) == 0;
    acc ^= answer_encryption(b);
    // B = g^b (secret), before the signature that covers it.
    mpz_powm_sec(b->t1, b->g, b->dh_b, b->p);  acc ^= mpz_getlimbn(b->t1, 0);
    acc ^= answer_signature(b);
    // Z = A^b (secret).
    mpz_powm_sec(b->t1, b->dh_a, b->dh_b, b->p);  acc ^= mpz_getlimbn(b->t1, 0);
    return ok ? (acc | 1) : 0;
}

const char *telemed_baseline_gmp_version(void) { return gmp_version; }

void telemed_baseline_free(telemed_baseline *b) {
    if (b == NULL) return;
    mpz_clears(b->p, b->q, b->g, b->q_minus_x, b->q_minus_2, b->y, b->r, b->s, b->r_prime, b->e,
               b->c1, b->c2, b->u, b->k_enc, b->k_sig, b->dh_a, b->dh_b, b->t1, b->t2, b->t3, b->m, NULL);
    free(b);
}
