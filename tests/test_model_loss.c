/* test_model_loss.c — the VLB terms and their gradients.
 *   - prior and reconstruction terms against brute-force float64 formulas
 *     (Gaussian KL; softmax over all 256 levels);
 *   - the whole loss (discrete T and continuous time): analytic gradient wrt
 *     network AND schedule parameters vs central finite differences (REF
 *     backend, so the loss is a deterministic function of the parameters);
 *   - the discrete diffusion loss equals the sum over steps of the closed-form
 *     KL(q(z_s|z_t,x) || p(z_s|z_t)), with q from VDM App. A.2 computed here
 *     in float64 and p's mean and std taken from the coding path
 *     (vdm_model_p_mean, vdm_model_consts): this ties the training loss to
 *     what the coder pays. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/model_internal.h"

static vdm_model_config small_cfg(int fexp)
{
    vdm_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.net = (vdm_net_config){ 3, 4, 1, 1, { fexp, 0, 0, 0 }, 4, VDM_ACT_SILU, 0 };
    mc.sched.kind = VDM_SCHED_LEARNED;
    mc.sched.hidden = 8;
    mc.gs_lo = -7.0;
    mc.gs_hi = 5.0;
    mc.default_T = 4;
    return mc;
}

/* Network init plus noise (so eps_hat is not identically 0) and a nonlinear
 * learned schedule from g0 to g1. */
static float *make_params(const vdm_model_config *mc, double g0, double g1, uint64_t seed)
{
    size_t pn = vdm_net_param_count(&mc->net), n = vdm_model_param_count(mc);
    float *p = calloc(n, sizeof(float));
    vdm_net_init(&mc->net, p, seed);
    float *noise = malloc(sizeof(float) * n);
    vdm_rng r;
    vdm_rng_seed(&r, seed + 100);
    vdm_rng_normal(&r, noise, n);
    for (size_t k = 0; k < pn; k++) p[k] += 0.15f * noise[k];
    vdm_sched_init(&mc->sched, p + pn, g0, g1, seed);
    if (mc->sched.kind == VDM_SCHED_LEARNED) {
        int H = mc->sched.hidden;
        for (int j = 0; j < H; j++) p[pn + 3 + 2 * H + j] *= 20.0f;
        p[pn + 2] = 2.0f;
    }
    free(noise);
    return p;
}

typedef struct {
    int N, H, W;
    float *x, *eps, *eps0;
    double *t;
} batch_buf;

static batch_buf make_batch(int N, int H, int W, uint64_t seed)
{
    batch_buf b = { N, H, W, NULL, NULL, NULL, NULL };
    size_t n = (size_t)N * H * W * 3;
    b.x = malloc(n * sizeof(float));
    b.eps = malloc(n * sizeof(float));
    b.eps0 = malloc(n * sizeof(float));
    b.t = malloc((size_t)N * sizeof(double));
    vdm_rng r;
    vdm_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) b.x[i] = vdm_data_value((int)vdm_rng_below(&r, 256));
    vdm_rng_normal(&r, b.eps, n);
    vdm_rng_normal(&r, b.eps0, n);
    return b;
}

static void free_batch(batch_buf *b) { free(b->x); free(b->eps); free(b->eps0); free(b->t); }

