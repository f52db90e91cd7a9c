/* test_model_coding.c — the coding-path interface (vdm_model.h) and the bound
 * evaluation:
 *   - vdm_model_p_mean gives the same bytes with 1, 2 and 3 threads, equals
 *     p_a * (z - p_k * eps_hat) of a separate REF network forward, and checks
 *     its arguments;
 *   - vdm_eval_image with the REF backend is bit-identical across thread
 *     counts, and its Monte-Carlo estimate and standard error are honest:
 *     for a network that predicts eps_hat = 0 the expected bound is known in
 *     closed form (E|eps|^2 = D per step) and the estimate must fall within a
 *     few standard errors of it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/model_internal.h"

static vdm_model_config cfg(int kind)
{
    vdm_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.net = (vdm_net_config){ 3, 8, 2, 2, { 7, 8, 0, 0 }, 8, VDM_ACT_SILU, 0 };
    mc.sched.kind = kind;
    mc.sched.hidden = kind == VDM_SCHED_LEARNED ? 32 : 0;
    mc.gs_lo = -13.3;
    mc.gs_hi = 5.0;
    mc.default_T = 16;
    return mc;
}

static vdm_model *model_v(int kind, int perturb, int var_out)
{
    vdm_model_config mc = cfg(kind);
    mc.net.var_out = var_out;
    size_t pn = vdm_net_param_count(&mc.net), n = vdm_model_param_count(&mc);
    float *p = calloc(n, sizeof(float));
    vdm_net_init(&mc.net, p, 17);
    if (perturb) {
        float *nz = malloc(n * sizeof(float));
        vdm_rng r;
        vdm_rng_seed(&r, 18);
        vdm_rng_normal(&r, nz, n);
        for (size_t k = 0; k < pn; k++) p[k] += 0.05f * nz[k];
        free(nz);
    }
    vdm_sched_init(&mc.sched, p + pn, -13.3, 5.0, 19);
    vdm_model *m = NULL;
    cr_assert_eq(vdm_model_from_params(&mc, p, 0, &m), VDM_OK);
    free(p);
    return m;
}

static vdm_model *model(int kind, int perturb) { return model_v(kind, perturb, 0); }

Test(coding, p_mean_deterministic_and_exact)
{
    vdm_model *m = model(VDM_SCHED_LEARNED, 1);
    const int T = 16, N = 2, H = 23, W = 19;
    const size_t n = (size_t)N * H * W * 3;
    float *z = malloc(n * sizeof(float)), *m1 = malloc(n * sizeof(float));
    float *m2 = malloc(n * sizeof(float)), *m3 = malloc(n * sizeof(float)), *eh = malloc(n * sizeof(float));
    vdm_rng r;
    vdm_rng_seed(&r, 3);
    vdm_rng_normal(&r, z, n);
    vdm_time_consts c[17];
    cr_assert_eq(vdm_model_consts(m, T, c), VDM_OK);
    const vdm_model_config *mc = vdm_model_cfg(m);
    vdm_net_ws *ws = vdm_net_ws_create(&mc->net, VDM_BACKEND_REF, N, H, W, 0);
    float *s1 = malloc(n * sizeof(float)), *s2 = malloc(n * sizeof(float));
    for (int i = 1; i <= T; i += 5) {
        cr_assert_eq(vdm_model_p_mean(m, T, i, z, N, H, W, 1, m1, s1, NULL), VDM_OK);
        cr_assert_eq(vdm_model_p_mean(m, T, i, z, N, H, W, 2, m2, s2, NULL), VDM_OK);
        cr_assert_eq(vdm_model_p_mean(m, T, i, z, N, H, W, 3, m3, s2, NULL), VDM_OK);
        cr_assert(memcmp(m1, m2, n * sizeof(float)) == 0, "step %d: 1 vs 2 threads differ", i);
        cr_assert(memcmp(m1, m3, n * sizeof(float)) == 0, "step %d: 1 vs 3 threads differ", i);
        for (size_t k = 0; k < n; k++) cr_assert_eq(s1[k], (float)c[i].p_sigma);
        /* the documented float32 formula on a separate REF forward */
        float gs[2] = { c[i].gscaled, c[i].gscaled };
        cr_assert_eq(vdm_net_forward(&mc->net, vdm_model_params(m), ws, 1, z, gs, N, H, W, eh), VDM_OK);
        int nonzero = 0;
        for (size_t k = 0; k < n; k++) {
            float kt = c[i].p_k * eh[k];
            float d = z[k] - kt;
            float want = c[i].p_a * d;
            cr_assert(memcmp(&want, &m1[k], 4) == 0, "step %d elem %zu: %a vs %a", i, k, m1[k], want);
            nonzero += eh[k] != 0.0f;
        }
        cr_assert(nonzero > (int)(n / 2), "eps_hat must not be trivial");
    }
    /* arguments */
    cr_assert_eq(vdm_model_p_mean(m, T, 0, z, N, H, W, 1, m1, s1, NULL), VDM_ERR_ARG);
    cr_assert_eq(vdm_model_p_mean(m, T, T + 1, z, N, H, W, 1, m1, s1, NULL), VDM_ERR_ARG);
    cr_assert_eq(vdm_model_p_mean(m, 0, 1, z, N, H, W, 1, m1, s1, NULL), VDM_ERR_ARG);
    cr_assert_eq(vdm_model_p_mean(m, T, 1, z, N, 0, W, 1, m1, s1, NULL), VDM_ERR_ARG);
    cr_assert_eq(vdm_model_p_mean(m, T, 1, z, N, H, W, 0, m1, s1, NULL), VDM_ERR_ARG);
    cr_assert_eq(vdm_model_p_mean(m, T, 1, z, 64, 1024, 1024, 1, m1, s1, NULL), VDM_ERR_LIMIT);
    /* a different T after the cache was filled */
    cr_assert_eq(vdm_model_p_mean(m, 4, 4, z, N, H, W, 1, m1, s1, NULL), VDM_OK);
    cr_assert_eq(vdm_model_p_mean(m, T, 1, z, N, H, W, 1, m1, NULL, NULL), VDM_ERR_ARG);
    vdm_net_ws_free(ws);
    free(z); free(m1); free(m2); free(m3); free(eh); free(s1); free(s2);
    vdm_model_free(m);
}
/* Learned variances: mean and per-element std equal the documented formulas
 * (format-spec/weights.md section 6) on a separate REF forward with 6 outputs
 * per pixel, bit for bit, for 1 and 3 threads. */
