/* act_avx2.c — AVX2 twins of the SiLU forward/backward in elementwise_ref.c,
 * same bits.
 *
 * The SiLU needs exp(-x); the REF definition is common/detmath's vdm_expf,
 * and exp_avx2() below replays that function's exact operation sequence on
 * 8 lanes (range checks, Cody-Waite reduction with the same constants, the
 * same Horner polynomial, the same power-of-two scaling including its two
 * out-of-range branches).  Every step is one IEEE operation, so each lane
 * equals the scalar result bit for bit.  tests/test_kernels_ref.c compares
 * the two over a sweep of inputs: if detmath's vdm_expf changes, that test
 * fails until this twin follows. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "common/detmath.h"
#include "kernels/kernels_internal.h"

static inline __m256 pow2_v(__m256i k) /* 2^k for k in [-126, 127] */
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

static inline __m256 exp_avx2(__m256 x)
{
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    const __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), magic);
    const __m256i k = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
    const __m256 kf = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(kf, _mm256_set1_ps(0.693145752f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(kf, _mm256_set1_ps(1.42860677e-06f)));
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(0.5f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    /* scaling: k > 127 and k < -126 take two steps, as in the scalar code */
    const __m256 mid = _mm256_mul_ps(p, pow2_v(k));
    const __m256 hi = _mm256_mul_ps(_mm256_mul_ps(p, pow2_v(_mm256_set1_epi32(127))),
                                    pow2_v(_mm256_sub_epi32(k, _mm256_set1_epi32(127))));
    const __m256 lo = _mm256_mul_ps(_mm256_mul_ps(p, pow2_v(_mm256_add_epi32(k, _mm256_set1_epi32(64)))),
                                    pow2_v(_mm256_set1_epi32(-64)));
    const __m256i is_hi = _mm256_cmpgt_epi32(k, _mm256_set1_epi32(127));
    const __m256i is_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), k);
    __m256 res = _mm256_blendv_ps(mid, hi, _mm256_castsi256_ps(is_hi));
    res = _mm256_blendv_ps(res, lo, _mm256_castsi256_ps(is_lo));
    /* the early returns, applied in reverse order of precedence */
    res = _mm256_blendv_ps(res, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(-103.972084f), _CMP_LT_OQ));
    res = _mm256_blendv_ps(res, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, _mm256_set1_ps(88.72283f), _CMP_GT_OQ));
    res = _mm256_blendv_ps(res, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    return res;
}

/* sigmoid(x) = 1 / (1 + exp(-x)); negation is exact */
static inline __m256 sig_avx2(__m256 x)
{
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

size_t vdm_silu_forward_avx2(float *out, const float *in, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(in + i);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(x, sig_avx2(x)));
    }
    return i;
}

size_t vdm_silu_backward_avx2(float *din, const float *in, const float *dout, size_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(in + i), s = sig_avx2(x);
        const __m256 d = _mm256_mul_ps(s, _mm256_add_ps(one, _mm256_mul_ps(x, _mm256_sub_ps(one, s))));
        _mm256_storeu_ps(din + i, _mm256_mul_ps(_mm256_loadu_ps(dout + i), d));
    }
    return i;
}

void vdm_expf_avx2_x8(float out[8], const float in[8])
{
    _mm256_storeu_ps(out, exp_avx2(_mm256_loadu_ps(in)));
}
#else
/* not x86: only the scalar kernels (an empty file is not valid ISO C) */
typedef int vdm_act_avx2_unused;
#endif
