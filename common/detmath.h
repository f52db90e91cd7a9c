/* detmath.h — deterministic elementary functions for the coding path.
 *
 * libm's exp/log/sin/erf differ between C libraries, versions and CPUs, and
 * anything that feeds the entropy coder must give the same bits everywhere
 * (DESIGN.md, determinism contract).  These are built only from IEEE-754
 * + - * /, sqrt, and exact bit manipulation, in a fixed operation order; the
 * project compiles with -ffp-contract=off, so no FMA contraction changes them.
 *
 * Accuracy: a few ulp (float) / ~1e-15 (double) over the stated ranges (measured in tests/test_detmath.c
 * against libm in double).  Determinism, not the last ulp, is the point.
 * Special values: NaN in -> NaN out; exp overflows to +inf and underflows to 0;
 * log(0) = -inf, log(x<0) = NaN. */
#ifndef VDM_DETMATH_H
#define VDM_DETMATH_H

#ifdef __cplusplus
extern "C" {
#endif

/* Square roots without libm: sqrt is correctly rounded by IEEE-754, so the
 * SSE2 instruction gives the same bits as any conforming sqrt; used directly
 * because the library layers do not link libm (this header is our libm). */
#if defined(__SSE2__) && !defined(__CUDA_ARCH__)
#include <emmintrin.h>
static inline double vdm_sqrt_d(double x) { return _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(x))); }
static inline float vdm_sqrt_f(float x) { return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x))); }
#else
static inline double vdm_sqrt_d(double x) { return __builtin_sqrt(x); }
static inline float vdm_sqrt_f(float x) { return __builtin_sqrtf(x); }
#endif

/* float32 versions (network activations, schedule, per-step constants) */
float vdm_expf(float x);
float vdm_expm1f(float x);      /* exp(x)-1, accurate near 0 */
float vdm_logf(float x);
float vdm_log1pf(float x);      /* log(1+x), accurate near 0 */
float vdm_sigmoidf(float x);    /* 1/(1+exp(-x)), no overflow for any x */
float vdm_softplusf(float x);   /* log(1+exp(x)), no overflow for any x */
float vdm_sinf(float x);        /* |x| up to ~1e5 with good accuracy */
float vdm_cosf(float x);
float vdm_tanhf(float x);

/* float64 versions (ANS quantised CDFs, schedule constants stored as bits) */
double vdm_exp(double x);
double vdm_expm1(double x);
double vdm_log(double x);
double vdm_log1p(double x);
/* Standard normal CDF Phi(x) and its complement Q(x)=1-Phi(x).  Relative
 * error below ~2e-7 in the small tail of each (Chebyshev-fitted erfc), so tail
 * probabilities stay meaningful down to underflow (|x| ~ 38).  Not guaranteed
 * monotone at the 1e-7 level: quantisers must enforce monotonicity. */
double vdm_norm_cdf(double x);
double vdm_norm_sf(double x);

#ifdef __cplusplus
}
#endif
#endif
