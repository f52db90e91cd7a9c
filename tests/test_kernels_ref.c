/* test_kernels_ref.c — the REF kernels: correct (against float64 loops and
 * central differences), and deterministic (scalar == AVX2 bit for bit,
 * 1 thread == N threads bit for bit). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "common/detmath.h"
#include "kernels/kernels_internal.h"

static uint64_t rng_state = 0x1234567887654321ull;
static double urand(void) /* [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1.0p-52 - 1.0;
}
static float *frand(size_t n, double scale)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = (float)(scale * urand());
    return p;
}

/* float64 3x3 conv, zero padding, with per-image bias. */
static void conv_d(double *out, const double *in, const double *w, const double *bias, size_t bstride,
                   int N, int H, int W, int Cin, int Cout)
{
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int co = 0; co < Cout; co++) {
                    double s = bias ? bias[n * bstride + co] : 0.0;
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

static double *to_d(const float *p, size_t n)
{
    double *d = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) d[i] = p[i];
    return d;
}

typedef struct { int N, H, W, Cin, Cout; } shp;
static const shp shapes[] = {
    {1, 1, 1, 1, 1},  {1, 3, 1, 2, 5},   {2, 4, 5, 3, 4},   {1, 5, 7, 8, 8},   {2, 3, 9, 15, 16},
    {1, 4, 13, 16, 24}, {1, 2, 20, 9, 32}, {3, 3, 8, 32, 3}, {1, 6, 17, 32, 33}, {2, 2, 11, 40, 48},
    /* wide inputs, odd output counts */
    {1, 5, 14, 48, 24}, {2, 3, 10, 64, 19}, {1, 4, 9, 43, 8}, {1, 1, 8, 64, 64},
};

Test(kernels_ref, conv_matches_float64)
{
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        shp h = shapes[s];
        size_t ni = (size_t)h.N * h.H * h.W * h.Cin, no = (size_t)h.N * h.H * h.W * h.Cout, nw = 9u * h.Cin * h.Cout;
        float *in = frand(ni, 1.0), *w = frand(nw, 0.5), *b = frand((size_t)h.N * h.Cout, 0.3);
        float *out = malloc(sizeof(float) * no);
        double *ind = to_d(in, ni), *wd = to_d(w, nw), *bd = to_d(b, (size_t)h.N * h.Cout);
        double *outd = malloc(sizeof(double) * no);
        vdm_conv3x3_ref(out, in, w, b, (size_t)h.Cout, h.N, h.H, h.W, h.Cin, h.Cout, 0, 0, h.N * h.H);
        conv_d(outd, ind, wd, bd, (size_t)h.Cout, h.N, h.H, h.W, h.Cin, h.Cout);
        /* float summation of at most 9*Cin+1 terms of size <= 0.5: error far below 1e-4 */
        for (size_t i = 0; i < no; i++)
            cr_assert(fabs(out[i] - outd[i]) <= 1e-5 * (1.0 + 9.0 * h.Cin), "shape %zu i %zu: %g vs %g", s, i, out[i], outd[i]);
        free(in); free(w); free(b); free(out); free(ind); free(wd); free(bd); free(outd);
    }
}

Test(kernels_ref, conv_accumulate_and_null_bias)
{
    shp h = {2, 4, 9, 5, 12};
    size_t ni = (size_t)h.N * h.H * h.W * h.Cin, no = (size_t)h.N * h.H * h.W * h.Cout, nw = 9u * h.Cin * h.Cout;
    float *in = frand(ni, 1.0), *w = frand(nw, 0.5), *base = frand(no, 2.0);
    float *o1 = malloc(sizeof(float) * no), *o2 = malloc(sizeof(float) * no);
    vdm_conv3x3_ref(o1, in, w, NULL, 0, h.N, h.H, h.W, h.Cin, h.Cout, 0, 0, h.N * h.H);
    memcpy(o2, base, sizeof(float) * no);
    vdm_conv3x3_ref(o2, in, w, NULL, 0, h.N, h.H, h.W, h.Cin, h.Cout, 1, 0, h.N * h.H);
    for (size_t i = 0; i < no; i++) cr_assert_eq(o2[i], base[i] + o1[i]);
    free(in); free(w); free(base); free(o1); free(o2);
}