Test(loss, prior_and_recon_match_brute_force)
{
    enum { n = 400 };
    float x[n], e0[n];
    vdm_rng r;
    vdm_rng_seed(&r, 9);
    for (int i = 0; i < n; i++) x[i] = vdm_data_value((int)vdm_rng_below(&r, 256));
    x[0] = vdm_data_value(0);
    x[1] = vdm_data_value(255);
    vdm_rng_normal(&r, e0, n);
    const double gammas[] = { -13.3, -9.0, -5.0, -2.0, 1.0 };
    for (size_t gi = 0; gi < sizeof gammas / sizeof gammas[0]; gi++) {
        double g = gammas[gi];
        /* prior: KL(N(a x, s2) || N(0,1)) = 1/2 (s2 + a^2 x^2 - 1 - log s2) at gamma1 = g */
        double a2 = 1.0 / (1.0 + exp(g)), s2 = 1.0 / (1.0 + exp(-g));
        double ref = 0.0;
        for (int i = 0; i < n; i++) ref += 0.5 * (s2 + a2 * x[i] * x[i] - 1.0 - log(s2));
        double mine = vdm_prior_nats(x, n, g, NULL);
        cr_assert(fabs(mine - ref) <= 1e-9 * fabs(ref) + 1e-10, "prior at %g: %.12g vs %.12g", g, mine, ref);
        /* recon: softmax over all 256 levels of -1/2 ((z0/a0 - x_k)/exp(g/2))^2 */
        double sc = exp(0.5 * g), rref = 0.0;
        for (int i = 0; i < n; i++) {
            /* z0 / alpha0 around the exact level (x holds its float rounding,
             * which the model's definition does not use) */
            int kx = (int)lround(((double)x[i] + 1.0) * 127.5);
            double u = (2.0 * kx - 255.0) / 255.0 + sc * e0[i];
            double l[256], mx = -1e300;
            int ks = -1;
            for (int k = 0; k < 256; k++) {
                double xk = (2.0 * k - 255.0) / 255.0;
                double d = (u - xk) / sc;
                l[k] = -0.5 * d * d;
                if (l[k] > mx) mx = l[k];
                if (vdm_data_value(k) == x[i]) ks = k;
            }
            double s = 0.0;
            for (int k = 0; k < 256; k++) s += exp(l[k] - mx);
            rref += -(l[ks] - mx - log(s));
        }
        double rmine = vdm_recon_nats(x, e0, n, g, NULL);
        cr_assert(fabs(rmine - rref) <= 1e-6 * fabs(rref) + 1e-6, "recon at %g: %.12g vs %.12g", g, rmine, rref);
        /* their gamma derivatives by central differences */
        double d1 = 0.0, d0 = 0.0, h = 1e-5;
        vdm_prior_nats(x, n, g, &d1);
        vdm_recon_nats(x, e0, n, g, &d0);
        double f1 = (vdm_prior_nats(x, n, g + h, NULL) - vdm_prior_nats(x, n, g - h, NULL)) / (2 * h);
        double f0 = (vdm_recon_nats(x, e0, n, g + h, NULL) - vdm_recon_nats(x, e0, n, g - h, NULL)) / (2 * h);
        cr_assert(fabs(d1 - f1) <= 1e-5 * fabs(f1) + 1e-6, "dprior/dgamma1 at %g: %g vs %g", g, d1, f1);
        cr_assert(fabs(d0 - f0) <= 1e-4 * fabs(f0) + 1e-4, "drecon/dgamma0 at %g: %g vs %g", g, d0, f0);
    }
}

static double total_loss(const vdm_model_config *mc, const float *p, vdm_loss_ws *ws, int T,
                         const vdm_batch *b)
{
    vdm_loss_terms lt;
    cr_assert_eq(vdm_loss(mc, p, ws, 1, T, b, &lt, NULL, NULL), VDM_OK);
    return lt.total;
}

