/* cm4_mix_avx2.c — AVX2 twin of the CM4-CM7 mixers' dot products and
 * weight updates (cm4_mix.h: vdm_cm4_mix_dot_scalar, _train_scalar), same numbers.
 * The contract (bounds, row layout, zero padding) is in cm4_mix.h.
 *
 * Dot product: AVX2 has no 32 x 32 -> 64-bit multiply-add, but x fits in
 * int16, so each weight is split as w = hi * 2^12 + lo with hi = w >> 12
 * (arithmetic, within +-2^12) and lo = w & 0xFFF (0..4095), both int16,
 * and _mm256_madd_epi16 against x (each 32-bit lane's upper half zeroed, so
 * the lane's second product is 0) gives hi * x and lo * x exactly.  Their
 * sums stay far inside int32 (32 inputs: |sum| <= 32 * 4096 * 2047 < 2^28),
 * and dot = sum_hi * 2^12 + sum_lo in int64 is the exact sum of w * x, the
 * scalar code's value.
 *
 * Update: x * err is exact in 32 bits (|x * err| <= 2047 * 4095 * 90 < 2^31),
 * _mm256_srai_epi32 is the scalar ">> 16" on int (arithmetic, as GCC and
 * Clang define it), and w + delta (|delta| < 2^12) cannot overflow before
 * the clamp. */
#include "codec/cm/cm4_mix.h"

#if VDM_CM4_HAVE_AVX2
#include <immintrin.h>

/* Whole vectors: 3 where n <= 24 (method 4 has at most 21 inputs), else 4
 * (method 5 with side information: 28); padding lanes add 0 and keep their
 * weights (cm4_mix.h).  nv is a constant in each inlined copy below, so the
 * loops unroll and x stays in registers. */
#define NVMAX (VDM_CM4_MIX_ROW / 8)
#define WMAX VDM_CM4_MIX_WMAX

static inline __m256i ld(const int32_t *p) { return _mm256_load_si256((const __m256i *)(const void *)p); }

/* one row: sums of hi * x and lo * x, per lane */
static inline __attribute__((always_inline)) void row_dot(const __m256i *xm, int nv, const int32_t *w,
                                                          __m256i *shi, __m256i *slo)
{
    const __m256i m12 = _mm256_set1_epi32(0xFFF);
    __m256i h = _mm256_setzero_si256(), l = _mm256_setzero_si256();
    for (int v = 0; v < nv; v++) {
        const __m256i wv = ld(w + 8 * v);
        h = _mm256_add_epi32(h, _mm256_madd_epi16(_mm256_srai_epi32(wv, 12), xm[v]));
        l = _mm256_add_epi32(l, _mm256_madd_epi16(_mm256_and_si256(wv, m12), xm[v]));
    }
    *shi = h;
    *slo = l;
}

static inline int64_t lanes_total(__m128i s, int i)
{
    return (int64_t)(i ? _mm_extract_epi32(s, 2) : _mm_extract_epi32(s, 0)) * 4096 +
           (i ? _mm_extract_epi32(s, 3) : _mm_extract_epi32(s, 1));
}

static inline __attribute__((always_inline)) void mix_dot(const int32_t *x, int nv, const int32_t *const *w,
                                                          unsigned nw, int64_t *dot)
{
    const __m256i m16 = _mm256_set1_epi32(0xFFFF);
    __m256i xm[NVMAX];
    for (int v = 0; v < nv; v++) xm[v] = _mm256_and_si256(ld(x + 8 * v), m16);
    unsigned j = 0;
    for (; j + 2 <= nw; j += 2) {   /* two rows: horizontal sums of four vectors at once, lanes H1 L1 H2 L2 */
        __m256i h1, l1, h2, l2;
        row_dot(xm, nv, w[j], &h1, &l1);
        row_dot(xm, nv, w[j + 1], &h2, &l2);
        const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(h1, l1), _mm256_hadd_epi32(h2, l2));
        const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        dot[j] = lanes_total(s, 0);
        dot[j + 1] = lanes_total(s, 1);
    }
    if (j < nw) {   /* one row left */
        __m256i h, l;
        row_dot(xm, nv, w[j], &h, &l);
        const __m256i b = _mm256_hadd_epi32(h, l);   /* H L H L per 128-bit half, partial */
        const __m128i t = _mm_add_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
        dot[j] = lanes_total(_mm_hadd_epi32(t, t), 0);   /* H L H L */
    }
}

void vdm_cm4_mix_dot_avx2(const int32_t *x, unsigned n, const int32_t *const *w, unsigned nw, int64_t *dot)
{
    if (n <= 24) mix_dot(x, 3, w, nw, dot);
    else mix_dot(x, NVMAX, w, nw, dot);
}

static inline __attribute__((always_inline)) void row_train(const __m256i *xv, int nv, int32_t *w, int32_t err)
{
    const __m256i e = _mm256_set1_epi32(err), lo = _mm256_set1_epi32(-WMAX), hi = _mm256_set1_epi32(WMAX);
    for (int v = 0; v < nv; v++) {
        const __m256i d = _mm256_srai_epi32(_mm256_mullo_epi32(xv[v], e), 16);
        const __m256i wv = _mm256_add_epi32(ld(w + 8 * v), d);
        _mm256_store_si256((__m256i *)(void *)(w + 8 * v), _mm256_min_epi32(_mm256_max_epi32(wv, lo), hi));
    }
}

static inline __attribute__((always_inline)) void mix_train(const int32_t *x, int nv, int32_t *const *w,
                                                            const int32_t *err, unsigned nw)
{
    __m256i xv[NVMAX];
    for (int v = 0; v < nv; v++) xv[v] = ld(x + 8 * v);
    for (unsigned j = 0; j < nw; j++) row_train(xv, nv, w[j], err[j]);
}

void vdm_cm4_mix_train_avx2(const int32_t *x, unsigned n, int32_t *const *w, const int32_t *err, unsigned nw)
{
    if (n <= 24) mix_train(x, 3, w, err, nw);
    else mix_train(x, NVMAX, w, err, nw);
}

#else
/* not x86: the scalar mixers only (an empty file is not valid ISO C) */
typedef int vdm_cm4_mix_avx2_unused;
#endif
