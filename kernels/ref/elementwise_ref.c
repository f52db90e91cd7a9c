/* elementwise_ref.c — activations, Fourier features, dense layers and channel
 * sums.  Shared by every backend (they are cheap next to the convolutions),
 * so activations and features are bit-identical between REF and CPU.
 * Transcendentals come from common/detmath.h only (no libm).  The SiLU has an
 * AVX2 twin (act_avx2.c) that gives the same bits, chosen at run time. */
#include <string.h>
#include "common/detmath.h"
#include "kernels/kernels_internal.h"

/* sigmoid(x) = 1 / (1 + e^-x); e^-x = +inf for very negative x gives 0, and
 * e^-x -> 0 gives 1, so no special cases are needed. */
static inline float sig(float x) { return 1.0f / (1.0f + vdm_expf(-x)); }

static int use_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return vdm_ref_simd_level() >= VDM_SIMD_AVX2;
#else
    return 0;
#endif
}

void vdm_act_forward(float *out, const float *in, size_t n, int act)
{
    if (act == VDM_KACT_RELU) {
        for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
    } else {
        size_t i = use_avx2() ? vdm_silu_forward_avx2(out, in, n) : 0;
        for (; i < n; i++) out[i] = in[i] * sig(in[i]);
    }
}

/* SiLU'(x) = s + x s (1 - s) = s (1 + x (1 - s)),  s = sigmoid(x). */
void vdm_act_backward(float *din, const float *in, const float *dout, size_t n, int act)
{
    if (act == VDM_KACT_RELU) {
        for (size_t i = 0; i < n; i++) din[i] = in[i] > 0.0f ? dout[i] : 0.0f;
    } else {
        size_t i = use_avx2() ? vdm_silu_backward_avx2(din, in, dout, n) : 0;
        for (; i < n; i++) {
            const float x = in[i], s = sig(x);
            din[i] = dout[i] * (s * (1.0f + x * (1.0f - s)));
        }
    }
}

/* 2^e * pi as a float: float(pi) scaled by powers of two, which is exact. */
float vdm_fourier_freq(int e)
{
    float f = 3.14159265358979323846f;
    for (; e > 0; e--) f *= 2.0f;
    for (; e < 0; e++) f *= 0.5f;
    return f;
}

void vdm_fourier_forward(float *feat, const float *z, size_t npix, int C,
                         const int32_t *exps, int nf)
{
    const size_t F = (size_t)C * (size_t)(1 + 2 * nf);
    float fr[8];
    for (int k = 0; k < nf && k < 8; k++) fr[k] = vdm_fourier_freq(exps[k]);
    for (size_t p = 0; p < npix; p++) {
        const float *zp = z + p * (size_t)C;
        float *fp = feat + p * F;
        for (int c = 0; c < C; c++) fp[c] = zp[c];
        for (int k = 0; k < nf && k < 8; k++) {
            float *s = fp + (size_t)C * (size_t)(1 + 2 * k), *co = s + C;
            for (int c = 0; c < C; c++) {
                const float a = fr[k] * zp[c];
                s[c] = vdm_sinf(a);
                co[c] = vdm_cosf(a);
            }
        }
    }
}

/* d sin(f z)/dz = f cos(f z),  d cos(f z)/dz = -f sin(f z). */
void vdm_fourier_backward(float *dz, const float *z, const float *dfeat, size_t npix, int C,
                          const int32_t *exps, int nf)
{
    const size_t F = (size_t)C * (size_t)(1 + 2 * nf);
    float fr[8];
    for (int k = 0; k < nf && k < 8; k++) fr[k] = vdm_fourier_freq(exps[k]);
    for (size_t p = 0; p < npix; p++) {
        const float *zp = z + p * (size_t)C, *gp = dfeat + p * F;
        float *dp = dz + p * (size_t)C;
        for (int c = 0; c < C; c++) dp[c] = gp[c];
        for (int k = 0; k < nf && k < 8; k++) {
            const float *gs = gp + (size_t)C * (size_t)(1 + 2 * k), *gc = gs + C;
            for (int c = 0; c < C; c++) {
                const float a = fr[k] * zp[c];
                dp[c] += fr[k] * (gs[c] * vdm_cosf(a) - gc[c] * vdm_sinf(a));
            }
        }
    }
}

void vdm_dense_ref(float *out, const float *in, const float *w, const float *b,
                   int N, int In, int Out)
{
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * (size_t)Out;
        const float *x = in + (size_t)n * (size_t)In;
        for (int j = 0; j < Out; j++) o[j] = b ? b[j] : 0.0f;
        for (int i = 0; i < In; i++) {
            const float a = x[i];
            const float *wr = w + (size_t)i * (size_t)Out;
            for (int j = 0; j < Out; j++) o[j] = o[j] + a * wr[j];
        }
    }
}

void vdm_dense_backward_ref(float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, int N, int In, int Out)
{
    for (int n = 0; n < N; n++) {
        const float *g = dout + (size_t)n * (size_t)Out, *x = in + (size_t)n * (size_t)In;
        if (db)
            for (int j = 0; j < Out; j++) db[j] += g[j];
        for (int i = 0; i < In; i++) {
            const float *wr = w + (size_t)i * (size_t)Out;
            if (dw) {
                float *dwr = dw + (size_t)i * (size_t)Out;
                for (int j = 0; j < Out; j++) dwr[j] += x[i] * g[j];
            }
            if (din) {
                float s = 0.0f;
                for (int j = 0; j < Out; j++) s += wr[j] * g[j];
                din[(size_t)n * (size_t)In + (size_t)i] = s;
            }
        }
    }
}

void vdm_channel_sum(float *out, const float *x, int N, size_t HW, int C)
{
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * (size_t)C;
        for (int c = 0; c < C; c++) o[c] = 0.0f;
        const float *xp = x + (size_t)n * HW * (size_t)C;
        for (size_t p = 0; p < HW; p++, xp += C)
            for (int c = 0; c < C; c++) o[c] += xp[c];
    }
}
