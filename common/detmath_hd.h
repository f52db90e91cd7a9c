/* detmath_hd.h — the detmath float functions the network needs (exp, sin,
 * cos), written once for the host C compiler and for nvcc's device code.
 *
 * Invariants:
 *   - These bodies ARE the definitions: common/detmath.c's vdm_expf, vdm_sinf
 *     and vdm_cosf are one-line wrappers around them, and the CUDA coding
 *     kernels (kernels/cuda/) call them on the device.  One text, so the two
 *     cannot drift apart; tests/test_detmath.c (golden hash, host) and
 *     tests/test_cuda.c (device vs host, bit for bit) guard the results.
 *   - Every step is one IEEE-754 operation in round-to-nearest (float or
 *     double), bit reinterpretations, integer arithmetic or comparisons; no
 *     FMA.  Host C is built with -ffp-contract=off, device code with
 *     nvcc --fmad=false (which also stops a*b+c contraction in these plain
 *     expressions), neither with fast-math / flush-to-zero: same bits.
 *   - C11 and C++ (nvcc) clean; VDM_HD is `__host__ __device__` under nvcc,
 *     empty otherwise.  Only static inline functions: including this header
 *     defines no external symbol.
 * See common/detmath.c for the derivations (Cody–Waite reduction, the 1.5*2^p
 * rounding trick, the Taylor remainders). */
#ifndef VDM_DETMATH_HD_H
#define VDM_DETMATH_HD_H
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define VDM_HD __host__ __device__
#else
#define VDM_HD
#endif

/* Bit reinterpretation.  memcpy is the portable C spelling; the device
 * intrinsics are the same reinterpretation without a stack round trip. */
static inline VDM_HD uint32_t vdm_hd_f2u(float f)
{
#if defined(__CUDA_ARCH__)
    return (uint32_t)__float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
#endif
}

static inline VDM_HD float vdm_hd_u2f(uint32_t u)
{
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, 4);
    return f;
#endif
}

static inline VDM_HD uint64_t vdm_hd_d2u(double d)
{
#if defined(__CUDA_ARCH__)
    return (uint64_t)__double_as_longlong(d);
#else
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
#endif
}

/* 2^k as a float for k in [-126, 127] */
static inline VDM_HD float vdm_hd_pow2f(int k) { return vdm_hd_u2f((uint32_t)(k + 127) << 23); }

static inline VDM_HD float vdm_expf_hd(float x)
{
    if (x != x) return x;
    if (x > 88.72283f) return vdm_hd_u2f(0x7f800000u);   /* +inf */
    if (x < -103.972084f) return 0.0f;
    /* x = k ln2 + r, |r| <= ln2/2 */
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float t = x * 1.44269504f + magic;
    int k = (int)(vdm_hd_f2u(t) - vdm_hd_f2u(magic));
    float kf = t - magic;
    float r = x - kf * 0.693145752f;   /* ln2_hi: 16 significant bits, kf*hi exact */
    r = r - kf * 1.42860677e-06f;      /* ln2_lo */
    /* exp(r) on |r| <= 0.347: Taylor to r^7 (remainder < 1.3e-7 relative) */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    if (k > 127) return p * vdm_hd_pow2f(127) * vdm_hd_pow2f(k - 127);
    if (k < -126) return p * vdm_hd_pow2f(k + 64) * vdm_hd_pow2f(-64);
    return p * vdm_hd_pow2f(k);
}

/* sin/cos: reduce in double (x = k*pi/2 + r, |k| < 2^20 keeps k*PIO2_HI exact
 * since PIO2_HI has 33 significant bits), evaluate the polynomials in double. */
static inline VDM_HD double vdm_hd_sin_poly(double r)
{   /* |r| <= pi/4: Taylor to r^15, remainder < 1e-17 */
    double r2 = r * r;
    double p = -1.0 / 1307674368000.0;
    p = p * r2 + 1.0 / 6227020800.0;
    p = p * r2 - 1.0 / 39916800.0;
    p = p * r2 + 1.0 / 362880.0;
    p = p * r2 - 1.0 / 5040.0;
    p = p * r2 + 1.0 / 120.0;
    p = p * r2 - 1.0 / 6.0;
    return r + r * r2 * p;
}

static inline VDM_HD double vdm_hd_cos_poly(double r)
{   /* |r| <= pi/4: Taylor to r^16 */
    double r2 = r * r;
    double p = 1.0 / 20922789888000.0;
    p = p * r2 - 1.0 / 87178291200.0;
    p = p * r2 + 1.0 / 479001600.0;
    p = p * r2 - 1.0 / 3628800.0;
    p = p * r2 + 1.0 / 40320.0;
    p = p * r2 - 1.0 / 720.0;
    p = p * r2 + 1.0 / 24.0;
    p = p * r2 - 0.5;
    return 1.0 + r2 * p;
}

/* returns the quadrant k mod 4 and the reduced r */
static inline VDM_HD int vdm_hd_reduce_pio2(float x, double *r)
{
    const double pio2_hi = 1.57079632673412561417e+00; /* 33 bits of pi/2 */
    const double pio2_lo = 6.07710050650619224932e-11; /* pi/2 - pio2_hi */
    double xd = (double)x;
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    double t = xd * 0.63661977236758134308 + magic;
    int64_t k = (int64_t)(vdm_hd_d2u(t) - vdm_hd_d2u(magic));
    double kd = t - magic;
    *r = (xd - kd * pio2_hi) - kd * pio2_lo;
    return (int)(k & 3);
}

static inline VDM_HD float vdm_sinf_hd(float x)
{
    if (x != x) return x;
    if (x > 1e6f || x < -1e6f) return 0.0f; /* outside the supported range */
    double r;
    int q = vdm_hd_reduce_pio2(x, &r);
    double v;
    switch (q) {
    case 0: v = vdm_hd_sin_poly(r); break;
    case 1: v = vdm_hd_cos_poly(r); break;
    case 2: v = -vdm_hd_sin_poly(r); break;
    default: v = -vdm_hd_cos_poly(r); break;
    }
    return (float)v;
}

static inline VDM_HD float vdm_cosf_hd(float x)
{
    if (x != x) return x;
    if (x > 1e6f || x < -1e6f) return 1.0f;
    double r;
    int q = vdm_hd_reduce_pio2(x, &r);
    double v;
    switch (q) {
    case 0: v = vdm_hd_cos_poly(r); break;
    case 1: v = -vdm_hd_sin_poly(r); break;
    case 2: v = -vdm_hd_cos_poly(r); break;
    default: v = vdm_hd_sin_poly(r); break;
    }
    return (float)v;
}

/* The SiLU of kernels.h as every backend computes it: x * sigmoid(x) with
 * sigmoid = 1 / (1 + exp(-x)) (a rounded division, then a rounded multiply;
 * NOT x / (1 + exp(-x)), which rounds differently). */
static inline VDM_HD float vdm_silu_hd(float x) { return x * (1.0f / (1.0f + vdm_expf_hd(-x))); }

#endif
