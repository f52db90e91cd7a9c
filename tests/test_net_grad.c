/* test_net_grad.c — the whole epsilon-network against an independent float64
 * implementation written from net.h's description: forward values, and every
 * gradient (dparams, dz, dgscaled) against central differences of the
 * float64 network, for the REF and the CPU backend and both activations. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/net.h"

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) * 0x1.0p-52 - 1.0;
}

/* ---------------- float64 reference network (from net.h's text) -------- */
typedef struct {
    vdm_net_config c;
    int N, H, W;
    const double *z, *g;   /* inputs */
    double *p;             /* parameters, net.h layout */
    const double *G;       /* loss weights: L = sum G * eps */
} dnet;

static double act_d(int act, double x) { return act == VDM_ACT_RELU ? (x > 0 ? x : 0) : x / (1 + exp(-x)); }

static void conv_d(double *out, const double *in, const double *w, const double *b, size_t bstride,
                   int N, int H, int W, int Cin, int Cout)
{
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int co = 0; co < Cout; co++) {
                    double s = b[n * bstride + co];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int yy = y + ky - 1, xx = x + kx - 1;
                            if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                            for (int ci = 0; ci < Cin; ci++)
                                s += in[((n * H + yy) * W + xx) * Cin + ci] * w[((ky * 3 + kx) * Cin + ci) * Cout + co];
                        }
                    out[((n * H + y) * W + x) * Cout + co] = s;
                }
}

static void dnet_forward(const dnet *d, double *eps)
{
    const vdm_net_config *c = &d->c;
    const int N = d->N, H = d->H, W = d->W, K = c->channels, C = c->width, B = c->blocks, E = c->emb_dim;
    const int F = K * (1 + 2 * c->n_fourier), P = N * H * W, half = E / 2;
    /* parameter views in the documented order */
    const double *p = d->p;
    const double *w1 = p; p += E * E;
    const double *b1 = p; p += E;
    const double *w2 = p; p += E * B * C;
    const double *b2 = p; p += B * C;
    const double *inw = p; p += 9 * F * C;
    const double *inb = p; p += C;
    const double *bw1[8], *bb1[8], *bw2[8], *bb2[8];
    for (int b = 0; b < B; b++) {
        bw1[b] = p; p += 9 * C * C;
        bb1[b] = p; p += C;
        bw2[b] = p; p += 9 * C * C;
        bb2[b] = p; p += C;
    }
    const double *ow = p; p += 9 * C * K;
    const double *ob = p;
    /* embedding */
    double *emb = malloc(sizeof(double) * N * B * C), e0[64], e1[64];
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < half; k++) {
            double f = half > 1 ? 1000.0 * exp(-log(10000.0) * k / (half - 1)) : 1000.0;
            e0[k] = sin(f * d->g[n]);
            e0[half + k] = cos(f * d->g[n]);
        }
        for (int j = 0; j < E; j++) {
            double s = b1[j];
            for (int i = 0; i < E; i++) s += e0[i] * w1[i * E + j];
            e1[j] = act_d(c->act, s);
        }
        for (int j = 0; j < B * C; j++) {
            double s = b2[j];
            for (int i = 0; i < E; i++) s += e1[i] * w2[i * B * C + j];
            emb[n * B * C + j] = s;
        }
    }
    double *feat = malloc(sizeof(double) * P * F), *h = malloc(sizeof(double) * P * C);
    double *a = malloc(sizeof(double) * P * C), *u = malloc(sizeof(double) * P * C);
    double *r = malloc(sizeof(double) * P * C), *bias = malloc(sizeof(double) * N * C);
    for (int q = 0; q < P; q++)
        for (int k = 0; k < K; k++) {
            double zz = d->z[q * K + k];
            feat[q * F + k] = zz;
            for (int j = 0; j < c->n_fourier; j++) {
                double f = ldexp(M_PI, c->fourier_exp[j]);
                feat[q * F + K * (1 + 2 * j) + k] = sin(f * zz);
                feat[q * F + K * (2 + 2 * j) + k] = cos(f * zz);
            }
        }
    conv_d(h, feat, inw, inb, 0, N, H, W, F, C);
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < P * C; i++) a[i] = act_d(c->act, h[i]);
        for (int n = 0; n < N; n++)
            for (int ch = 0; ch < C; ch++) bias[n * C + ch] = bb1[b][ch] + emb[n * B * C + b * C + ch];
        conv_d(u, a, bw1[b], bias, C, N, H, W, C, C);
        for (int i = 0; i < P * C; i++) u[i] = act_d(c->act, u[i]);
        conv_d(r, u, bw2[b], bb2[b], 0, N, H, W, C, C);
        for (int i = 0; i < P * C; i++) h[i] += r[i];
    }
    for (int i = 0; i < P * C; i++) a[i] = act_d(c->act, h[i]);
    conv_d(eps, a, ow, ob, 0, N, H, W, C, K);
    free(emb); free(feat); free(h); free(a); free(u); free(r); free(bias);
}