Test(kernels_ref, scalar_and_avx2_bit_identical)
{
    if (vdm_cpu_simd_level() < VDM_SIMD_AVX2) cr_skip_test("CPU without AVX2");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int mode = 0; mode < 4; mode++) {
            shp h = shapes[s];
            size_t ni = (size_t)h.N * h.H * h.W * h.Cin, no = (size_t)h.N * h.H * h.W * h.Cout, nw = 9u * h.Cin * h.Cout;
            /* wide dynamic range so that any change of order shows in the bits */
            float *in = frand(ni, 3.0), *w = frand(nw, 1.0), *b = frand((size_t)h.N * h.Cout, 1.0);
            for (size_t i = 0; i < nw; i += 7) w[i] *= 1000.0f;
            float *base = frand(no, 1.0);
            float *o1 = malloc(sizeof(float) * no), *o2 = malloc(sizeof(float) * no);
            memcpy(o1, base, sizeof(float) * no);
            memcpy(o2, base, sizeof(float) * no);
            const float *bias = mode & 1 ? b : NULL;
            size_t bs = mode & 2 ? (size_t)h.Cout : 0;
            int acc = mode >> 1;
            vdm_simd_level old = vdm_ref_simd_cap(VDM_SIMD_SCALAR);
            cr_assert_eq(vdm_ref_simd_level(), VDM_SIMD_SCALAR);
            vdm_conv3x3_ref(o1, in, w, bias, bs, h.N, h.H, h.W, h.Cin, h.Cout, acc, 0, h.N * h.H);
            vdm_ref_simd_cap(VDM_SIMD_AVX2);
            cr_assert_eq(vdm_ref_simd_level(), VDM_SIMD_AVX2);
            vdm_conv3x3_ref(o2, in, w, bias, bs, h.N, h.H, h.W, h.Cin, h.Cout, acc, 0, h.N * h.H);
            vdm_ref_simd_cap(old);
            cr_assert(memcmp(o1, o2, sizeof(float) * no) == 0, "shape %zu mode %d differs", s, mode);
            free(in); free(w); free(b); free(base); free(o1); free(o2);
        }
}

Test(kernels_ref, threads_bit_identical)
{
    shp h = {3, 7, 19, 16, 24};
    size_t ni = (size_t)h.N * h.H * h.W * h.Cin, no = (size_t)h.N * h.H * h.W * h.Cout, nw = 9u * h.Cin * h.Cout;
    float *in = frand(ni, 3.0), *w = frand(nw, 1.0), *b = frand((size_t)h.N * h.Cout, 1.0);
    float *o1 = malloc(sizeof(float) * no), *o2 = malloc(sizeof(float) * no);
    cr_assert_eq(vdm_conv3x3_ref_mt(o1, in, w, b, (size_t)h.Cout, h.N, h.H, h.W, h.Cin, h.Cout, 0, 1), VDM_OK);
    for (int t = 2; t <= 5; t++) {
        memset(o2, 0xff, sizeof(float) * no);
        cr_assert_eq(vdm_conv3x3_ref_mt(o2, in, w, b, (size_t)h.Cout, h.N, h.H, h.W, h.Cin, h.Cout, 0, t), VDM_OK);
        cr_assert(memcmp(o1, o2, sizeof(float) * no) == 0, "%d threads differ", t);
    }
    cr_assert_eq(vdm_conv3x3_ref_mt(o2, in, w, b, 0, 0, h.H, h.W, h.Cin, h.Cout, 0, 2), VDM_ERR_ARG);
    cr_assert_eq(vdm_conv3x3_ref_mt(o2, in, w, b, 0, 1, h.H, h.W, VDM_KERNEL_MAX_CH + 1, h.Cout, 0, 2), VDM_ERR_ARG);
    free(in); free(w); free(b); free(o1); free(o2);
}

