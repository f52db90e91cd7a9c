/* ans_internal.h — the stack's layout, shared by the ans/ sources only.
 *
 * Invariants (checked by tests, relied on everywhere):
 *   VDM_ANS_STATE_L <= x < 2^63;  n <= cap;  mode is one of ANS_MODE_*;
 *   in ANS_MODE_CLEAN the keystream position ks_word counts the words read
 *   since clean_begin (the state mask used bytes 0..7). */
#ifndef VDM_ANS_INTERNAL_H
#define VDM_ANS_INTERNAL_H

#include "ans/ans.h"
#include <openssl/evp.h>

enum { ANS_MODE_NORMAL = 0, ANS_MODE_CLEAN = 1, ANS_MODE_UNCLEAN = 2 };

#define ANS_KS_BUF 512   /* keystream bytes generated per OpenSSL call */

struct vdm_ans {
    uint64_t x;            /* rANS state */
    uint32_t *w;           /* word stack, w[n-1] is the top; owned */
    size_t n, cap;
    uint64_t drawn;        /* initial-bits words drawn so far */
    uint64_t seed;         /* initial-bits seed */
    int mode;
    /* cleaning */
    EVP_CIPHER_CTX *cctx;  /* lazily created, owned */
    uint8_t ks[ANS_KS_BUF];
    size_t ks_pos, ks_len;
    uint64_t clean_words;  /* words consumed in the open clean section */
    uint64_t last_clean_words;
    size_t mark;           /* unclean: word count at unclean_begin */
};

/* The j-th initial-bits word (format-spec/ans.md, "initial bits"). */
uint32_t vdm_ans__initial_word(uint64_t seed, uint64_t j);

/* Next 4 keystream bytes as LE32 (clean mode).  VDM_ERR_INTERNAL on an
 * OpenSSL failure. */
vdm_status vdm_ans__ks_next32(vdm_ans *a, uint32_t *out);

/* Phi(t) as used by the quantised Gaussians: piecewise linear between the
 * knots -8 + i/1024, 0 below -8 and 1 from 8 on; monotone non-decreasing in t
 * for every double t (including +-inf; NaN gives 0). */
double vdm_ans__phi(double t);

/* floor(a * b / c) for a, b < 2^64, c > 0, with a * b / c < 2^64. */
uint64_t vdm_ans__muldiv(uint64_t a, uint64_t b, uint64_t c);

static inline int ans_prec_ok(unsigned prec) { return prec >= 1 && prec <= VDM_ANS_PREC_MAX; }

#endif