static void gradient_check(int T, int var_out)
{
    vdm_model_config mc = small_cfg(1);
    mc.net.var_out = var_out;
    /* The gamma embedding oscillates fast in gscaled (frequencies up to 1000,
     * net.h).  A wide gscaled map slows it down in gamma so that finite
     * differences of the schedule parameters stay in the linear regime, while
     * the gscaled path still carries gradient. */
    mc.gs_lo = -100.0;
    mc.gs_hi = 100.0;
    const int N = 3, H = 5, W = 4;
    float *p = make_params(&mc, -6.0, 4.0, 21 + T);
    size_t n = vdm_model_param_count(&mc), pn = vdm_net_param_count(&mc.net);
    batch_buf bb = make_batch(N, H, W, 77 + T);
    /* the v head's parameters (the last channels of out.w and out.b) are
     * checked explicitly: they only matter with learned variances */
    vdm_net_tensor tw, tb;
    cr_assert_eq(vdm_net_tensor_info(&mc.net, vdm_net_tensor_count(&mc.net) - 2, &tw), VDM_OK);
    cr_assert_eq(vdm_net_tensor_info(&mc.net, vdm_net_tensor_count(&mc.net) - 1, &tb), VDM_OK);
    if (T > 0) { bb.t[0] = 1.0 / T; bb.t[1] = 3.0 / T; bb.t[2] = 1.0; }
    else { bb.t[0] = 0.1; bb.t[1] = 0.5; bb.t[2] = 0.93; }
    vdm_batch b = { N, H, W, bb.x, bb.eps, bb.eps0, bb.t, 0.0 };
    vdm_loss_ws *ws = vdm_loss_ws_create(&mc, VDM_BACKEND_REF, N, H, W, 1);
    cr_assert_not_null(ws);
    float *g = calloc(n, sizeof(float));
    vdm_loss_terms lt;
    cr_assert_eq(vdm_loss(&mc, p, ws, 1, T, &b, &lt, g, NULL), VDM_OK);
    cr_assert(lt.diff > 0.1 && lt.recon > 0.0 && lt.prior > 0.0);
    cr_assert(fabs(lt.total - total_loss(&mc, p, ws, T, &b)) == 0.0, "forward alone must match");

    /* which parameters: every schedule parameter, and network parameters with
     * the largest gradients plus a spread of others */
    size_t *idx = malloc(sizeof(size_t) * (n + 64));
    int ni = 0;
    for (size_t k = pn; k < n; k++) idx[ni++] = k;
    for (int r = 0; r < 12; r++) {
        size_t best = 0;
        float bv = -1.0f;
        for (size_t k = 0; k < pn; k++) {
            int dup = 0;
            for (int q = 0; q < ni; q++) dup |= idx[q] == k;
            if (!dup && fabsf(g[k]) > bv) { bv = fabsf(g[k]); best = k; }
        }
        idx[ni++] = best;
    }
    for (int r = 0; r < 24; r++) idx[ni++] = (size_t)((r * 7919u) % pn);
    if (var_out) {
        const int Ko = vdm_net_out_channels(&mc.net);
        for (int k = 3; k < Ko; k++) idx[ni++] = tb.offset + (size_t)k;            /* out.b of v (and coupling) */
        for (int r = 0; r < 6; r++) idx[ni++] = tw.offset + (size_t)(r * Ko + 3 + r % (Ko - 3)); /* out.w of them */
    }
    double gmax = 0.0;
    for (size_t k = 0; k < n; k++) gmax = fmax(gmax, fabs(g[k]));
    int bad = 0, sched_nonzero = 0;
    for (int q = 0; q < ni; q++) {
        size_t k = idx[q];
        float keep = p[k];
        /* schedule steps: with coupling the loss carries more float32 noise from the
         * network (more outputs depend on gscaled), so a wider step keeps the
         * difference quotient above it */
        float h = k >= pn ? (var_out == 2 ? 3e-2f : 1e-2f) : 2e-3f * fmaxf(fabsf(keep), 0.5f);
        p[k] = keep + h;
        double lp = total_loss(&mc, p, ws, T, &b);
        p[k] = keep - h;
        double lm = total_loss(&mc, p, ws, T, &b);
        double step = (double)(keep + h) - (double)(keep - h);
        p[k] = keep;
        double fd = (lp - lm) / step, an = g[k];
        double tol = 0.005 * fmax(fabs(fd), fabs(an)) + 1e-4 * gmax + 1e-4;
        if (k >= pn && fabs(an) > 1e-4) sched_nonzero++;
        if (fabs(fd - an) > tol) {
            bad++;
            cr_log_error("T=%d var=%d param %zu (%s, value %g): analytic %.6g vs finite difference %.6g", T, var_out, k,
                         k >= pn ? "schedule" : "net", keep, an, fd);
        }
    }
    cr_assert_eq(bad, 0, "%d of %d gradients disagree", bad, ni);
    cr_assert(sched_nonzero >= 5, "the schedule must receive gradient (%d)", sched_nonzero);
    free(idx);
    free(g);
    vdm_loss_ws_free(ws);
    free_batch(&bb);
    free(p);
}

Test(loss, gradient_discrete_T4) { gradient_check(4, 0); }
Test(loss, gradient_continuous) { gradient_check(0, 0); }
Test(loss, gradient_learned_variance_T4) { gradient_check(4, 1); }
Test(loss, gradient_coupled_T4) { gradient_check(4, 2); }
/* continuous time ignores the v outputs (zero gradient there, checked above) */
Test(loss, gradient_learned_variance_continuous) { gradient_check(0, 1); }

