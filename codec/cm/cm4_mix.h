/* cm4_mix.h — the logistic mixers of methods 4 to 7 (codec/cm/cm4.c,
 * cbit): their SIMD twin and the switch between it and the scalar code.
 * Internal to codec/.
 *
 * A mixer is a row of int32 weights (16.16, always within +-MIX_WMAX =
 * VDM_CM4_MIX_WMAX = 2^24) and the inputs x[i] (stretched probabilities, within +-2047):
 *   dot    = sum_i (int64)w[i] * x[i]                    (exact)
 *   update   w[i] = clamp(w[i] + ((x[i] * err) >> 16), +-2^24)
 * with |err| <= 4095 * 90 (method 7's largest rate), so x[i] * err fits in int32 and the sum of
 * products, |sum| < 32 * 2^35, in int64.  Integer sums are exact in any
 * order, so the SIMD twin gives the scalar code's numbers bit for bit
 * (tests/test_cm4.c encodes with both and compares the bytes).
 *
 * Layout the twin relies on: a weight row is VDM_CM4_MIX_ROW int32 (the
 * inputs rounded up to whole 8-lane vectors), 32-byte aligned; x has
 * VDM_CM4_MIX_ROW entries, those from n on 0.  The twin then works on whole
 * vectors: a padding lane adds w * 0 to the sum and w + ((0 * err) >> 16) =
 * w to the weight (unchanged, as |w| <= 2^24 already). */
#ifndef VDM_CODEC_CM_CM4_MIX_H
#define VDM_CODEC_CM_CM4_MIX_H
#include <stdint.h>
#include "codec/cm/cm_common.h"
#include "common/vdm_common.h"

#define VDM_CM4_MIX_ROW 32
#define VDM_CM4_MIX_WMAX (1 << 24)

/* A mixer call handles up to VDM_CM4_MIX_NMAX weight rows (methods 4, 5,
 * 6 and 7 use 2, 3, 3 and 6), all of them on the same inputs x. */
#define VDM_CM4_MIX_NMAX 6

/* The scalar code: the definition of the mixers' arithmetic (here, not in
 * cm4.c, so that tests can hold the twin against it).  x is 0 from n on;
 * only the twin reads there.  dot[j] = sum_{i < n} w[j][i] * x[i]. */
static inline void vdm_cm4_mix_dot_scalar(const int32_t *x, unsigned n, const int32_t *const *w, unsigned nw,
                                          int64_t *dot)
{
    for (unsigned j = 0; j < nw; j++) {
        int64_t s = 0;
        for (unsigned i = 0; i < n; i++) s += (int64_t)w[j][i] * x[i];
        dot[j] = s;
    }
}

/* w[j][i] = clamp(w[j][i] + ((x[i] * err[j]) >> 16), +-2^24), i < n */
static inline void vdm_cm4_mix_train_scalar(const int32_t *x, unsigned n, int32_t *const *w, const int32_t *err,
                                            unsigned nw)
{
    for (unsigned j = 0; j < nw; j++)
        for (unsigned i = 0; i < n; i++)
            w[j][i] = vdm_cm_clampi((int64_t)w[j][i] + ((x[i] * err[j]) >> 16), -VDM_CM4_MIX_WMAX, VDM_CM4_MIX_WMAX);
}

/* The AVX2 twin exists where the compiler targets x86 (GCC or Clang: the
 * file is built with -mavx2); elsewhere only the scalar code is built. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define VDM_CM4_HAVE_AVX2 1
/* The scalar code's numbers for nw <= VDM_CM4_MIX_NMAX rows, n <=
 * VDM_CM4_MIX_ROW (the update rounded up to whole vectors, see above). */
void vdm_cm4_mix_dot_avx2(const int32_t *x, unsigned n, const int32_t *const *w, unsigned nw, int64_t *dot);
void vdm_cm4_mix_train_avx2(const int32_t *x, unsigned n, int32_t *const *w, const int32_t *err, unsigned nw);
#else
#define VDM_CM4_HAVE_AVX2 0
#endif

/* Highest SIMD level the CM4/CM5 mixers may use (the CPU's, at most; the
 * level is read when a coder starts).  Returns the previous cap.  Tests and
 * benchmarks set VDM_SIMD_SCALAR to run the scalar twin; the default is no
 * cap.  The environment variable VDMZIP_CM_SCALAR=1 (read once) forces the
 * scalar twin as well, for measurements with the programs as they are. */
vdm_simd_level vdm_cm4_simd_cap(vdm_simd_level max_level);
/* The level a coder started now would use: VDM_SIMD_AVX2 or VDM_SIMD_SCALAR. */
vdm_simd_level vdm_cm4_simd_level(void);

#endif