static double dnet_loss(const dnet *d)
{
    const int n = d->N * d->H * d->W * d->c.channels;
    double *eps = malloc(sizeof(double) * n), L = 0;
    dnet_forward(d, eps);
    for (int i = 0; i < n; i++) L += d->G[i] * eps[i];
    free(eps);
    return L;
}

static double cdiff(dnet *d, double *x, double h)
{
    const double keep = *x;
    *x = keep + h;
    double lp = dnet_loss(d);
    *x = keep - h;
    double lm = dnet_loss(d);
    *x = keep;
    return (lp - lm) / (2 * h);
}

/* --------------------------------------------------------------- tests */

static vdm_net_config small_cfg(int act, int nf)
{
    vdm_net_config c = {.channels = 3, .width = 8, .blocks = 2, .n_fourier = nf, .fourier_exp = {7, 8},
                        .emb_dim = 6, .act = act};
    return c;
}

/* Compare max |analytic - fd| over a set against max |fd| of that set:
 * the float32 backward carries relative rounding ~1e-6 per operation and
 * the Fourier phases ~1e-4 rad (float products f*z), so 2e-3 of the
 * largest entry is a clear pass/fail line for a wrong formula (which is off
 * by O(1)). */
static void check_close(const char *what, const float *an, const double *fdv, int n, double rel)
{
    double emax = 0, fmax = 0;
    int imax = 0;
    for (int i = 0; i < n; i++) {
        double e = fabs(an[i] - fdv[i]);
        if (e > emax) { emax = e; imax = i; }
        if (fabs(fdv[i]) > fmax) fmax = fabs(fdv[i]);
    }
    cr_assert(fmax > 0, "%s: all finite differences are zero (test is vacuous)", what);
    cr_assert(emax <= rel * fmax, "%s: max error %g at %d (analytic %g, fd %g), scale %g", what, emax, imax,
              an[imax], fdv[imax], fmax);
}