/* L = sum_o g[o] * conv(in, w, b)[o] in float64; its gradient is exactly what
 * the backward computes.  L is linear in each argument, so central
 * differences are exact up to rounding. */
static double conv_loss(const double *in, const double *w, const double *b, const double *g, shp h)
{
    size_t no = (size_t)h.N * h.H * h.W * h.Cout;
    double *o = malloc(sizeof(double) * no), L = 0;
    conv_d(o, in, w, b, 0, h.N, h.H, h.W, h.Cin, h.Cout);
    for (size_t i = 0; i < no; i++) L += g[i] * o[i];
    free(o);
    return L;
}

static double fd(double *p, double (*f)(void *), void *ctx, double step)
{
    const double keep = *p;
    *p = keep + step;
    double lp = f(ctx);
    *p = keep - step;
    double lm = f(ctx);
    *p = keep;
    return (lp - lm) / (2 * step);
}

typedef struct { double *in, *w, *b, *g; shp h; } conv_ctx;
static double conv_ctx_loss(void *c) { conv_ctx *x = c; return conv_loss(x->in, x->w, x->b, x->g, x->h); }

Test(kernels_ref, conv_backward_finite_differences)
{
    const shp list[] = {{2, 4, 5, 3, 4}, {1, 3, 3, 2, 9}, {2, 1, 6, 5, 2}};
    for (size_t s = 0; s < 3; s++) {
        shp h = list[s];
        size_t ni = (size_t)h.N * h.H * h.W * h.Cin, no = (size_t)h.N * h.H * h.W * h.Cout, nw = 9u * h.Cin * h.Cout;
        float *in = frand(ni, 1.0), *w = frand(nw, 1.0), *b = frand((size_t)h.Cout, 1.0), *g = frand(no, 1.0);
        float *din = malloc(sizeof(float) * ni), *dw = calloc(nw, sizeof(float)), *db = calloc((size_t)h.Cout, sizeof(float));
        /* dw, db accumulate: start from 1.0 and subtract it afterwards */
        for (size_t i = 0; i < nw; i++) dw[i] = 1.0f;
        vdm_conv3x3_backward_ref(din, dw, db, g, in, w, h.N, h.H, h.W, h.Cin, h.Cout);
        conv_ctx c = {to_d(in, ni), to_d(w, nw), to_d(b, (size_t)h.Cout), to_d(g, no), h};
        for (size_t i = 0; i < ni; i++) {
            double ref = fd(&c.in[i], conv_ctx_loss, &c, 1e-3);
            cr_assert(fabs(din[i] - ref) <= 1e-5 * (1 + fabs(ref)), "din[%zu] %g vs %g", i, din[i], ref);
        }
        for (size_t i = 0; i < nw; i++) {
            double ref = fd(&c.w[i], conv_ctx_loss, &c, 1e-3);
            cr_assert(fabs((dw[i] - 1.0) - ref) <= 1e-5 * (1 + fabs(ref)), "dw[%zu] %g vs %g", i, dw[i] - 1.0, ref);
        }
        for (int i = 0; i < h.Cout; i++) {
            double ref = fd(&c.b[i], conv_ctx_loss, &c, 1e-3);
            cr_assert(fabs(db[i] - ref) <= 1e-5 * (1 + fabs(ref)), "db[%d] %g vs %g", i, db[i], ref);
        }
        /* NULL outputs are allowed and change nothing else */
        vdm_conv3x3_backward_ref(NULL, NULL, NULL, g, in, w, h.N, h.H, h.W, h.Cin, h.Cout);
        free(in); free(w); free(b); free(g); free(din); free(dw); free(db);
        free(c.in); free(c.w); free(c.b); free(c.g);
    }
}

typedef struct { double *in, *w, *b, *g; int N, In, Out; } dense_ctx;
static double dense_loss(void *p)
{
    dense_ctx *c = p;
    double L = 0;
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->Out; o++) {
            double s = c->b[o];
            for (int i = 0; i < c->In; i++) s += c->in[n * c->In + i] * c->w[i * c->Out + o];
            L += c->g[n * c->Out + o] * s;
        }
    return L;
}