Test(coding, p_mean_learned_variance_exact)
{
    vdm_model *m = model_v(VDM_SCHED_LEARNED, 1, 1);
    const int T = 8, N = 1, H = 17, W = 21;
    const size_t np = (size_t)N * H * W, n = np * 3;
    float *z = malloc(n * sizeof(float)), *mu1 = malloc(n * sizeof(float)), *mu3 = malloc(n * sizeof(float));
    float *sd1 = malloc(n * sizeof(float)), *sd3 = malloc(n * sizeof(float)), *o = malloc(2 * n * sizeof(float));
    vdm_rng r;
    vdm_rng_seed(&r, 5);
    vdm_rng_normal(&r, z, n);
    vdm_time_consts c[9];
    cr_assert_eq(vdm_model_consts(m, T, c), VDM_OK);
    const vdm_model_config *mc = vdm_model_cfg(m);
    vdm_net_ws *ws = vdm_net_ws_create(&mc->net, VDM_BACKEND_REF, N, H, W, 0);
    int spread = 0;
    for (int i = 1; i <= T; i += 3) {
        cr_assert_eq(vdm_model_p_mean(m, T, i, z, N, H, W, 1, mu1, sd1, NULL), VDM_OK);
        cr_assert_eq(vdm_model_p_mean(m, T, i, z, N, H, W, 3, mu3, sd3, NULL), VDM_OK);
        cr_assert(memcmp(mu1, mu3, n * 4) == 0 && memcmp(sd1, sd3, n * 4) == 0, "threads change step %d", i);
        float gs = c[i].gscaled;
        cr_assert_eq(vdm_net_forward(&mc->net, vdm_model_params(m), ws, 1, z, &gs, N, H, W, o), VDM_OK);
        const double ak = (double)c[i].p_a * (double)c[i].p_k;
        for (size_t p = 0; p < np; p++)
            for (int ch = 0; ch < 3; ch++) {
                const size_t j = 3 * p + (size_t)ch;
                float kt = c[i].p_k * o[6 * p + ch];
                float d = z[j] - kt;
                float want = c[i].p_a * d;
                cr_assert(memcmp(&want, &mu1[j], 4) == 0, "step %d elem %zu mean", i, j);
                double v = vdm_var_clamp((double)o[6 * p + 3 + ch]);
                float ws_ = (float)vdm_sqrt_d(c[i].p_sigma * c[i].p_sigma + ak * ak * vdm_exp(v));
                cr_assert(memcmp(&ws_, &sd1[j], 4) == 0, "step %d elem %zu std %a vs %a", i, j, sd1[j], ws_);
                cr_assert(sd1[j] >= (float)c[i].p_sigma);
                spread += sd1[j] != sd1[0];
            }
    }
    cr_assert(spread > (int)n, "the std must vary per element (%d)", spread);
    vdm_net_ws_free(ws);
    free(z); free(mu1); free(mu3); free(sd1); free(sd3); free(o);
    vdm_model_free(m);
}

