/* schedule.c — the noise schedule gamma(t): fixed linear, or VDM's learned
 * monotone network (App. H) rescaled to learned endpoints (App. I.2, eq. 59).
 *
 * Everything runs in float64 with detmath (no libm) in a fixed order: the
 * coding path reads gamma(i/T) from here, so these bits are part of the
 * format (format-spec/weights.md, "schedule").
 *
 * Derivatives used by the backward (A = g1 - g0, D = gt(1) - gt(0),
 * n = (gt(t) - gt(0)) / D, gp = gt'(t)):
 *   gamma  = g0 + A n                 gamma' = A gp / D
 *   dgamma/dg0 = 1 - n,  /dg1 = n,    /dgt(t) = A/D,
 *          /dgt(0) = A (n - 1)/D,     /dgt(1) = -A n / D
 *   dgamma'/dg0 = -gp/D, /dg1 = gp/D, /dgp(t) = A/D,
 *          /dgt(1) = -A gp / D^2,     /dgt(0) = A gp / D^2
 * and with u = 2t - 1, a_j = |w2_j| u + b2_j, s_j = sigmoid(a_j),
 * s'_j = s_j (1 - s_j), s''_j = s'_j (1 - 2 s_j):
 *   gt(t) = |w1| t + (1/H) sum_j |w3_j| (2 s_j - 1)
 *   gp(t) = |w1|   + (4/H) sum_j |w3_j| |w2_j| s'_j                     */
#include <stdlib.h>
#include <string.h>
#include "model/model_internal.h"

double vdm_softplus_d(double x)
{
    /* log(1 + e^x) without overflow: for x > 0, x + log1p(e^-x). */
    if (x > 0.0) return x + vdm_log1p(vdm_exp(-x));
    return vdm_log1p(vdm_exp(x));
}

static double sigmoid_d(double a) { return 1.0 / (1.0 + vdm_exp(-a)); }
static double sgn(double w) { return w > 0.0 ? 1.0 : (w < 0.0 ? -1.0 : 0.0); }
static double absd(double w) { return w < 0.0 ? -w : w; }

vdm_status vdm_sched_config_check(const vdm_sched_config *c)
{
    VDM_RETURN_IF(!c, VDM_ERR_ARG);
    if (c->kind == VDM_SCHED_LINEAR) return c->hidden == 0 ? VDM_OK : VDM_ERR_ARG;
    if (c->kind == VDM_SCHED_LEARNED)
        return (c->hidden >= 1 && c->hidden <= VDM_SCHED_MAX_HIDDEN) ? VDM_OK : VDM_ERR_ARG;
    return VDM_ERR_ARG;
}

size_t vdm_sched_param_count(const vdm_sched_config *c)
{
    if (c->kind == VDM_SCHED_LEARNED) return 3 + 3 * (size_t)c->hidden;
    return 2;
}

/* Views into the LEARNED block. */
typedef struct { double g0, g1, w1; const float *w2, *b2, *w3; int H; } sched_view;

static sched_view view_of(const vdm_sched_config *c, const float *p)
{
    sched_view v;
    v.g0 = p[0];
    v.g1 = p[1];
    v.H = c->kind == VDM_SCHED_LEARNED ? c->hidden : 0;
    v.w1 = v.H ? p[2] : 0.0;
    v.w2 = p + 3;
    v.b2 = p + 3 + v.H;
    v.w3 = p + 3 + 2 * (size_t)v.H;
    return v;
}

void vdm_sched_init(const vdm_sched_config *c, float *p, double g0, double g1, uint64_t seed)
{
    p[0] = (float)g0;
    p[1] = (float)g1;
    if (c->kind != VDM_SCHED_LEARNED) return;
    int H = c->hidden;
    /* VDM's init: l1 weight = g1 - g0 (so the linear part dominates), l2 and
     * l3 weights standard normal, l2 bias 0.  The nonlinear part adds at most
     * mean|w3| to gt, small against g1 - g0: the initial schedule is close to
     * linear. */
    p[2] = (float)(g1 - g0);
    vdm_rng r;
    vdm_rng_seed(&r, seed ^ 0x5C4EDu);
    vdm_rng_normal(&r, p + 3, (size_t)H);
    memset(p + 3 + H, 0, sizeof(float) * (size_t)H);
    vdm_rng_normal(&r, p + 3 + 2 * (size_t)H, (size_t)H);
}

/* gt(t) and (optionally) gp(t) = gt'(t). */
static void gt_eval(const sched_view *v, double t, double *gt, double *gp)
{
    double u = 2.0 * t - 1.0, acc = 0.0, accp = 0.0;
    for (int j = 0; j < v->H; j++) {
        double w2 = absd(v->w2[j]), w3 = absd(v->w3[j]);
        double s = sigmoid_d(w2 * u + (double)v->b2[j]);
        acc += w3 * (2.0 * s - 1.0);
        if (gp) accp += w3 * w2 * (s * (1.0 - s));
    }
    double H = (double)v->H;
    *gt = absd(v->w1) * t + acc / H;
    if (gp) *gp = absd(v->w1) + 4.0 * accp / H;
}

vdm_status vdm_sched_check(const vdm_sched_config *c, const float *p)
{
    VDM_FORWARD(vdm_sched_config_check(c));
    size_t n = vdm_sched_param_count(c);
    for (size_t k = 0; k < n; k++) {
        uint32_t bits;
        memcpy(&bits, &p[k], 4);
        VDM_RETURN_IF((bits & 0x7f800000u) == 0x7f800000u, VDM_ERR_CORRUPT); /* inf/NaN */
    }
    VDM_RETURN_IF(!(p[1] > p[0]), VDM_ERR_CORRUPT);
    if (c->kind == VDM_SCHED_LEARNED) {
        sched_view v = view_of(c, p);
        double a, b;
        gt_eval(&v, 0.0, &a, NULL);
        gt_eval(&v, 1.0, &b, NULL);
        VDM_RETURN_IF(!(b - a > 0.0) || !(b - a < 1e300), VDM_ERR_CORRUPT);
    }
    return VDM_OK;
}