static void run_grad_check(vdm_backend be, int act, int nf)
{
    vdm_net_config c = small_cfg(act, nf);
    cr_assert_eq(vdm_net_config_check(&c), VDM_OK);
    const int N = 2, H = 4, W = 5, K = 3, P = N * H * W;
    const size_t np = vdm_net_param_count(&c);
    float *params = malloc(sizeof(float) * np), *z = malloc(sizeof(float) * P * K), g[2] = {0.23f, 0.71f};
    float *G = malloc(sizeof(float) * P * K), *eps = malloc(sizeof(float) * P * K);
    /* every parameter random (the zero-initialised convs would hide gradients) */
    vdm_net_params L;
    vdm_net_layout(&c, params, &L);
    for (size_t i = 0; i < np; i++) params[i] = (float)(0.25 * urand());
    /* keep the gamma embedding informative but not wildly oscillating */
    for (int i = 0; i < c.emb_dim * c.emb_dim; i++) L.emb_w1[i] *= 2.0f;
    for (int i = 0; i < P * K; i++) z[i] = (float)(1.2 * urand()), G[i] = (float)urand();

    vdm_net_ws *ws = vdm_net_ws_create(&c, be, N, H, W, 1);
    cr_assert_not_null(ws);
    cr_assert_eq(vdm_net_forward(&c, params, ws, 2, z, g, N, H, W, eps), VDM_OK);
    float *dp = calloc(np, sizeof(float)), *dz = malloc(sizeof(float) * P * K), dg[2];
    cr_assert_eq(vdm_net_backward(&c, params, ws, 2, G, dp, dz, dg), VDM_OK);

    dnet d = {c, N, H, W, NULL, NULL, NULL, NULL};
    double *zd = malloc(sizeof(double) * P * K), gd[2] = {g[0], g[1]}, *pd = malloc(sizeof(double) * np);
    double *Gd = malloc(sizeof(double) * P * K), *epsd = malloc(sizeof(double) * P * K);
    for (int i = 0; i < P * K; i++) zd[i] = z[i], Gd[i] = G[i];
    for (size_t i = 0; i < np; i++) pd[i] = params[i];
    d.z = zd; d.g = gd; d.p = pd; d.G = Gd;

    /* forward agrees with float64 */
    dnet_forward(&d, epsd);
    double emax = 0, smax = 0;
    for (int i = 0; i < P * K; i++) {
        emax = fmax(emax, fabs(eps[i] - epsd[i]));
        smax = fmax(smax, fabs(epsd[i]));
    }
    cr_assert(smax > 1e-3 && emax <= 1e-4 * (1 + smax), "forward: error %g, scale %g", emax, smax);

    /* every parameter, tensor by tensor */
    const int nt = vdm_net_tensor_count(&c);
    for (int t = 0; t < nt; t++) {
        vdm_net_tensor ti;
        cr_assert_eq(vdm_net_tensor_info(&c, t, &ti), VDM_OK);
        double *fdv = malloc(sizeof(double) * ti.count);
        for (size_t i = 0; i < ti.count; i++) fdv[i] = cdiff(&d, &pd[ti.offset + i], 1e-6);
        check_close(ti.name, dp + ti.offset, fdv, (int)ti.count, 2e-3);
        free(fdv);
    }
    /* dz: the Fourier features have frequency 2^8 pi, so a small step */
    double *fz = malloc(sizeof(double) * P * K);
    for (int i = 0; i < P * K; i++) fz[i] = cdiff(&d, &zd[i], 1e-7);
    check_close("dz", dz, fz, P * K, 3e-3);
    double fg[2];
    for (int n = 0; n < N; n++) fg[n] = cdiff(&d, &gd[n], 1e-8);
    check_close("dgscaled", dg, fg, N, 3e-3);

    /* dparams accumulates; NULL dz / dgscaled are allowed */
    float *dp2 = malloc(sizeof(float) * np);
    memcpy(dp2, dp, sizeof(float) * np);
    cr_assert_eq(vdm_net_backward(&c, params, ws, 1, G, dp2, NULL, NULL), VDM_OK);
    for (size_t i = 0; i < np; i++)
        cr_assert(fabs(dp2[i] - 2 * dp[i]) <= 1e-4 * (1e-3 + fabs(dp[i])), "accumulate %zu", i);

    vdm_net_ws_free(ws);
    free(params); free(z); free(G); free(eps); free(dp); free(dz); free(zd); free(pd); free(Gd); free(epsd);
    free(fz); free(dp2);
}

Test(net_grad, ref_silu_fourier) { run_grad_check(VDM_BACKEND_REF, VDM_ACT_SILU, 2); }
Test(net_grad, cpu_silu_fourier) { run_grad_check(VDM_BACKEND_CPU, VDM_ACT_SILU, 2); }
Test(net_grad, ref_relu_no_fourier) { run_grad_check(VDM_BACKEND_REF, VDM_ACT_RELU, 0); }
/* REF kernels capped to scalar: the CPU backend then runs im2col + sgemm in
 * every convolution (otherwise the direct AVX2 kernel in forward and dX) */
Test(net_grad, cpu_im2col_relu_fourier)
{
    vdm_simd_level old = vdm_ref_simd_cap(VDM_SIMD_SCALAR);
    run_grad_check(VDM_BACKEND_CPU, VDM_ACT_RELU, 2);
    vdm_ref_simd_cap(old);
}
