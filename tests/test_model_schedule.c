/* test_model_schedule.c — the noise schedule gamma(t) and the per-step
 * constants of the coding path.
 *   - gamma and gamma' of the learned schedule: finite differences (in t and
 *     in every parameter) against the analytic backward;
 *   - shape: increasing, exact endpoints, linear schedule formula;
 *   - the constants of vdm_model_consts against an independent float64 libm
 *     computation of VDM App. A (q(z_t|z_s), q(z_s|z_t,x), p(z_s|z_t)),
 *     including the stable forms at extreme gamma. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/model_internal.h"

static vdm_sched_config learned(int H) { vdm_sched_config c = { VDM_SCHED_LEARNED, H }; return c; }

/* A schedule with a visibly nonlinear shape (larger l3 weights than the init). */
static void shaped_params(const vdm_sched_config *c, float *p, uint64_t seed)
{
    vdm_sched_init(c, p, -12.0, 6.0, seed);
    int H = c->hidden;
    for (int j = 0; j < H; j++) p[3 + 2 * H + j] *= 30.0f;   /* w3 */
    for (int j = 0; j < H; j++) p[3 + H + j] = 0.5f * p[3 + j];  /* b2 */
    p[2] = 3.0f;                                             /* w1 */
}

static double gamma_at(const vdm_sched_config *c, const float *p, double t, double *gp)
{
    double g;
    vdm_sched_eval(c, p, 1, &t, &g, gp);
    return g;
}

Test(schedule, learned_shape_and_endpoints)
{
    vdm_sched_config c = learned(64);
    float *p = malloc(sizeof(float) * vdm_sched_param_count(&c));
    shaped_params(&c, p, 3);
    cr_assert_eq(vdm_sched_check(&c, p), VDM_OK);
    cr_assert_eq(gamma_at(&c, p, 0.0, NULL), (double)p[0], "gamma(0) must be g0 exactly");
    cr_assert_eq(gamma_at(&c, p, 1.0, NULL), (double)p[1], "gamma(1) must be g1 exactly");
    double prev = -1e300, maxdev = 0.0;
    for (int i = 0; i <= 1000; i++) {
        double t = i / 1000.0, gp;
        double g = gamma_at(&c, p, t, &gp);
        cr_assert(g > prev, "gamma must increase (t=%g)", t);
        cr_assert(gp > 0.0);
        double lin = p[0] + (p[1] - p[0]) * t;
        if (fabs(g - lin) > maxdev) maxdev = fabs(g - lin);
        prev = g;
    }
    cr_assert(maxdev > 0.1, "the test schedule should be nonlinear (max dev %g)", maxdev);
    /* VDM's init (near-linear) with the full 1024 units */
    vdm_sched_config c2 = learned(1024);
    float *p2 = malloc(sizeof(float) * vdm_sched_param_count(&c2));
    vdm_sched_init(&c2, p2, -13.3, 5.0, 1);
    for (int i = 0; i <= 20; i++) {
        double t = i / 20.0;
        cr_assert(fabs(gamma_at(&c2, p2, t, NULL) - (-13.3 + 18.3 * t)) < 1.0);
    }
    free(p);
    free(p2);
}

Test(schedule, dgamma_dt_matches_finite_difference)
{
    vdm_sched_config c = learned(32);
    float *p = malloc(sizeof(float) * vdm_sched_param_count(&c));
    shaped_params(&c, p, 5);
    for (int i = 1; i < 20; i++) {
        double t = i / 20.0, h = 1e-5, gp;
        gamma_at(&c, p, t, &gp);
        double fd = (gamma_at(&c, p, t + h, NULL) - gamma_at(&c, p, t - h, NULL)) / (2 * h);
        cr_assert(fabs(fd - gp) <= 1e-6 * fabs(gp) + 1e-7, "t=%g: gamma' %g vs fd %g", t, gp, fd);
    }
    free(p);
}

/* d/dparams of  L = sum_k a_k gamma(t_k) + b_k gamma'(t_k)  vs central differences. */
static void check_param_grads(const vdm_sched_config *c, float *p)
{
    enum { NT = 5 };
    const double t[NT] = { 0.0, 0.13, 0.5, 0.77, 1.0 };
    const double a[NT] = { 0.7, -1.3, 0.4, 2.0, -0.6 };
    const double b[NT] = { 0.3, 0.9, -0.5, 0.2, 1.1 };
    size_t n = vdm_sched_param_count(c);
    float *dp = calloc(n, sizeof(float));
    cr_assert_eq(vdm_sched_backward(c, p, NT, t, a, b, dp), VDM_OK);
    int checked = 0;
    for (size_t k = 0; k < n; k++) {
        float keep = p[k];
        float h = fabsf(keep) * 1e-3f + 1e-4f;
        double L[2];
        for (int s = 0; s < 2; s++) {
            p[k] = s ? keep - h : keep + h;
            double g[NT], gp[NT], acc = 0.0;
            vdm_sched_eval(c, p, NT, t, g, gp);
            for (int i = 0; i < NT; i++) acc += a[i] * g[i] + b[i] * gp[i];
            L[s] = acc;
        }
        double step = (double)(keep + h) - (double)(keep - h);
        p[k] = keep;
        double fd = (L[0] - L[1]) / step;
        double an = dp[k];
        cr_assert(fabs(fd - an) <= 2e-3 * fmax(fabs(fd), fabs(an)) + 1e-5,
                  "param %zu: analytic %.9g vs finite difference %.9g", k, an, fd);
        checked++;
    }
    cr_assert_eq((size_t)checked, n);
    free(dp);
}

