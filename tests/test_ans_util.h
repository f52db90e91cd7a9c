/* test_ans_util.h — helpers shared by tests/test_ans_*.c (header only).
 *
 * Reference maths here uses libm (tests may): it is the independent oracle
 * the coder's detmath-based quantisation is measured against. */
#ifndef TEST_ANS_UTIL_H
#define TEST_ANS_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "ans/ans.h"

/* Release builds run the full sizes the issue asks for (>= 1e6 symbols);
 * sanitizer and unoptimised builds divide them by ANS_TEST_SCALE. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define ANS_TEST_SLOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define ANS_TEST_SLOW 1
#endif
#endif
#if !defined(ANS_TEST_SLOW) && !defined(NDEBUG)
#define ANS_TEST_SLOW 1
#endif
#ifdef ANS_TEST_SLOW
#define ANS_TEST_SCALE 10
#else
#define ANS_TEST_SCALE 1
#endif

/* SplitMix64 test RNG. */
typedef struct { uint64_t s; } trng;
static inline uint64_t trng_u64(trng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}
static inline uint32_t trng_u32(trng *r) { return (uint32_t)(trng_u64(r) >> 32); }
/* uniform in [0, n) for n >= 1 (slight modulo bias is irrelevant here) */
static inline uint64_t trng_below(trng *r, uint64_t n) { return trng_u64(r) % n; }
static inline double trng_unif(trng *r) { return ((double)(trng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static inline double trng_normal(trng *r)
{
    double u1 = trng_unif(r), u2 = trng_unif(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
/* log-uniform in [lo, hi] */
static inline double trng_logu(trng *r, double lo, double hi)
{
    return exp(log(lo) + (log(hi) - log(lo)) * trng_unif(r));
}

/* Phi and the exact discretised-Gaussian mass of [a, b] (standardised), with
 * tail-accurate differences. */
static inline double ref_phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static inline double ref_mass(double a, double b)
{
    if (b <= 0) return ref_phi(b) - ref_phi(a);
    if (a >= 0) return ref_phi(-a) - ref_phi(-b);
    return 1.0 - ref_phi(a) - ref_phi(-b);
}
/* -log2 P(k) for N(mu, sigma^2) on the grid k*delta (bins [(k-1/2)d, (k+1/2)d)) */
static inline double ref_gauss_bits(double mu, double sigma, double delta, int64_t k)
{
    double a = (((double)k - 0.5) * delta - mu) / sigma, b = (((double)k + 0.5) * delta - mu) / sigma;
    return -log2(ref_mass(a, b));
}
/* Draw k from the discretised Gaussian (continuous draw, then the bin). */
static inline int32_t draw_gauss_k(trng *r, double mu, double sigma, double delta)
{
    double v = (mu + sigma * trng_normal(r)) / delta;
    double k = floor(v + 0.5);
    if (k < -2147483648.0) k = -2147483648.0;
    if (k > 2147483647.0) k = 2147483647.0;
    return (int32_t)k;
}

/* -log2 p(x | z0) for all 256 x under seed 001's softmax, in long double (the ideal). */
static inline void ref_lik8_all(double z0, double alpha0, double gamma0, double bits[256])
{
    long double u = (long double)z0 / alpha0, is = expl(-0.5L * gamma0);
    long double l[256], mx = -INFINITY;
    for (int k = 0; k < 256; k++) {
        long double d = (u - (long double)(2 * k - 255) / 255.0L) * is;
        l[k] = -0.5L * d * d;
        if (l[k] > mx) mx = l[k];
    }
    long double z = 0;
    for (int k = 0; k < 256; k++)
        if (l[k] - mx > -80) z += expl(l[k] - mx);      /* the rest is < 1e-34 of z */
    long double lz = logl(z), ln2 = logl(2.0L);
    for (int k = 0; k < 256; k++) bits[k] = (double)(-(l[k] - mx - lz) / ln2);
}
static inline double ref_lik8_bits(double z0, double alpha0, double gamma0, int x)
{
    double b[256];
    ref_lik8_all(z0, alpha0, gamma0, b);
    return b[x];
}

/* Draw x from the exact softmax. */
static inline int draw_lik8_x(trng *r, double z0, double alpha0, double gamma0)
{
    double u = z0 / alpha0, is = exp(-0.5 * gamma0), w[256], mx = -INFINITY, z = 0;
    for (int k = 0; k < 256; k++) {
        double d = (u - (double)(2 * k - 255) / 255.0) * is;
        w[k] = -0.5 * d * d;
        if (w[k] > mx) mx = w[k];
    }
    for (int k = 0; k < 256; k++) { w[k] = (w[k] - mx > -80) ? exp(w[k] - mx) : 0.0; z += w[k]; }
    double t = trng_unif(r) * z;
    for (int k = 0; k < 256; k++) { if (t < w[k]) return k; t -= w[k]; }
    return 255;
}

/* Serialise into a fresh malloc'd buffer (caller frees). */
static inline uint8_t *ans_dump(const vdm_ans *a, size_t *n)
{
    *n = vdm_ans_serialized_size(a);
    uint8_t *b = malloc(*n);
    if (b && vdm_ans_serialize(a, b, *n, NULL) != VDM_OK) { free(b); b = NULL; }
    return b;
}

#endif