Test(kernels_ref, dense_forward_and_backward)
{
    const int N = 3, In = 7, Out = 5;
    float *in = frand(N * In, 1.0), *w = frand(In * Out, 1.0), *b = frand(Out, 1.0), *g = frand(N * Out, 1.0);
    float out[15], din[21], dw[35] = {0}, db[5] = {0};
    vdm_dense_ref(out, in, w, b, N, In, Out);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Out; o++) {
            float s = b[o];
            for (int i = 0; i < In; i++) s = s + in[n * In + i] * w[i * Out + o];
            cr_assert_eq(out[n * Out + o], s); /* the documented order, exactly */
        }
    vdm_dense_backward_ref(din, dw, db, g, in, w, N, In, Out);
    dense_ctx c = {to_d(in, N * In), to_d(w, In * Out), to_d(b, Out), to_d(g, N * Out), N, In, Out};
    for (int i = 0; i < N * In; i++) {
        double r = fd(&c.in[i], dense_loss, &c, 1e-3);
        cr_assert(fabs(din[i] - r) < 1e-5 * (1 + fabs(r)));
    }
    for (int i = 0; i < In * Out; i++) {
        double r = fd(&c.w[i], dense_loss, &c, 1e-3);
        cr_assert(fabs(dw[i] - r) < 1e-5 * (1 + fabs(r)));
    }
    for (int i = 0; i < Out; i++) {
        double r = fd(&c.b[i], dense_loss, &c, 1e-3);
        cr_assert(fabs(db[i] - r) < 1e-5 * (1 + fabs(r)));
    }
    free(in); free(w); free(b); free(g); free(c.in); free(c.w); free(c.b); free(c.g);
}

static double silu_d(double x) { return x / (1.0 + exp(-x)); }

Test(kernels_ref, activations_values_and_derivatives)
{
    const float xs[] = {-90.0f, -30.0f, -5.5f, -1.0f, -0.25f, -1e-6f, 0.0f, 1e-6f, 0.3f, 1.0f, 4.0f, 20.0f, 80.0f};
    const size_t n = sizeof xs / sizeof xs[0];
    float y[16], d[16], ones[16];
    for (size_t i = 0; i < n; i++) ones[i] = 1.0f;
    vdm_act_forward(y, xs, n, VDM_KACT_SILU);
    vdm_act_backward(d, xs, ones, n, VDM_KACT_SILU);
    for (size_t i = 0; i < n; i++) {
        double x = xs[i], ref = silu_d(x);
        cr_assert(fabs(y[i] - ref) <= 1e-6 * (1e-30 + fabs(ref)) + 1e-37, "silu(%g) = %g vs %g", x, y[i], ref);
        double h = 1e-5 * (1 + fabs(x));
        double dref = (silu_d(x + h) - silu_d(x - h)) / (2 * h);
        cr_assert(fabs(d[i] - dref) <= 1e-5, "silu'(%g) = %g vs %g", x, d[i], dref);
    }
    vdm_act_forward(y, xs, n, VDM_KACT_RELU);
    vdm_act_backward(d, xs, ones, n, VDM_KACT_RELU);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(y[i], xs[i] > 0 ? xs[i] : 0.0f);
        cr_assert_eq(d[i], xs[i] > 0 ? 1.0f : 0.0f);
    }
    /* in-place use is allowed */
    float t[16];
    memcpy(t, xs, sizeof xs);
    vdm_act_forward(t, t, n, VDM_KACT_SILU);
    vdm_act_forward(y, xs, n, VDM_KACT_SILU);
    cr_assert(memcmp(t, y, sizeof(float) * n) == 0);
}

