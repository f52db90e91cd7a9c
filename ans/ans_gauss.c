/* ans_gauss.c — N(mu, sigma^2) discretised on the grid {k delta}, window + escape.
 *
 * Quantisation (M = 2^prec, window [klo, khi] of W values, free = M - W - 2):
 *   t(k) = (((double)k - 0.5) * delta - mu) * (1 / sigma)      left bin edge
 *   G(k) = floor(Phi(t(k)) * free)                              in [0, free]
 *   C(j) = 1 + j + G(klo + j),  j = 0..W
 *   left escape  [0, C(0)),   value klo + j  [C(j), C(j+1)),
 *   right escape [C(W), M).
 * t(k) is monotone in k (each double operation rounds monotonically and
 * 1/sigma > 0), Phi (vdm_ans__phi) is monotone in t by construction, so G is
 * non-decreasing and every symbol has freq >= 1 — whatever the rounding of the
 * underlying normal CDF.  The window never touches INT32_MIN or INT32_MAX, so
 * each escape side has at least one value and a pop from any slot decodes to
 * exactly one int32 (needed because bits-back pops from arbitrary bits).
 * An escape is followed by the offset into its side, uniform over the side.
 *
 * Phi: the knots -8 + i/1024 (i = 0..16384) hold vdm_norm_cdf, made
 * non-decreasing by a running max and pinned to 0 and 1 at the ends; between
 * knots linear interpolation clamped to the two knot values.  Interpolation
 * error <= h^2/8 max|phi'| = 2^-20/8 * 0.242 < 3e-8; the mass beyond +-8
 * (6e-16) is at most one unit of the finest precision.
 */
#include "ans/ans_internal.h"
#include "common/detmath.h"
#include <math.h>
#include <pthread.h>

#define PHI_LIM 8
#define PHI_STEPS 1024                            /* knots per unit */
#define PHI_KNOTS (2 * PHI_LIM * PHI_STEPS + 1)
#define WINDOW_SIGMAS 7.0

#define INV_STEPS 1024                            /* inverse table: Phi^-1(i / 1024) */

static double phi_tab[PHI_KNOTS];
static double inv_tab[INV_STEPS + 1];
static pthread_once_t phi_once = PTHREAD_ONCE_INIT;

static void phi_build(void)
{
    double prev = 0.0;
    for (int i = 0; i < PHI_KNOTS; i++) {
        double v = vdm_norm_cdf(-(double)PHI_LIM + (double)i / PHI_STEPS);
        if (!(v >= prev)) v = prev;               /* also catches NaN */
        if (v > 1.0) v = 1.0;
        phi_tab[i] = prev = v;
    }
    phi_tab[0] = 0.0;
    phi_tab[PHI_KNOTS - 1] = 1.0;
    /* Phi^-1 at i/1024 by bisection on the knots, for the decoder's first
     * guess only: the decoded symbol never depends on it (see gauss_pop). */
    int j = 0;
    for (int i = 0; i <= INV_STEPS; i++) {
        double f = (double)i / INV_STEPS;
        while (j < PHI_KNOTS - 2 && phi_tab[j + 1] < f) j++;
        double d = phi_tab[j + 1] - phi_tab[j];
        double fr = d > 0 ? (f - phi_tab[j]) / d : 0.0;
        if (fr < 0) fr = 0;
        if (fr > 1) fr = 1;
        inv_tab[i] = -(double)PHI_LIM + ((double)j + fr) / PHI_STEPS;
    }
}

static void phi_init(void) { pthread_once(&phi_once, phi_build); }

double vdm_ans__phi(double t)
{
    if (!(t > -(double)PHI_LIM)) return 0.0;
    if (t >= (double)PHI_LIM) return 1.0;
    double u = (t + (double)PHI_LIM) * (double)PHI_STEPS;  /* exact scaling by 2^10 */
    int i = (int)u;
    if (i > PHI_KNOTS - 2) i = PHI_KNOTS - 2;
    double fr = u - (double)i;                                  /* exact */
    double v0 = phi_tab[i], v1 = phi_tab[i + 1];
    double f = v0 + (v1 - v0) * fr;
    if (f > v1) f = v1;
    if (f < v0) f = v0;
    return f;
}