Test(schedule, learned_param_gradients)
{
    vdm_sched_config c = learned(16);
    float *p = malloc(sizeof(float) * vdm_sched_param_count(&c));
    shaped_params(&c, p, 11);
    check_param_grads(&c, p);
    free(p);
}

Test(schedule, linear_formula_and_gradients)
{
    vdm_sched_config c = { VDM_SCHED_LINEAR, 0 };
    cr_assert_eq(vdm_sched_param_count(&c), 2u);
    float p[2];
    vdm_sched_init(&c, p, -10.0, 4.0, 0);
    for (int i = 0; i <= 10; i++) {
        double t = i / 10.0, gp;
        double g = gamma_at(&c, p, t, &gp);
        cr_assert(fabs(g - (-10.0 + 14.0 * t)) < 1e-12);
        cr_assert(fabs(gp - 14.0) < 1e-12);
    }
    check_param_grads(&c, p);
}

Test(schedule, rejects_invalid_parameters)
{
    vdm_sched_config c = learned(8);
    float *p = malloc(sizeof(float) * vdm_sched_param_count(&c));
    vdm_sched_init(&c, p, -5, 5, 1);
    cr_assert_eq(vdm_sched_check(&c, p), VDM_OK);
    p[1] = -6.0f;   /* g1 < g0 */
    cr_assert_eq(vdm_sched_check(&c, p), VDM_ERR_CORRUPT);
    p[1] = 5.0f;
    p[5] = NAN;
    cr_assert_eq(vdm_sched_check(&c, p), VDM_ERR_CORRUPT);
    vdm_sched_config bad = { VDM_SCHED_LEARNED, 0 };
    cr_assert_eq(vdm_sched_config_check(&bad), VDM_ERR_ARG);
    free(p);
}

Test(schedule, stable_alpha_sigma)
{
    const double gs[] = { -40.0, -13.3, -1e-9, 0.0, 2.5, 13.3, 40.0 };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        double g = gs[i];
        double a2 = vdm_alpha2_d(g), s2 = vdm_sigma2_d(g);
        cr_assert(fabs(a2 - 1.0 / (1.0 + exp(g))) <= 1e-14 + 1e-13 * a2, "alpha^2(%g)", g);
        cr_assert(fabs(s2 - 1.0 / (1.0 + exp(-g))) <= 1e-14 + 1e-13 * s2, "sigma^2(%g)", g);
        cr_assert(s2 > 0.0 && a2 > 0.0, "no underflow to 0 at gamma=%g", g);
        double sp = vdm_softplus_d(g);
        cr_assert(fabs(sp - log1p(exp(g))) <= 1e-13 * fmax(1.0, sp));
    }
}

/* ---- the coding-path constants vs an independent libm computation ---- */

static vdm_model *make_model(int kind, uint64_t seed)
{
    vdm_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.net = (vdm_net_config){ 3, 4, 1, 1, { 7, 0, 0, 0 }, 4, VDM_ACT_SILU, 0 };
    mc.sched.kind = kind;
    mc.sched.hidden = kind == VDM_SCHED_LEARNED ? 32 : 0;
    mc.gs_lo = -13.3;
    mc.gs_hi = 5.0;
    mc.default_T = 10;
    size_t pn = vdm_net_param_count(&mc.net), n = vdm_model_param_count(&mc);
    float *p = calloc(n, sizeof(float));
    vdm_net_init(&mc.net, p, seed);
    if (kind == VDM_SCHED_LEARNED) shaped_params(&mc.sched, p + pn, seed);
    else vdm_sched_init(&mc.sched, p + pn, -13.3, 5.0, seed);
    vdm_model *m = NULL;
    cr_assert_eq(vdm_model_from_params(&mc, p, 0, &m), VDM_OK);
    free(p);
    return m;
}