Test(loss, linear_schedule_gradient_and_args)
{
    vdm_model_config mc = small_cfg(1);
    mc.sched.kind = VDM_SCHED_LINEAR;
    mc.sched.hidden = 0;
    size_t pn = vdm_net_param_count(&mc.net), n = vdm_model_param_count(&mc);
    float *p = calloc(n, sizeof(float));
    vdm_net_init(&mc.net, p, 3);
    for (size_t k = 0; k < pn; k++) p[k] += 0.01f * (float)((k * 37) % 11) - 0.05f;
    vdm_sched_init(&mc.sched, p + pn, -6.0, 4.0, 0);
    batch_buf bb = make_batch(2, 4, 4, 5);
    bb.t[0] = 0.5;
    bb.t[1] = 1.0;
    vdm_batch b = { 2, 4, 4, bb.x, bb.eps, bb.eps0, bb.t, 0.0 };
    vdm_loss_ws *ws = vdm_loss_ws_create(&mc, VDM_BACKEND_REF, 2, 4, 4, 1);
    float *g = calloc(n, sizeof(float));
    vdm_loss_terms lt;
    cr_assert_eq(vdm_loss(&mc, p, ws, 1, 2, &b, &lt, g, NULL), VDM_OK);
    for (int e = 0; e < 2; e++) {
        float keep = p[pn + e], h = 1e-2f;
        p[pn + e] = keep + h;
        double lp = total_loss(&mc, p, ws, 2, &b);
        p[pn + e] = keep - h;
        double lm = total_loss(&mc, p, ws, 2, &b);
        p[pn + e] = keep;
        double fd = (lp - lm) / (2.0 * h);
        cr_assert(fabs(fd - g[pn + e]) <= 0.02 * fabs(fd) + 1e-4, "endpoint %d: %g vs %g", e, g[pn + e], fd);
    }
    /* a time off the grid of T is refused; so is a batch of another shape */
    bb.t[0] = 0.3;
    cr_assert_eq(vdm_loss(&mc, p, ws, 1, 2, &b, &lt, NULL, NULL), VDM_ERR_ARG);
    bb.t[0] = 0.5;
    vdm_batch b2 = b;
    b2.H = 3;
    cr_assert_eq(vdm_loss(&mc, p, ws, 1, 2, &b2, &lt, NULL, NULL), VDM_ERR_ARG);
    free(g);
    vdm_loss_ws_free(ws);
    free_batch(&bb);
    free(p);
}

