/* loss.c — the VDM variational bound on a minibatch, and its gradient with
 * respect to every parameter (network and noise schedule).
 *
 * Per element x (D = H*W*3 values), in nats (model_internal.h has the
 * formulas; here are the stable forms and their derivatives):
 *   prior  KL = 1/2 sum [alpha1^2 (x^2 - 1) + softplus(-gamma1)]
 *          dKL/dgamma1 = 1/2 sum [-(x^2 - 1) alpha1^2 sigma1^2 - alpha1^2]
 *   recon  with s = exp(gamma0/2), q_k = (x - x_k)/s, l_k = -1/2 (q_k + eps0)^2:
 *          -log p = -l_{k*} + logsumexp_k l_k,   k* the true level
 *          d/dgamma0 = 1/2 sum_k p_k (q_k + eps0) q_k    (p = softmax(l))
 *   diff   z_t = alpha_t x + sigma_t eps, eps_hat = net(z_t, gscaled(gamma_t)),
 *          discrete:   w = 1/2 expm1(gamma_t - gamma_s), estimator T w |eps - eps_hat|^2
 *          continuous: w = 1/2 gamma'(t),                estimator   w |eps - eps_hat|^2
 *          learned variances (net var_out, discrete T only): per element
 *                      r = expm1(gamma_t - gamma_s), e = eps - eps_hat,
 *                      a = r exp(clamp(v)) = (variance the net adds) / (posterior variance),
 *                      KL = 1/2 [(r e^2 - a) / (1 + a) + log1p(a)]      (a = 0: the fixed form)
 *                      dKL/de = r e / (1 + a),  dKL/dv = a (a - r e^2) / (2 (1 + a)^2),
 *                      dKL/dr = 1/2 [e^2 / (1 + a) - (r e^2 - a) exp(v) / (1 + a)^2]
 *          gamma_t reaches the loss through w, z_t (dalpha/dgamma = -alpha sigma^2/2,
 *          gamma_t reaches the loss through w, z_t (dalpha/dgamma = -alpha sigma^2/2,
 *          dsigma/dgamma = sigma alpha^2/2) and gscaled (1/(gs_hi - gs_lo)).
 * Training and bound evaluation may use any fast kernel; only the schedule
 * scalars are shared with the coding path. */
#include <stdlib.h>
#include <string.h>
#include "model/model_internal.h"

#define LN2 0.69314718055994530942

struct vdm_loss_ws {
    vdm_model_config cfg;
    int N, H, W, for_training;
    vdm_net_ws *net;
    float *z, *eps_hat, *deps, *dz, *dgs, *gs;
};

vdm_loss_ws *vdm_loss_ws_create(const vdm_model_config *c, vdm_backend b, int N, int H, int W,
                                int for_training)
{
    if (!c || N < 1 || H < 1 || W < 1) return NULL;
    vdm_loss_ws *ws = (vdm_loss_ws *)calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->cfg = *c;
    ws->N = N;
    ws->H = H;
    ws->W = W;
    ws->for_training = for_training;
    size_t n = (size_t)N * H * W * 3, no = (size_t)N * H * W * (size_t)vdm_net_out_channels(&c->net);
    ws->net = vdm_net_ws_create(&c->net, b, N, H, W, for_training);
    ws->z = (float *)malloc(n * sizeof(float));
    ws->eps_hat = (float *)malloc(no * sizeof(float));
    ws->gs = (float *)malloc((size_t)N * sizeof(float));
    if (for_training) {
        ws->deps = (float *)malloc(no * sizeof(float));
        ws->dz = (float *)malloc(n * sizeof(float));
        ws->dgs = (float *)malloc((size_t)N * sizeof(float));
    }
    if (!ws->net || !ws->z || !ws->eps_hat || !ws->gs ||
        (for_training && (!ws->deps || !ws->dz || !ws->dgs))) {
        vdm_loss_ws_free(ws);
        return NULL;
    }
    return ws;
}

