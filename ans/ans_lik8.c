/* ans_lik8.c — VDM's 8-bit data likelihood p(x | z0) (seed 001, eq. 8 / App. A).
 *
 *   u = z0 / alpha0,  s' = e^{-gamma0/2},  x_k = (2k - 255) / 255,
 *   d_k = (u - x_k) * s',  l_k = -d_k^2 / 2,  p_k = softmax(l)_k.
 * Reference index kc = the grid point nearest u (clamped to 0..255), weights
 *   w_k = exp((d_kc^2 - d_k^2) / 2)   (w_kc = 1, so Z >= 1 and never 0/0;
 *   w_k <= 1 up to rounding since kc maximises l), evaluated by the ratio
 *   recurrence in lik8_build.
 * Only |k - kc| <= reach is evaluated.  Why that is safe: with D = 2/255, for
 * u in [-1, 1], |u - x_k| >= (m - 1/2) D and |u - x_kc| <= D/2 (m = |k - kc|),
 * so d_k^2 - d_kc^2 >= m (m - 1) (D s')^2; outside [-1, 1] it is >= m^2 (D s')^2.
 * reach = floor(sqrt(72) / (D s')) + 2 makes every skipped weight < e^-36
 * (relative 2e-16, far below one unit at 31-bit precision); they count as 0.
 *
 * Quantisation (M = 2^prec, free = M - 256): S_k = sum_{j<k} w_j in index
 * order, G(k) = floor(S_k / Z * free), C(k) = k + G(k).  Partial sums of
 * non-negative doubles are non-decreasing and S_256 / Z = Z / Z = 1 exactly,
 * so C is strictly increasing with C(256) = M: every byte has freq >= 1.
 */
#include "ans/ans_internal.h"
#include "common/detmath.h"
#include <math.h>

#define LIK8_SQRT72 8.4852813742385702   /* sqrt(2 * 36) */

vdm_status vdm_ans_lik8_init(vdm_ans_lik8 *p, float alpha0, float gamma0, unsigned prec)
{
    VDM_RETURN_IF(!p || !isfinite(alpha0) || !(alpha0 > 0.0f) || !isfinite(gamma0), VDM_ERR_ARG);
    VDM_RETURN_IF(gamma0 > 100.0f || gamma0 < -100.0f || prec < 9 || prec > VDM_ANS_PREC_MAX, VDM_ERR_ARG);
    p->alpha0 = (double)alpha0;
    p->inv_scale = vdm_exp(-0.5 * (double)gamma0);
    p->prec = prec;
    double r = LIK8_SQRT72 / ((2.0 / 255.0) * p->inv_scale) + 2.0;
    p->reach = (r >= 255.0) ? 255 : (int)r;
    double ds = (2.0 / 255.0) * p->inv_scale;
    p->q = vdm_exp(-ds * ds);
    return VDM_OK;
}

/* The quantised CDF for one z0: C(k) for k in [wlo, whi + 1] from the partial
 * sums; below wlo C(k) = k, above whi + 1 C(k) = k + free. */
typedef struct {
    int wlo, whi;
    uint64_t spare;         /* 2^prec - 256 */
    double z;
    double S[257];          /* S[i] = sum of weights wlo .. wlo+i-1 */
} lik8_cdf;

static void lik8_build(const vdm_ans_lik8 *p, float z0, lik8_cdf *c)
{
    double u = (double)z0 / p->alpha0;
    double uc = u < -1.0 ? -1.0 : (u > 1.0 ? 1.0 : u);
    int kc = (int)((uc + 1.0) * 127.5 + 0.5);   /* in [0.5, 255.5] before truncation */
    c->wlo = kc - p->reach < 0 ? 0 : kc - p->reach;
    c->whi = kc + p->reach > 255 ? 255 : kc + p->reach;
    c->spare = (UINT64_C(1) << p->prec) - 256;
    /* Weights outwards from kc.  With D = 2/255 and side sign sd = +-1,
     *   e_m = l_{kc + sd m} - l_kc = A m^2 + B m,  A = -(D s')^2 / 2,
     *   B = -sd (D s') (s' (x_kc - u)),
     * so the ratio r_m = w_{m+1} / w_m = exp(A (2m + 1) + B) = r_0 q^m with
     * q = exp(2A): two exps per symbol.  A + B <= 0 up to rounding (kc
     * maximises l), so every factor is <= 1 and nothing overflows. */
    double w[256];
    double ds = (2.0 / 255.0) * p->inv_scale;
    double A = -0.5 * ds * ds;
    double off = p->inv_scale * ((double)(2 * kc - 255) / 255.0 - u);
    w[kc] = 1.0;
    for (int sd = -1; sd <= 1; sd += 2) {
        int end = sd < 0 ? c->wlo : c->whi;
        double r = vdm_exp(A - (double)sd * ds * off), wk = 1.0;
        for (int k = kc + sd; sd < 0 ? k >= end : k <= end; k += sd) {
            wk *= r;
            r *= p->q;
            w[k] = wk;
        }
    }
    double s = 0.0;
    c->S[0] = 0.0;
    for (int k = c->wlo; k <= c->whi; k++) {
        s += w[k];
        c->S[k - c->wlo + 1] = s;
    }
    c->z = s;
}