void vdm_sched_eval(const vdm_sched_config *c, const float *p, int n, const double *t,
                    double *gamma, double *dgamma_dt)
{
    sched_view v = view_of(c, p);
    double A = v.g1 - v.g0;
    if (c->kind != VDM_SCHED_LEARNED) {
        for (int k = 0; k < n; k++) {
            gamma[k] = v.g0 + A * t[k];
            if (dgamma_dt) dgamma_dt[k] = A;
        }
        return;
    }
    double gt0, gt1;
    gt_eval(&v, 0.0, &gt0, NULL);
    gt_eval(&v, 1.0, &gt1, NULL);
    double D = gt1 - gt0;
    for (int k = 0; k < n; k++) {
        double gt, gp;
        gt_eval(&v, t[k], &gt, dgamma_dt ? &gp : NULL);
        gamma[k] = v.g0 + A * ((gt - gt0) / D);
        if (dgamma_dt) dgamma_dt[k] = A * gp / D;
    }
}

/* acc_* += coef_gt * dgt(t)/dparams + coef_gp * dgp(t)/dparams. */
static void gt_backward(const sched_view *v, double t, double coef_gt, double coef_gp,
                        double *d_w1, double *d_w2, double *d_b2, double *d_w3)
{
    double H = (double)v->H, u = 2.0 * t - 1.0;
    *d_w1 += sgn(v->w1) * (coef_gt * t + coef_gp);
    for (int j = 0; j < v->H; j++) {
        double w2 = absd(v->w2[j]), w3 = absd(v->w3[j]);
        double s = sigmoid_d(w2 * u + (double)v->b2[j]);
        double s1 = s * (1.0 - s), s2 = s1 * (1.0 - 2.0 * s);
        /* through gt */
        double g_w3 = (2.0 * s - 1.0) / H;
        double g_a = w3 * 2.0 * s1 / H;               /* dgt/da_j */
        /* through gp */
        double p_w3 = 4.0 * w2 * s1 / H;
        double p_w2abs = 4.0 * w3 * s1 / H;           /* direct |w2| factor */
        double p_a = 4.0 * w3 * w2 * s2 / H;          /* dgp/da_j */
        double d_a = coef_gt * g_a + coef_gp * p_a;
        d_w3[j] += sgn(v->w3[j]) * (coef_gt * g_w3 + coef_gp * p_w3);
        d_w2[j] += sgn(v->w2[j]) * (d_a * u + coef_gp * p_w2abs);
        d_b2[j] += d_a;
    }
}

vdm_status vdm_sched_backward(const vdm_sched_config *c, const float *p, int n, const double *t,
                              const double *dgamma, const double *ddgdt, float *dp)
{
    sched_view v = view_of(c, p);
    double A = v.g1 - v.g0;
    double d_g0 = 0.0, d_g1 = 0.0;
    if (c->kind != VDM_SCHED_LEARNED) {
        for (int k = 0; k < n; k++) {
            double dg = dgamma ? dgamma[k] : 0.0, dd = ddgdt ? ddgdt[k] : 0.0;
            d_g0 += dg * (1.0 - t[k]) - dd;
            d_g1 += dg * t[k] + dd;
        }
        dp[0] += (float)d_g0;
        dp[1] += (float)d_g1;
        return VDM_OK;
    }
    int H = v.H;
    double *acc = (double *)calloc(3 * (size_t)H, sizeof(double));
    VDM_RETURN_IF(!acc, VDM_ERR_NOMEM);
    double d_w1 = 0.0;
    double *d_w2 = acc, *d_b2 = acc + H, *d_w3 = acc + 2 * (size_t)H;
    double gt0, gt1;
    gt_eval(&v, 0.0, &gt0, NULL);
    gt_eval(&v, 1.0, &gt1, NULL);
    double D = gt1 - gt0;
    double d_gt0 = 0.0, d_gt1 = 0.0;
    for (int k = 0; k < n; k++) {
        double dg = dgamma ? dgamma[k] : 0.0, dd = ddgdt ? ddgdt[k] : 0.0;
        if (dg == 0.0 && dd == 0.0) continue;
        double gt, gp;
        gt_eval(&v, t[k], &gt, &gp);
        double nn = (gt - gt0) / D;
        d_g0 += dg * (1.0 - nn) - dd * gp / D;
        d_g1 += dg * nn + dd * gp / D;
        d_gt0 += dg * A * (nn - 1.0) / D + dd * A * gp / (D * D);
        d_gt1 += -dg * A * nn / D - dd * A * gp / (D * D);
        gt_backward(&v, t[k], dg * A / D, dd * A / D, &d_w1, d_w2, d_b2, d_w3);
    }
    /* the two normalisation points */
    gt_backward(&v, 0.0, d_gt0, 0.0, &d_w1, d_w2, d_b2, d_w3);
    gt_backward(&v, 1.0, d_gt1, 0.0, &d_w1, d_w2, d_b2, d_w3);
    for (int j = 0; j < 3 * H; j++) dp[3 + j] += (float)acc[j];
    free(acc);
    dp[0] += (float)d_g0;
    dp[1] += (float)d_g1;
    dp[2] += (float)d_w1;
    return VDM_OK;
}