/* -------------------------------------------------------------- helpers */
static inline uint64_t gauss_G(const vdm_ans_gauss *g, int64_t k)
{
    double t = (((double)k - 0.5) * g->delta - g->mu) * g->inv_sigma;
    return (uint64_t)(vdm_ans__phi(t) * (double)g->spare);
}

/* C(j) for j in [0, W] */
static inline uint64_t gauss_C(const vdm_ans_gauss *g, int64_t j)
{
    if (g->trunc) {
        int64_t W = g->khi - g->klo + 1;
        if (j <= 0) return 0;
        if (j >= W) return UINT64_C(1) << g->prec;
        return (uint64_t)j + gauss_G(g, g->klo + j);
    }
    return 1 + (uint64_t)j + gauss_G(g, g->klo + j);
}

/* C extended with C(-1) = 0 and C(W+1) = M */
static inline uint64_t gauss_Cx(const vdm_ans_gauss *g, int64_t j, int64_t W, uint64_t M)
{
    if (j < 0) return 0;
    if (j > W) return M;
    return gauss_C(g, j);
}

/* A first guess at the window index decoding slot y, in [-1, W + 1]. */
static int64_t gauss_guess(const vdm_ans_gauss *g, uint64_t y, int64_t W)
{
    double f = ((double)y + 0.5) / ((double)g->spare + (double)W + 2.0);
    double u = f * INV_STEPS;
    int i = (int)u;
    if (i >= INV_STEPS) i = INV_STEPS - 1;
    double t = inv_tab[i] + (inv_tab[i + 1] - inv_tab[i]) * (u - (double)i);
    /* t is a left bin edge: k = floor((t sigma + mu) / delta + 1/2) */
    double k = (t / g->inv_sigma + g->mu) / g->delta + 0.5 - (double)g->klo;
    if (!(k > -1.0)) return -1;                   /* also NaN */
    if (k > (double)W + 1.0) return W + 1;
    return (int64_t)k;
}

/* floor for |c| < 2^62 without libm */
static int64_t floor_i64(double c)
{
    int64_t f = (int64_t)c;
    if ((double)f > c) f--;
    return f;
}

static int gauss_args_ok(float mu, float sigma, float delta, unsigned prec)
{
    return isfinite(mu) && isfinite(sigma) && sigma > 0.0f && isfinite(delta) && delta > 0.0f &&
           prec >= VDM_ANS_GAUSS_PREC_MIN && prec <= VDM_ANS_PREC_MAX;
}

vdm_status vdm_ans_gauss_init(vdm_ans_gauss *g, float mu, float sigma, float delta, unsigned prec)
{
    VDM_RETURN_IF(!g || !gauss_args_ok(mu, sigma, delta, prec), VDM_ERR_ARG);
    phi_init();
    /* float inputs keep every intermediate finite in double: |k delta| <= 2^31 *
     * 3.4e38 and 1/sigma <= 1/1.4e-45 give |t| < 1e93. */
    const double lo_lim = (double)INT32_MIN + 1.0, hi_lim = (double)INT32_MAX - 1.0;
    g->mu = (double)mu;
    g->delta = (double)delta;
    g->inv_sigma = 1.0 / (double)sigma;
    g->prec = prec;
    double c = g->mu / g->delta + 0.5;
    if (c < lo_lim) c = lo_lim;
    if (c > hi_lim) c = hi_lim;
    int64_t centre = floor_i64(c);
    int64_t hw_max = ((int64_t)1 << (prec - 2)) - 2;       /* W + 2 <= 2^(prec-1) */
    double r = WINDOW_SIGMAS * ((double)sigma / g->delta);  /* >= 0, maybe huge */
    int64_t hw = (r < (double)hw_max) ? (int64_t)r + 2 : hw_max;
    if (hw > hw_max) hw = hw_max;
    g->klo = centre - hw;
    g->khi = centre + hw;
    if (g->klo < (int64_t)INT32_MIN + 1) g->klo = (int64_t)INT32_MIN + 1;
    if (g->khi > (int64_t)INT32_MAX - 1) g->khi = (int64_t)INT32_MAX - 1;
    uint64_t W = (uint64_t)(g->khi - g->klo + 1);
    g->spare = (UINT64_C(1) << prec) - W - 2;
    g->trunc = 0;
    return VDM_OK;
}