Test(kernels_ref, fourier_features_and_backward)
{
    const int C = 3, nf = 2;
    const int32_t exps[2] = {7, 8};
    const size_t np = 40, F = (size_t)C * (1 + 2 * nf);
    float *z = frand(np * C, 2.0), *g = frand(np * F, 1.0);
    float *feat = malloc(sizeof(float) * np * F), *dz = malloc(sizeof(float) * np * C);
    cr_assert_eq(vdm_fourier_freq(0), 3.14159265358979f);
    cr_assert_eq(vdm_fourier_freq(8), 256.0f * 3.14159265358979f);
    cr_assert_eq(vdm_fourier_freq(-1), 0.5f * 3.14159265358979f);
    vdm_fourier_forward(feat, z, np, C, exps, nf);
    for (size_t p = 0; p < np; p++)
        for (int c = 0; c < C; c++) {
            const float zz = z[p * C + c];
            cr_assert_eq(feat[p * F + c], zz);
            for (int k = 0; k < nf; k++) {
                /* float product, then a float64 sin: the features are that
                 * product's sin within a few 1e-7 */
                double a = (double)(vdm_fourier_freq(exps[k]) * zz);
                cr_assert(fabs(feat[p * F + C * (1 + 2 * k) + c] - sin(a)) < 2e-6);
                cr_assert(fabs(feat[p * F + C * (2 + 2 * k) + c] - cos(a)) < 2e-6);
            }
        }
    vdm_fourier_backward(dz, z, g, np, C, exps, nf);
    for (size_t p = 0; p < np; p++)
        for (int c = 0; c < C; c++) {
            /* float64 derivative of sum_j g_j feat_j(z), at the phase the
             * forward used (the rounded float product f*z: its error, up to
             * half an ulp of f|z| ~ 1e-4 rad, is part of the features) */
            double ref = g[p * F + c];
            for (int k = 0; k < nf; k++) {
                const float ff = vdm_fourier_freq(exps[k]);
                double f = ldexp(M_PI, exps[k]), a = (double)(ff * z[p * C + c]);
                cr_assert(fabs(f - ff) < 1e-7 * f);
                ref += g[p * F + C * (1 + 2 * k) + c] * f * cos(a) - g[p * F + C * (2 + 2 * k) + c] * f * sin(a);
            }
            cr_assert(fabs(dz[p * C + c] - ref) < 1e-5 * (1 + fabs(ref)) * 804, "dz %g vs %g", dz[p * C + c], ref);
        }
    free(z); free(g); free(feat); free(dz);
}

Test(kernels_ref, channel_sum)
{
    const int N = 2, C = 3;
    const size_t HW = 5;
    float *x = frand(N * HW * C, 1.0), out[6];
    vdm_channel_sum(out, x, N, HW, C);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            float s = 0;
            for (size_t p = 0; p < HW; p++) s += x[(n * HW + p) * C + c];
            cr_assert_eq(out[n * C + c], s);
        }
    free(x);
}

static void count_range(void *ctx, int i0, int i1)
{
    int *hits = ctx;
    for (int i = i0; i < i1; i++) hits[i]++;
}

Test(kernels_ref, parallel_for_covers_each_index_once)
{
    int hits[37];
    for (int t = 1; t <= 40; t += 3) {
        memset(hits, 0, sizeof hits);
        cr_assert_eq(vdm_parallel_for(t, 37, count_range, hits), VDM_OK);
        for (int i = 0; i < 37; i++) cr_assert_eq(hits[i], 1);
    }
    cr_assert_eq(vdm_parallel_for(4, 0, count_range, hits), VDM_OK);
    /* the same through a bound pool, many times (workers sleep and wake) */
    vdm_pool *pool = vdm_pool_create(3);
    cr_assert_not_null(pool);
    cr_assert_eq(vdm_pool_threads(pool), 3);
    cr_assert_null(vdm_pool_bind(pool));
    for (int rep = 0; rep < 500; rep++) {
        int t = 1 + rep % 4; /* 4 > pool size: falls back to starting threads */
        memset(hits, 0, sizeof hits);
        cr_assert_eq(vdm_parallel_for(t, 1 + rep % 37, count_range, hits), VDM_OK);
        for (int i = 0; i < 37; i++) cr_assert_eq(hits[i], i < 1 + rep % 37 ? 1 : 0);
    }
    cr_assert_eq(vdm_pool_bind(NULL), pool);
    vdm_pool_free(pool);
    vdm_pool_free(NULL);
    cr_assert_null(vdm_pool_create(0));
    cr_assert_str_eq(vdm_backend_name(VDM_BACKEND_REF), "ref");
    cr_assert_str_eq(vdm_backend_name(VDM_BACKEND_CPU), "cpu");
}

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* The AVX2 SiLU replays vdm_expf; this sweep pins the replica to detmath
 * (floats from 5e-10 to 100 in magnitude, both signs, every 608th bit
 * pattern, i.e. steps of about 2^-15 relative, plus the
 * branch boundaries and special values). */