static uint8_t *test_image(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                px[((size_t)y * w + x) * 3 + c] = (uint8_t)((x * 7 + y * 3 + c * 50 + ((x * y) % 13)) & 255);
    return px;
}

Test(coding, eval_ref_thread_independent)
{
    vdm_model *m = model(VDM_SCHED_LEARNED, 1);
    const int w = 37, h = 29;
    uint8_t *px = test_image(w, h);
    vdm_eval_options o = { 6, 2, 16, 1, VDM_BACKEND_REF, 5, NULL, NULL };
    vdm_bound a, b;
    cr_assert_eq(vdm_eval_image(m, px, w, h, &o, &a), VDM_OK);
    o.nthreads = 2;
    cr_assert_eq(vdm_eval_image(m, px, w, h, &o, &b), VDM_OK);
    cr_assert(memcmp(&a, &b, sizeof a) == 0, "REF evaluation must not depend on the thread count");
    cr_assert(a.se_total > 0 && isfinite(a.se_total));
    cr_assert(fabs(a.total - (a.prior + a.recon + a.diff)) < 1e-12);
    /* CPU backend agrees closely */
    o.backend = VDM_BACKEND_CPU;
    cr_assert_eq(vdm_eval_image(m, px, w, h, &o, &b), VDM_OK);
    cr_assert(fabs(a.total - b.total) < 1e-3 * a.total, "ref %.6f vs cpu %.6f", a.total, b.total);
    /* one sample: no standard error */
    o.samples = 1;
    cr_assert_eq(vdm_eval_image(m, px, w, h, &o, &b), VDM_OK);
    cr_assert(isnan(b.se_total));
    /* bad options */
    o.T = 0;
    cr_assert_eq(vdm_eval_image(m, px, w, h, &o, &b), VDM_ERR_ARG);
    free(px);
    vdm_model_free(m);
}

Test(coding, eval_estimate_is_unbiased_with_honest_se)
{
    /* eps_hat = 0 (the zero-initialised output conv): each step's KL is
     * 1/2 expm1(gamma_t - gamma_s) |eps|^2 with E|eps|^2 = D */
    vdm_model *m = model(VDM_SCHED_LINEAR, 0);
    const int w = 24, h = 20, T = 5;
    uint8_t *px = test_image(w, h);
    vdm_eval_options o = { T, 8, 16, 2, VDM_BACKEND_CPU, 11, NULL, NULL };
    vdm_bound b;
    cr_assert_eq(vdm_eval_image(m, px, w, h, &o, &b), VDM_OK);
    vdm_time_consts c[T + 1];
    cr_assert_eq(vdm_model_consts(m, T, c), VDM_OK);
    double expect = 0.0;
    for (int i = 1; i <= T; i++) expect += 0.5 * expm1(c[i].gamma - c[i - 1].gamma);
    expect /= log(2.0);   /* bits per sub-pixel */
    cr_assert(b.se_diff > 0.0);
    cr_assert(fabs(b.diff - expect) < 5.0 * b.se_diff, "diff %.5f vs expected %.5f (se %.5f)", b.diff, expect,
              b.se_diff);
    /* the standard error is the right size: sd of |eps|^2/D is sqrt(2/D) per step */
    double var = 0.0;
    for (int i = 1; i <= T; i++) {
        double wgt = 0.5 * expm1(c[i].gamma - c[i - 1].gamma) / log(2.0);
        var += wgt * wgt * 2.0 / (w * h * 3.0);
    }
    double se_true = sqrt(var / o.samples);
    cr_assert(b.se_diff > 0.5 * se_true && b.se_diff < 2.0 * se_true, "se %.6f vs true %.6f", b.se_diff, se_true);
    free(px);
    vdm_model_free(m);
}