vdm_status vdm_ans_gauss_init_trunc(vdm_ans_gauss *g, float mu, float sigma, float delta, unsigned prec)
{
    VDM_FORWARD(vdm_ans_gauss_init(g, mu, sigma, delta, prec));
    /* same window; its values share 2^prec - W (at least 2 more units than
     * the escaped form, since W + 2 <= 2^(prec-1)) */
    g->spare += 2;
    g->trunc = 1;
    return VDM_OK;
}

/* the symbol coding k: start/freq of the window value or of the escape */
static void gauss_slot(const vdm_ans_gauss *g, int64_t k, uint64_t *start, uint64_t *freq, int *side)
{
    uint64_t M = UINT64_C(1) << g->prec;
    if (g->trunc) {
        if (k < g->klo || k > g->khi) { *side = 2; *start = 0; *freq = 0; return; }
        *side = 0;
        *start = gauss_C(g, k - g->klo);
        *freq = gauss_C(g, k - g->klo + 1) - *start;
        return;
    }
    if (k < g->klo) {
        *side = -1;
        *start = 0;
        *freq = 1 + gauss_G(g, g->klo);
    } else if (k > g->khi) {
        *side = 1;
        *start = gauss_C(g, g->khi - g->klo + 1);
        *freq = M - *start;
    } else {
        *side = 0;
        uint64_t g0 = gauss_G(g, k), g1 = gauss_G(g, k + 1);
        *start = 1 + (uint64_t)(k - g->klo) + g0;
        *freq = 1 + g1 - g0;
    }
}

/* offset of an escaped k inside its side, and the side's size (>= 1) */
static void escape_offset(const vdm_ans_gauss *g, int64_t k, int side, uint64_t *idx, uint64_t *count)
{
    if (side < 0) { *idx = (uint64_t)(g->klo - 1 - k); *count = (uint64_t)(g->klo - (int64_t)INT32_MIN); }
    else          { *idx = (uint64_t)(k - g->khi - 1); *count = (uint64_t)((int64_t)INT32_MAX - g->khi); }
}

vdm_status vdm_ans_gauss_push(vdm_ans *a, const vdm_ans_gauss *g, int32_t k)
{
    VDM_RETURN_IF(!a || !g, VDM_ERR_ARG);
    uint64_t start, freq, idx, count;
    int side;
    gauss_slot(g, k, &start, &freq, &side);
    if (side == 0) return vdm_ans_push(a, (uint32_t)start, (uint32_t)freq, g->prec);
    VDM_RETURN_IF(side == 2, VDM_ERR_ARG);   /* truncated: outside the window */
    escape_offset(g, k, side, &idx, &count);
    VDM_FORWARD(vdm_ans_uniform_push(a, (uint32_t)idx, count));
    vdm_status st = vdm_ans_push(a, (uint32_t)start, (uint32_t)freq, g->prec);
    if (st != VDM_OK) {                           /* keep the stack unchanged */
        uint32_t dummy;
        (void)vdm_ans_uniform_pop(a, count, &dummy);
    }
    return st;
}