Test(kernels_ref, avx2_exp_replica_matches_detmath)
{
    if (vdm_cpu_simd_level() < VDM_SIMD_AVX2) cr_skip_test("CPU without AVX2");
    float buf[8], got[8];
    int nb = 0;
    size_t checked = 0;
    const float special[] = {0.0f, -0.0f, 88.72283f, 88.7228317f, 88.722824f, -103.972084f, -103.97209f,
                             -103.97208f, 88.0f, 88.5f, -87.0f, -87.33655f, -87.5f, 1e-30f, -1e-30f,
                             bitsf(0x7fc00000u), __builtin_inff(), -__builtin_inff(), 1e-45f, 3.4e38f, -3.4e38f};
    for (size_t i = 0; i < sizeof special / sizeof special[0] + 2u * (1u << 19); i++) {
        float x;
        if (i < sizeof special / sizeof special[0]) {
            x = special[i];
        } else {
            /* walk the bit patterns of positive floats, both signs */
            size_t j = i - sizeof special / sizeof special[0];
            x = bitsf(0x30000000u + (uint32_t)(j >> 1) * 0x260u); /* up to 128 */
            if (j & 1) x = -x;
            if (x > 100.0f || x < -110.0f) continue;
        }
        buf[nb++] = x;
        if (nb == 8) {
#if defined(__x86_64__) || defined(__i386__)
            vdm_expf_avx2_x8(got, buf);
#else
            for (int k = 0; k < 8; k++) got[k] = vdm_expf(buf[k]);   /* not reached: skipped above */
#endif
            for (int k = 0; k < 8; k++) {
                float want = vdm_expf(buf[k]);
                cr_assert(fbits(got[k]) == fbits(want) || (want != want && got[k] != got[k]),
                          "exp(%a): avx2 %a, detmath %a", buf[k], got[k], want);
            }
            checked += 8;
            nb = 0;
        }
    }
    cr_assert(checked > 500000);
}

Test(kernels_ref, silu_scalar_and_avx2_bit_identical)
{
    if (vdm_cpu_simd_level() < VDM_SIMD_AVX2) cr_skip_test("CPU without AVX2");
    const size_t n = 100003; /* not a multiple of 8: the tail is scalar */
    float *x = frand(n, 1.0), *g = frand(n, 1.0);
    for (size_t i = 0; i < n; i++) x[i] *= (float)(i % 7 == 0 ? 120.0 : i % 3 == 0 ? 12.0 : 2.0);
    float *y1 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
    float *d1 = malloc(sizeof(float) * n), *d2 = malloc(sizeof(float) * n);
    vdm_simd_level old = vdm_ref_simd_cap(VDM_SIMD_SCALAR);
    vdm_act_forward(y1, x, n, VDM_KACT_SILU);
    vdm_act_backward(d1, x, g, n, VDM_KACT_SILU);
    vdm_ref_simd_cap(VDM_SIMD_AVX2);
    vdm_act_forward(y2, x, n, VDM_KACT_SILU);
    vdm_act_backward(d2, x, g, n, VDM_KACT_SILU);
    vdm_ref_simd_cap(old);
    cr_assert(memcmp(y1, y2, sizeof(float) * n) == 0);
    cr_assert(memcmp(d1, d2, sizeof(float) * n) == 0);
    free(x); free(g); free(y1); free(y2); free(d1); free(d2);
}