/* sum_i KL(q(z_s|z_t,x) || p(z_s|z_t)) == the discrete diffusion loss */
Test(loss, diffusion_loss_is_sum_of_gaussian_kls)
{
    for (int variant = 0; variant < 4; variant++) {
        /* 0: learned schedule, 1: linear schedule, 2: learned schedule with
         * learned variances (p's std per element from the coding path),
         * 3: and channel coupling (p autoregressive over R, G, B in a pixel:
         * its KL is taken here in matrix form, Sigma_p = (I-B)^-1 S^2 (I-B)^-T) */
        const int var = variant >= 2 ? variant - 1 : 0;
        const int T = variant == 1 ? 10 : 6, H = 6, W = 5;
        const size_t D = (size_t)H * W * 3;
        vdm_model_config mc = small_cfg(7);
        mc.net.width = 6;
        mc.net.blocks = 2;
        mc.default_T = T;
        mc.net.var_out = var;
        if (variant == 1) { mc.sched.kind = VDM_SCHED_LINEAR; mc.sched.hidden = 0; }
        float *p = make_params(&mc, variant == 1 ? -13.3 : -9.0, variant == 1 ? 5.0 : 4.0, 40 + variant);
        if (variant == 1) vdm_sched_init(&mc.sched, p + vdm_net_param_count(&mc.net), -13.3, 5.0, 0);
        /* one data crop, T copies with their own eps: element i is step i+1 */
        batch_buf bb = make_batch(T, H, W, 300 + variant);
        for (int i = 1; i < T; i++) memcpy(bb.x + i * D, bb.x, D * sizeof(float));
        for (int i = 0; i < T; i++) bb.t[i] = (double)(i + 1) / T;
        vdm_batch b = { T, H, W, bb.x, bb.eps, bb.eps0, bb.t, 0.0 };
        vdm_loss_ws *ws = vdm_loss_ws_create(&mc, VDM_BACKEND_REF, T, H, W, 0);
        double *dn = malloc(sizeof(double) * T);
        vdm_loss_terms lt;
        cr_assert_eq(vdm_loss(&mc, p, ws, 1, T, &b, &lt, NULL, dn), VDM_OK);

        vdm_model *m = NULL;
        cr_assert_eq(vdm_model_from_params(&mc, p, 0, &m), VDM_OK);
        vdm_time_consts *c = malloc(sizeof *c * (T + 1));
        cr_assert_eq(vdm_model_consts(m, T, c), VDM_OK);
        float *z = malloc(D * sizeof(float)), *mu_p = malloc(D * sizeof(float));
        float *sd_p = malloc(D * sizeof(float)), *cf_p = malloc(D * sizeof(float));
        int coupled = 0;
        double kl_sum = 0.0;
        int wider = 0;
        for (int i = 1; i <= T; i++) {
            const float *x = bb.x, *e = bb.eps + (i - 1) * D;
            /* z_t = alpha_t x + sigma_t eps, formed as the loss forms it (float) */
            float af = (float)c[i].alpha, sf = (float)c[i].sigma;
            for (size_t k = 0; k < D; k++) z[k] = af * x[k] + sf * e[k];
            cr_assert_eq(vdm_model_p_mean(m, T, i, z, 1, H, W, 1, mu_p, sd_p, var == 2 ? cf_p : NULL), VDM_OK);
            double p_sigma = c[i].p_sigma;
            /* q(z_s | z_t, x), App. A.2, in long double from the gammas */
            long double gs = c[i - 1].gamma, gt = c[i].gamma;
            long double as2 = 1.0L / (1.0L + expl(gs)), at2 = 1.0L / (1.0L + expl(gt));
            long double ss2 = 1.0L / (1.0L + expl(-gs)), st2 = 1.0L / (1.0L + expl(-gt));
            long double ats2 = at2 / as2, sts2 = st2 - ats2 * ss2;
            long double cz = sqrtl(ats2) * ss2 / st2, cx = sqrtl(as2) * sts2 / st2;
            long double sQ2 = sts2 * ss2 / st2;
            cr_assert(fabsl((long double)p_sigma * p_sigma - sQ2) <= 1e-8L * sQ2);
            /* KL(N(mq, sQ2) || N(mp, sp2)) = 1/2 [sQ2/sp2 + d^2/sp2 - 1 - log(sQ2/sp2)] */
            long double kl = 0.0L;
            for (size_t k = 0; k < D; k++) {
                long double sp2 = (long double)sd_p[k] * sd_p[k];
                if (!var) cr_assert_eq(sd_p[k], (float)p_sigma);
                else cr_assert((double)sd_p[k] >= (double)(float)p_sigma * (1.0 - 1e-7));
                wider += sp2 > 1.5L * sQ2;
            }
            for (size_t px = 0; px < D / 3; px++) {
                long double u[3], s2[3], a0 = 0, a1 = 0, a2 = 0;
                for (int ch = 0; ch < 3; ch++) {
                    size_t k = 3 * px + (size_t)ch;
                    u[ch] = cz * z[k] + cx * x[k] - (long double)mu_p[k];
                    s2[ch] = (long double)sd_p[k] * sd_p[k];
                }
                if (var == 2) {
                    a0 = cf_p[3 * px]; a1 = cf_p[3 * px + 1]; a2 = cf_p[3 * px + 2];
                    coupled += a0 != 0 && a1 != 0 && a2 != 0;
                }
                /* Sigma^-1 = (I-B)^T S^-2 (I-B), B strictly lower (a0: G<-R, a1: B<-R, a2: B<-G) */
                long double M[3][3] = { { 1, 0, 0 }, { -a0, 1, 0 }, { -a1, -a2, 1 } }, P[3][3];
                for (int r0 = 0; r0 < 3; r0++)
                    for (int c0 = 0; c0 < 3; c0++) {
                        long double acc = 0;
                        for (int q = 0; q < 3; q++) acc += M[q][r0] * M[q][c0] / s2[q];
                        P[r0][c0] = acc;
                    }
                long double tr = P[0][0] + P[1][1] + P[2][2], quad = 0;
                for (int r0 = 0; r0 < 3; r0++)
                    for (int c0 = 0; c0 < 3; c0++) quad += u[r0] * P[r0][c0] * u[c0];
                kl += 0.5L * (sQ2 * tr + quad - 3.0L + logl(s2[0] * s2[1] * s2[2]) - 3.0L * logl(sQ2));
            }
            double mine = dn[i - 1];
            cr_assert(fabs((double)kl - mine) <= 2e-3 * mine + 1e-6,
                      "T=%d step %d: KL %.9g vs loss term %.9g", T, i, (double)kl, mine);
            kl_sum += (double)kl;
        }
        /* the reported diffusion term: T * mean_i(term_i) / (D ln 2) = sum_i term_i / (D ln 2) */
        double diff_nats = lt.diff * (double)D * log(2.0);
        cr_assert(fabs(kl_sum - diff_nats) <= 1e-3 * kl_sum, "sum of KLs %.9g vs diffusion loss %.9g",
                  kl_sum, diff_nats);
        cr_assert(kl_sum > 1.0, "the test network must predict badly enough to matter (%g)", kl_sum);
        if (var) cr_assert(wider > (int)(T * D / 4), "learned variances must widen p (%d)", wider);
        if (var == 2) cr_assert(coupled > (int)(T * D / 6), "the coupling must be non-trivial (%d)", coupled);
        free(sd_p);
        free(cf_p);
        free(z);
        free(mu_p);
        free(c);
        vdm_model_free(m);
        free(dn);
        vdm_loss_ws_free(ws);
        free_batch(&bb);
        free(p);
    }
}