vdm_status vdm_ans_gauss_pop(vdm_ans *a, const vdm_ans_gauss *g, int32_t *k)
{
    VDM_RETURN_IF(!a || !g || !k, VDM_ERR_ARG);
    VDM_RETURN_IF(a->mode == ANS_MODE_UNCLEAN, VDM_ERR_ARG);
    uint64_t M = UINT64_C(1) << g->prec;
    uint64_t y = vdm_ans_peek(a, g->prec);
    int64_t W = g->khi - g->klo + 1;
    /* Wanted: the largest j in [-1, W] with C(j) <= y, where C(-1) = 0 and
     * C(W+1) = M.  C is strictly increasing, so that j is unique and the
     * search path cannot change it: start at a guess from the inverse CDF
     * (usually exact, as C(j) ~ j + Phi(t) free), gallop outwards until
     * bracketed, then bisect — O(1) typically, O(log W) at worst. */
    int64_t j = gauss_guess(g, y, W);
    int64_t lo, hi;
    uint64_t clo, chi;
    uint64_t cj = gauss_Cx(g, j, W, M);
    if (cj <= y) {
        lo = j; clo = cj;
        for (int64_t step = 1;; step *= 2) {
            hi = j + step > W + 1 ? W + 1 : j + step;
            chi = gauss_Cx(g, hi, W, M);
            if (chi > y) break;
            lo = hi; clo = chi;
        }
    } else {
        hi = j; chi = cj;
        for (int64_t step = 1;; step *= 2) {
            lo = j - step < -1 ? -1 : j - step;
            clo = gauss_Cx(g, lo, W, M);
            if (clo <= y) break;
            hi = lo; chi = clo;
        }
    }
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        uint64_t cm = gauss_C(g, mid);
        if (cm <= y) { lo = mid; clo = cm; } else { hi = mid; chi = cm; }
    }
    VDM_FORWARD(vdm_ans_pop_advance(a, (uint32_t)clo, (uint32_t)(chi - clo), g->prec));
    if (lo >= 0 && lo < W) { *k = (int32_t)(g->klo + lo); return VDM_OK; }
    VDM_RETURN_IF(g->trunc, VDM_ERR_INTERNAL);   /* C(0) = 0, C(W) = M: unreachable */
    uint64_t count = (lo < 0) ? (uint64_t)(g->klo - (int64_t)INT32_MIN) : (uint64_t)((int64_t)INT32_MAX - g->khi);
    uint32_t idx;
    VDM_FORWARD(vdm_ans_uniform_pop(a, count, &idx));
    *k = (int32_t)((lo < 0) ? g->klo - 1 - (int64_t)idx : g->khi + 1 + (int64_t)idx);
    return VDM_OK;
}

uint32_t vdm_ans_gauss_freq(const vdm_ans_gauss *g, int32_t k, int *escaped)
{
    uint64_t start, freq;
    int side;
    if (!g) return 0;
    gauss_slot(g, k, &start, &freq, &side);
    if (escaped) *escaped = side != 0;
    if (side == 2) return 0;
    return (uint32_t)freq;
}

/* cost of s under vdm_ans_uniform_push(n), mirroring its quantisation */
static double log2d(double v) { return vdm_log(v) / 0.69314718055994530942; }
static double uniform1_bits(uint64_t s, uint64_t n)
{
    if (!(n & (n - 1))) return (double)__builtin_ctzll(n);
    uint64_t lo = (s << 24) / n, hi = ((s + 1) << 24) / n;
    return 24.0 - log2d((double)(hi - lo));
}
static double uniform_bits(uint64_t s, uint64_t n)
{
    if (n <= 1) return 0.0;
    if (n <= 65536 || (!(n & (n - 1)) && n <= (UINT64_C(1) << 31))) return uniform1_bits(s, n);
    uint64_t nh = ((n - 1) >> 16) + 1, hi = s >> 16;
    uint64_t nl = (hi == nh - 1) ? n - ((nh - 1) << 16) : 65536;
    return uniform1_bits(hi, nh) + (nl > 1 ? uniform1_bits(s & 0xffffu, nl) : 0.0);
}

double vdm_ans_gauss_bits(const vdm_ans_gauss *g, int32_t k)
{
    uint64_t start, freq, idx, count;
    int side;
    if (!g) return 0.0;
    gauss_slot(g, k, &start, &freq, &side);
    if (side == 2) return 1e300;                 /* cannot be coded */
    double b = (double)g->prec - log2d((double)freq);
    if (side != 0) {
        escape_offset(g, k, side, &idx, &count);
        b += uniform_bits(idx, count);
    }
    return b;
}

/* ---------------------------------------------------------------- vectors */
static vdm_status vec_check(vdm_ans *a, size_t n, const void *k, const float *mu, const float *sigma,
                            size_t sigma_stride, float delta, unsigned prec)
{
    VDM_RETURN_IF(!a || (n && (!k || !mu || !sigma)), VDM_ERR_ARG);
    for (size_t i = 0; i < n; i++)
        VDM_RETURN_IF(!gauss_args_ok(mu[i], sigma[i * sigma_stride], delta, prec), VDM_ERR_ARG);
    return VDM_OK;
}