static inline uint64_t lik8_C(const lik8_cdf *c, int k)
{
    if (k <= c->wlo) return (uint64_t)k;
    if (k > c->whi) return (uint64_t)k + c->spare;
    return (uint64_t)k + (uint64_t)(c->S[k - c->wlo] / c->z * (double)c->spare);
}

vdm_status vdm_ans_lik8_push(vdm_ans *a, const vdm_ans_lik8 *p, float z0, uint8_t x)
{
    VDM_RETURN_IF(!a || !p || !isfinite(z0), VDM_ERR_ARG);
    lik8_cdf c;
    lik8_build(p, z0, &c);
    uint64_t lo = lik8_C(&c, x), hi = lik8_C(&c, x + 1);
    return vdm_ans_push(a, (uint32_t)lo, (uint32_t)(hi - lo), p->prec);
}

vdm_status vdm_ans_lik8_pop(vdm_ans *a, const vdm_ans_lik8 *p, float z0, uint8_t *x)
{
    VDM_RETURN_IF(!a || !p || !x || !isfinite(z0), VDM_ERR_ARG);
    VDM_RETURN_IF(a->mode == ANS_MODE_UNCLEAN, VDM_ERR_ARG);
    lik8_cdf c;
    lik8_build(p, z0, &c);
    uint64_t y = vdm_ans_peek(a, p->prec);
    int k;
    if (y < (uint64_t)c.wlo) k = (int)y;
    else if (y >= (uint64_t)c.whi + 1 + c.spare) k = (int)(y - c.spare);
    else {
        int lo = c.wlo, hi = c.whi + 1;          /* C(lo) <= y < C(hi) */
        while (hi - lo > 1) {
            int mid = (lo + hi) / 2;
            if (lik8_C(&c, mid) <= y) lo = mid; else hi = mid;
        }
        k = lo;
    }
    uint64_t lo = lik8_C(&c, k), hi = lik8_C(&c, k + 1);
    VDM_FORWARD(vdm_ans_pop_advance(a, (uint32_t)lo, (uint32_t)(hi - lo), p->prec));
    *x = (uint8_t)k;
    return VDM_OK;
}

vdm_status vdm_ans_lik8_freqs(const vdm_ans_lik8 *p, float z0, uint32_t freq[256])
{
    VDM_RETURN_IF(!p || !freq || !isfinite(z0), VDM_ERR_ARG);
    lik8_cdf c;
    lik8_build(p, z0, &c);
    for (int k = 0; k < 256; k++) freq[k] = (uint32_t)(lik8_C(&c, k + 1) - lik8_C(&c, k));
    return VDM_OK;
}

double vdm_ans_lik8_bits(const vdm_ans_lik8 *p, float z0, uint8_t x)
{
    if (!p || !isfinite(z0)) return 0.0;
    lik8_cdf c;
    lik8_build(p, z0, &c);
    double f = (double)(lik8_C(&c, x + 1) - lik8_C(&c, x));
    return (double)p->prec - vdm_log(f) / 0.69314718055994530942;
}

static vdm_status z_check(const vdm_ans *a, const vdm_ans_lik8 *p, size_t n, const void *x, const float *z0)
{
    VDM_RETURN_IF(!a || !p || (n && (!x || !z0)), VDM_ERR_ARG);
    for (size_t i = 0; i < n; i++) VDM_RETURN_IF(!isfinite(z0[i]), VDM_ERR_ARG);
    return VDM_OK;
}

vdm_status vdm_ans_lik8_push_vec(vdm_ans *a, const vdm_ans_lik8 *p, size_t n, const uint8_t *x, const float *z0)
{
    VDM_FORWARD(z_check(a, p, n, x, z0));
    VDM_RETURN_IF(a->mode == ANS_MODE_CLEAN, VDM_ERR_ARG);
    for (size_t i = n; i-- > 0;) VDM_FORWARD(vdm_ans_lik8_push(a, p, z0[i], x[i]));
    return VDM_OK;
}

vdm_status vdm_ans_lik8_pop_vec(vdm_ans *a, const vdm_ans_lik8 *p, size_t n, uint8_t *x, const float *z0)
{
    VDM_FORWARD(z_check(a, p, n, x, z0));
    VDM_RETURN_IF(a->mode == ANS_MODE_UNCLEAN, VDM_ERR_ARG);
    for (size_t i = 0; i < n; i++) VDM_FORWARD(vdm_ans_lik8_pop(a, p, z0[i], &x[i]));
    return VDM_OK;
}