vdm_net_ws *vdm_loss_ws_net(vdm_loss_ws *ws) { return ws ? ws->net : NULL; }

void vdm_loss_ws_free(vdm_loss_ws *ws)
{
    if (!ws) return;
    vdm_net_ws_free(ws->net);
    free(ws->z);
    free(ws->eps_hat);
    free(ws->deps);
    free(ws->dz);
    free(ws->dgs);
    free(ws->gs);
    free(ws);
}

double vdm_prior_nats(const float *x, size_t n, double g1, double *dg1)
{
    double a2 = vdm_alpha2_d(g1), s2 = vdm_sigma2_d(g1), sp = vdm_softplus_d(-g1);
    double sxx = 0.0;
    for (size_t i = 0; i < n; i++) sxx += (double)x[i] * (double)x[i] - 1.0;
    if (dg1) *dg1 += 0.5 * (-sxx * a2 * s2 - (double)n * a2);
    return 0.5 * (a2 * sxx + (double)n * sp);
}

/* Terms with l_k - l_max below this are dropped: exp(-50) ~ 2e-22 is far
 * below a double ulp of the sum (>= 1), so the result does not change. */
#define RECON_CUTOFF (-50.0)

double vdm_recon_nats(const float *x, const float *eps0, size_t n, double g0, double *dg0)
{
    double s = vdm_exp(0.5 * g0);
    double inv = 2.0 / (255.0 * s);   /* q_k = (k* - k) * inv */
    double total = 0.0, dtot = 0.0;
    for (size_t i = 0; i < n; i++) {
        int ks = (int)((x[i] + 1.0f) * 127.5f + 0.5f);
        ks = ks < 0 ? 0 : (ks > 255 ? 255 : ks);
        double e = eps0[i];
        /* the most likely level: q_k + e = 0 at k = ks + e / inv */
        double kc_d = (double)ks + e / inv;
        int kc = kc_d < 0.0 ? 0 : (kc_d > 255.0 ? 255 : (int)(kc_d + 0.5));
        double qc = (double)(ks - kc) * inv + e;
        double lmax = -0.5 * qc * qc;
        double sum = 0.0, dsum = 0.0;
        for (int dir = 0; dir < 2; dir++) {
            for (int k = dir ? kc + 1 : kc; k >= 0 && k <= 255; k += dir ? 1 : -1) {
                double q = (double)(ks - k) * inv;
                double l = -0.5 * (q + e) * (q + e);
                if (l - lmax < RECON_CUTOFF) break;
                double w = vdm_exp(l - lmax);
                sum += w;
                dsum += w * (q + e) * q;
            }
        }
        /* -log p = -(l_ks) + lmax + log(sum), l_ks = -e^2/2 */
        total += 0.5 * e * e + lmax + vdm_log(sum);
        dtot += 0.5 * dsum / sum;
    }
    if (dg0) *dg0 += dtot;
    return total;
}

/* One batch element's terms (the per-element part of vdm_loss), written to
 * its own slots so that elements can run on any thread; vdm_loss adds them
 * up in element order afterwards, which gives the bits of a serial loop. */
typedef struct {
    double pr, rc, diff, dg0, dg1;
} elem_out;

typedef struct {
    const vdm_model_config *c;
    vdm_loss_ws *ws;
    const vdm_batch *b;
    int T, N, learned_var, Ko;
    size_t D;
    double scale, g0, g1;
    const double *gam, *gdt;
    double *dgam, *ddgdt, *diff_nats;
    float *grad;
    elem_out *eo;
} elem_job;