vdm_status vdm_ans_gauss_push_vec(vdm_ans *a, size_t n, const int32_t *k, const float *mu,
                                  const float *sigma, size_t sigma_stride, float delta, unsigned prec)
{
    VDM_FORWARD(vec_check(a, n, k, mu, sigma, sigma_stride, delta, prec));
    VDM_RETURN_IF(a->mode == ANS_MODE_CLEAN, VDM_ERR_ARG);
    for (size_t i = n; i-- > 0;) {
        vdm_ans_gauss g;
        VDM_FORWARD(vdm_ans_gauss_init(&g, mu[i], sigma[i * sigma_stride], delta, prec));
        VDM_FORWARD(vdm_ans_gauss_push(a, &g, k[i]));
    }
    return VDM_OK;
}

vdm_status vdm_ans_gauss_pop_vec(vdm_ans *a, size_t n, int32_t *k, const float *mu,
                                 const float *sigma, size_t sigma_stride, float delta, unsigned prec)
{
    VDM_FORWARD(vec_check(a, n, k, mu, sigma, sigma_stride, delta, prec));
    VDM_RETURN_IF(a->mode == ANS_MODE_UNCLEAN, VDM_ERR_ARG);
    for (size_t i = 0; i < n; i++) {
        vdm_ans_gauss g;
        VDM_FORWARD(vdm_ans_gauss_init(&g, mu[i], sigma[i * sigma_stride], delta, prec));
        VDM_FORWARD(vdm_ans_gauss_pop(a, &g, &k[i]));
    }
    return VDM_OK;
}

static vdm_status trunc_push_vec(vdm_ans *a, size_t n, const int32_t *k, const float *mu,
                                 const float *sigma, size_t sigma_stride, float delta, unsigned prec)
{
    for (size_t i = n; i-- > 0;) {
        vdm_ans_gauss g;
        VDM_FORWARD(vdm_ans_gauss_init_trunc(&g, mu[i], sigma[i * sigma_stride], delta, prec));
        VDM_FORWARD(vdm_ans_gauss_push(a, &g, k[i]));
    }
    return VDM_OK;
}

static vdm_status trunc_pop_vec(vdm_ans *a, size_t n, int32_t *k, const float *mu,
                                const float *sigma, size_t sigma_stride, float delta, unsigned prec)
{
    for (size_t i = 0; i < n; i++) {
        vdm_ans_gauss g;
        VDM_FORWARD(vdm_ans_gauss_init_trunc(&g, mu[i], sigma[i * sigma_stride], delta, prec));
        VDM_FORWARD(vdm_ans_gauss_pop(a, &g, &k[i]));
    }
    return VDM_OK;
}

/* ------------------------------------------------------ bits-back helpers */
vdm_status vdm_ans_bb_sample(vdm_ans *a, const uint8_t *key, uint32_t c0, uint32_t c1, uint32_t c2,
                             size_t n, int32_t *k, const float *mu, const float *sigma,
                             size_t sigma_stride, float delta, unsigned prec)
{
    VDM_FORWARD(vec_check(a, n, k, mu, sigma, sigma_stride, delta, prec));
    VDM_RETURN_IF(a->mode != ANS_MODE_NORMAL, VDM_ERR_ARG);
    if (!key) return trunc_pop_vec(a, n, k, mu, sigma, sigma_stride, delta, prec);
    VDM_FORWARD(vdm_ans_clean_begin(a, key, c0, c1, c2));
    vdm_status st = trunc_pop_vec(a, n, k, mu, sigma, sigma_stride, delta, prec);
    vdm_status e = vdm_ans_clean_end(a);
    return st != VDM_OK ? st : e;
}

vdm_status vdm_ans_bb_unsample(vdm_ans *a, const uint8_t *key, uint32_t c0, uint32_t c1, uint32_t c2,
                               size_t n, const int32_t *k, const float *mu, const float *sigma,
                               size_t sigma_stride, float delta, unsigned prec)
{
    VDM_FORWARD(vec_check(a, n, k, mu, sigma, sigma_stride, delta, prec));
    VDM_RETURN_IF(a->mode != ANS_MODE_NORMAL, VDM_ERR_ARG);
    if (!key) return trunc_push_vec(a, n, k, mu, sigma, sigma_stride, delta, prec);
    VDM_FORWARD(vdm_ans_unclean_begin(a, key, c0, c1, c2));
    vdm_status st = trunc_push_vec(a, n, k, mu, sigma, sigma_stride, delta, prec);
    vdm_status e = vdm_ans_unclean_end(a);
    return st != VDM_OK ? st : e;
}