static void check_consts(vdm_model *m, int T)
{
    vdm_time_consts *c = malloc(sizeof *c * (T + 1));
    cr_assert_eq(vdm_model_consts(m, T, c), VDM_OK);
    for (int i = 0; i <= T; i++) {
        double g = c[i].gamma;
        double a2 = 1.0 / (1.0 + exp(g)), s2 = 1.0 / (1.0 + exp(-g));
        cr_assert(fabs(c[i].alpha - sqrt(a2)) <= 1e-14);
        cr_assert(fabs(c[i].sigma - sqrt(s2)) <= 1e-13 * sqrt(s2));
        cr_assert(fabs(c[i].noise_ratio - exp(g / 2)) <= 1e-13 * exp(g / 2));
        cr_assert(fabsf(c[i].gscaled - (float)((g + 13.3) / 18.3)) <= 1e-6f);
        if (i == 0) continue;
        double gs = c[i - 1].gamma, gt = g;
        cr_assert(gt > gs);
        double as = sqrt(1.0 / (1.0 + exp(gs))), at = sqrt(a2);
        double ss2 = 1.0 / (1.0 + exp(-gs)), st2 = s2;
        /* App. A.1: alpha_{t|s} = alpha_t/alpha_s, sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2 */
        double ats = at / as;
        double sts2 = st2 - ats * ats * ss2;
        cr_assert(fabs(c[i].q_alpha - ats) <= 1e-13 * ats, "q_alpha step %d", i);
        /* At low noise sigma_{t|s}^2 is a difference of numbers near 1: the
         * reference is the textbook formula evaluated in long double
         * (64-bit mantissa), independent of the expm1/softplus forms. */
        long double gsl = gs, gtl = gt;
        long double as2l = 1.0L / (1.0L + expl(gsl)), at2l = 1.0L / (1.0L + expl(gtl));
        long double ss2l = 1.0L / (1.0L + expl(-gsl)), st2l = 1.0L / (1.0L + expl(-gtl));
        long double sts2_ld = st2l - at2l / as2l * ss2l;
        cr_assert(fabsl((long double)c[i].q_sigma * c[i].q_sigma - sts2_ld) <= 1e-9L * sts2_ld,
                  "q_sigma step %d: %.17g vs %.17Lg (double naive %.17g)", i, c[i].q_sigma * c[i].q_sigma,
                  sts2_ld, sts2);
        /* App. A.2: sigma_Q^2 = sigma_{t|s}^2 sigma_s^2 / sigma_t^2 */
        long double sQ2 = sts2_ld * ss2l / st2l;
        cr_assert(fabsl((long double)c[i].p_sigma * c[i].p_sigma - sQ2) <= 1e-9L * sQ2,
                  "p_sigma step %d: %.17g vs %.17Lg", i, c[i].p_sigma * c[i].p_sigma, sQ2);
        /* App. A.3: mu = ats ss2/st2 z + as sts2/st2 x_hat, x_hat = (z - st eps)/at,
         * must equal p_a (z - p_k eps) for any z, eps */
        const double zs[3] = { -1.3, 0.2, 2.0 }, es[3] = { 0.7, -1.1, 0.05 };
        for (int k = 0; k < 3; k++) {
            double z = zs[k], e = es[k];
            double xh = (z - sqrt(st2) * e) / at;
            double mu = ats * ss2 / st2 * z + as * (double)sts2_ld / st2 * xh;
            double mine = (double)c[i].p_a * (z - (double)c[i].p_k * e);
            cr_assert(fabs(mu - mine) <= 1e-6 * (fabs(mu) + 1.0), "p mean step %d: %.9g vs %.9g", i, mu, mine);
        }
    }
    free(c);
}

Test(consts, match_vdm_appendix_a_linear)
{
    vdm_model *m = make_model(VDM_SCHED_LINEAR, 1);
    check_consts(m, 1);
    check_consts(m, 10);
    check_consts(m, 1000);
    vdm_model_free(m);
}

Test(consts, match_vdm_appendix_a_learned)
{
    vdm_model *m = make_model(VDM_SCHED_LEARNED, 2);
    check_consts(m, 16);
    check_consts(m, 200);
    vdm_model_free(m);
}

Test(consts, deterministic_and_argument_checks)
{
    vdm_model *m = make_model(VDM_SCHED_LEARNED, 4);
    vdm_time_consts a[33], b[33];
    memset(a, 0xAB, sizeof a);
    memset(b, 0xCD, sizeof b);
    cr_assert_eq(vdm_model_consts(m, 32, a), VDM_OK);
    cr_assert_eq(vdm_model_consts(m, 32, b), VDM_OK);
    cr_assert(memcmp(a, b, sizeof a) == 0, "two computations must give the same bytes");
    cr_assert_eq(vdm_model_consts(m, 0, a), VDM_ERR_ARG);
    cr_assert_eq(vdm_model_consts(m, VDM_MODEL_MAX_STEPS + 1, a), VDM_ERR_ARG);
    vdm_model_free(m);
}