static void elem_range(void *ctx, int n0, int n1)
{
    const elem_job *j = (const elem_job *)ctx;
    const vdm_model_config *c = j->c;
    vdm_loss_ws *ws = j->ws;
    const vdm_batch *b = j->b;
    const int T = j->T, N = j->N, learned_var = j->learned_var, Ko = j->Ko;
    const size_t D = j->D;
    const double scale = j->scale, g0 = j->g0, g1 = j->g1;
    const double *gam = j->gam, *gdt = j->gdt;
    double *dgam = j->dgam, *ddgdt = j->ddgdt, *diff_nats = j->diff_nats;
    float *grad = j->grad;
    for (int n = n0; n < n1; n++) {
        elem_out *r = &j->eo[n];
        memset(r, 0, sizeof *r);
        const float *x = b->x + n * D, *e = b->eps + n * D, *eh = ws->eps_hat + n * D / 3 * Ko;
        double w, dw_dgt = 0.0, dw_dgs = 0.0, Tf, kl, dkl_dr = 0.0;
        float *de = grad ? ws->deps + n * D / 3 * Ko : NULL;
        if (T > 0) {
            double em = vdm_expm1(gam[n] - gam[N + n]);
            w = 0.5 * em;
            dw_dgt = 0.5 * (em + 1.0);
            dw_dgs = -dw_dgt;
            Tf = b->diff_weight > 0.0 ? b->diff_weight : (double)T;
        } else {
            w = 0.5 * gdt[n];
            Tf = 1.0;
        }
        const double cg = scale / N * Tf;   /* d(total)/d(KL of this element) */
        if (learned_var) {
            /* per pixel; with coupling (var_out 2) channel k's residual is
             * res_k = e_k - sum_j a_kj e_j over earlier channels j and its
             * penalty pen_k = sum_j a_kj^2 (q's noise through the coupling):
             *   KL_k = 1/2 [(1 + r res_k^2 + pen_k) / A_k - 1 + log A_k],
             *   A_k = 1 + r exp(v_k);  without coupling a = 0, which is the
             *   form in the header. */
            const double r = 2.0 * w;
            const int couple = c->net.var_out == 2;
            kl = 0.0;
            for (size_t px = 0; px < D / 3; px++) {
                const float *o = eh + px * (size_t)Ko, *ep = e + 3 * px;
                double ee[3], E[3], A[3], res[3], pen[3], vok[3];
                for (int k = 0; k < 3; k++) {
                    ee[k] = (double)ep[k] - (double)o[k];
                    double v = o[3 + k], vc = vdm_var_clamp(v);
                    vok[k] = vc == v;
                    E[k] = vdm_exp(vc);
                    A[k] = 1.0 + r * E[k];
                }
                double a0 = 0.0, a1 = 0.0, a2 = 0.0;
                int aok[3] = { 0, 0, 0 };
                if (couple) {
                    a0 = vdm_couple_clamp(o[6]); aok[0] = a0 == o[6];
                    a1 = vdm_couple_clamp(o[7]); aok[1] = a1 == o[7];
                    a2 = vdm_couple_clamp(o[8]); aok[2] = a2 == o[8];
                }
                res[0] = ee[0];
                pen[0] = 0.0;
                res[1] = ee[1] - a0 * ee[0];
                pen[1] = a0 * a0;
                res[2] = ee[2] - a1 * ee[0] - a2 * ee[1];
                pen[2] = a1 * a1 + a2 * a2;
                double g[3], h[3];
                for (int k = 0; k < 3; k++) {
                    double num = 1.0 + r * res[k] * res[k] + pen[k], ia = 1.0 / A[k];
                    kl += 0.5 * (num * ia - 1.0 + vdm_log1p(r * E[k]));
                    if (de) {
                        double qk = 0.5 * (ia - num * ia * ia);   /* dKL_k/dA_k */
                        g[k] = r * res[k] * ia;                    /* dKL_k/dres_k */
                        h[k] = 0.5 * ia;                           /* dKL_k/dpen_k */
                        de[px * (size_t)Ko + 3 + (size_t)k] = vok[k] ? (float)(cg * qk * r * E[k]) : 0.0f;
                        dkl_dr += 0.5 * res[k] * res[k] * ia + qk * E[k];
                    }
                }
                if (de) {
                    float *d = de + px * (size_t)Ko;
                    /* d/deps_hat = -d/de */
                    d[0] = (float)(-cg * (g[0] - g[1] * a0 - g[2] * a1));
                    d[1] = (float)(-cg * (g[1] - g[2] * a2));
                    d[2] = (float)(-cg * g[2]);
                    if (couple) {
                        d[6] = aok[0] ? (float)(cg * (-g[1] * ee[0] + 2.0 * h[1] * a0)) : 0.0f;
                        d[7] = aok[1] ? (float)(cg * (-g[2] * ee[0] + 2.0 * h[2] * a1)) : 0.0f;
                        d[8] = aok[2] ? (float)(cg * (-g[2] * ee[1] + 2.0 * h[2] * a2)) : 0.0f;
                    }
                }
            }
        } else {
            double mse = 0.0;
            for (size_t i = 0; i < D; i++) {
                const size_t o = i / 3 * (size_t)Ko + i % 3;
                double d = (double)e[i] - (double)eh[o];
                mse += d * d;
            }
            kl = w * mse;
            dkl_dr = 0.5 * mse;
            if (de) {
                /* d(total)/d(eps_hat) = scale/N * Tf w 2 (eps_hat - eps) */
                float c_e = (float)(cg * w * 2.0);
                for (size_t i = 0; i < D; i++) {
                    const size_t o = i / 3 * (size_t)Ko + i % 3;
                    de[o] = c_e * (eh[o] - e[i]);
                    for (int k = 3; k < Ko; k += 3) de[o + (size_t)k] = 0.0f;
                }
            }
        }
        double diff = Tf * kl;
        if (diff_nats) diff_nats[n] = kl;
        double pr = 0.0, rc = 0.0;
        if (b->eps0) {
            pr = vdm_prior_nats(x, D, g1, grad ? &r->dg1 : NULL);
            rc = vdm_recon_nats(x, b->eps0 + n * D, D, g0, grad ? &r->dg0 : NULL);
        }
        r->pr = pr;
        r->rc = rc;
        r->diff = diff;
        if (grad) {
            /* r = 2w: dKL/dgamma = dKL/dr * 2 dw/dgamma */
            dgam[n] = cg * dkl_dr * 2.0 * dw_dgt;
            if (T > 0) dgam[N + n] = cg * dkl_dr * 2.0 * dw_dgs;
            else ddgdt[n] = scale / N * dkl_dr;
        }
    }
}

vdm_status vdm_loss(const vdm_model_config *c, const float *params, vdm_loss_ws *ws,
                    int nthreads, int T, const vdm_batch *b, vdm_loss_terms *out,
                    float *grad, double *diff_nats)
{
    VDM_RETURN_IF(!c || !params || !ws || !b || !out || T < 0, VDM_ERR_ARG);
    VDM_RETURN_IF(b->N != ws->N || b->H != ws->H || b->W != ws->W, VDM_ERR_ARG);
    VDM_RETURN_IF(grad && !ws->for_training, VDM_ERR_ARG);
    const int N = b->N;
    const size_t D = (size_t)b->H * b->W * 3;
    const float *sp = params + vdm_net_param_count(&c->net);
    for (int n = 0; n < N; n++) {
        double t = b->t[n];
        VDM_RETURN_IF(!(t >= 0.0 && t <= 1.0), VDM_ERR_ARG);
        if (T > 0) VDM_RETURN_IF(!(t * T >= 0.999 && t * T <= T + 0.001), VDM_ERR_ARG);
    }

    /* schedule at t, s, 0, 1 */
    size_t np = 2 * (size_t)N + 2;
    double *tp = (double *)calloc(np * 5, sizeof(double));
    VDM_RETURN_IF(!tp, VDM_ERR_NOMEM);
    double *gam = tp + np, *gdt = tp + 2 * np, *dgam = tp + 3 * np, *ddgdt = tp + 4 * np;
    for (int n = 0; n < N; n++) {
        tp[n] = b->t[n];
        double s = T > 0 ? b->t[n] - 1.0 / T : b->t[n];
        tp[N + n] = s < 0.0 ? 0.0 : s;
    }
    tp[2 * N] = 0.0;
    tp[2 * N + 1] = 1.0;
    vdm_sched_eval(&c->sched, sp, (int)np, tp, gam, gdt);
    const double g0 = gam[2 * N], g1 = gam[2 * N + 1];

    /* z_t and the network */
    double *alpha = (double *)malloc(sizeof(double) * 2 * (size_t)N);
    if (!alpha) { free(tp); return VDM_ERR_NOMEM; }
    double *sigma = alpha + N;
    for (int n = 0; n < N; n++) {
        double gt = gam[n];
        alpha[n] = vdm_alpha_d(gt);
        sigma[n] = vdm_sigma_d(gt);
        float af = (float)alpha[n], sf = (float)sigma[n];
        const float *x = b->x + n * D, *e = b->eps + n * D;
        float *z = ws->z + n * D;
        for (size_t i = 0; i < D; i++) z[i] = af * x[i] + sf * e[i];
        ws->gs[n] = vdm_gscaled(c, gt);
    }
    vdm_status st = vdm_net_forward(&c->net, params, ws->net, nthreads, ws->z, ws->gs, N, b->H,
                                    b->W, ws->eps_hat);
    if (st != VDM_OK) { free(tp); free(alpha); return st; }

    const double scale = 1.0 / ((double)D * LN2);  /* nats per element -> bits/dim */
    double sum_prior = 0.0, sum_recon = 0.0, sum_diff = 0.0;
    double dg0 = 0.0, dg1 = 0.0;
    const int Ko = vdm_net_out_channels(&c->net);
    const int learned_var = c->net.var_out && T > 0;
    elem_out *eo = (elem_out *)malloc(sizeof(elem_out) * (size_t)N);
    if (!eo) { free(tp); free(alpha); return VDM_ERR_NOMEM; }
    elem_job ej = { c, ws, b, T, N, learned_var, Ko, D, scale, g0, g1, gam, gdt, dgam, ddgdt, diff_nats, grad, eo };
    (void)vdm_parallel_for(nthreads, N, elem_range, &ej); /* complete even if a thread fails */
    for (int n = 0; n < N; n++) {
        sum_prior += eo[n].pr;
        sum_recon += eo[n].rc;
        sum_diff += eo[n].diff;
        dg0 += eo[n].dg0;
        dg1 += eo[n].dg1;
    }
    free(eo);
    out->prior = sum_prior * scale / N;
    out->recon = sum_recon * scale / N;
    out->diff = sum_diff * scale / N;
    out->total = out->prior + out->recon + out->diff;

    if (grad) {
        st = vdm_net_backward(&c->net, params, ws->net, nthreads, ws->deps, grad, ws->dz, ws->dgs);
        if (st != VDM_OK) { free(tp); free(alpha); return st; }
        const double gsd = 1.0 / (c->gs_hi - c->gs_lo);
        for (int n = 0; n < N; n++) {
            const float *x = b->x + n * D, *e = b->eps + n * D, *dz = ws->dz + n * D;
            double sx = 0.0, se = 0.0;
            for (size_t i = 0; i < D; i++) {
                sx += (double)dz[i] * x[i];
                se += (double)dz[i] * e[i];
            }
            double a = alpha[n], s = sigma[n];
            double da = -0.5 * a * s * s, ds = 0.5 * s * a * a;
            dgam[n] += sx * da + se * ds + (double)ws->dgs[n] * gsd;
        }
        dgam[2 * N] = dg0 * scale / N;
        dgam[2 * N + 1] = dg1 * scale / N;
        st = vdm_sched_backward(&c->sched, sp, (int)np, tp, dgam, T > 0 ? NULL : ddgdt,
                                grad + vdm_net_param_count(&c->net));
    }
    free(tp);
    free(alpha);
    return st;
}
