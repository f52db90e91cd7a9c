/* test_net.c — the network's contract apart from gradients: configuration
 * checks, parameter layout and tensor table, deterministic initialisation,
 * and the determinism of the REF forward (threads, SIMD, tiles, workspace
 * kind), plus CPU-vs-REF agreement and argument errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/net.h"

static uint64_t rs = 0x2545F4914F6CDD1Dull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) * 0x1.0p-52 - 1.0;
}

static vdm_net_config cfg(int width, int blocks, int act)
{
    vdm_net_config c = {.channels = 3, .width = width, .blocks = blocks, .n_fourier = 2,
                        .fourier_exp = {7, 8}, .emb_dim = 16, .act = act};
    return c;
}

/* Parameters as after some training: nothing zero, moderate scale. */
static float *trained_like(const vdm_net_config *c)
{
    size_t n = vdm_net_param_count(c);
    float *p = malloc(sizeof(float) * n);
    vdm_net_init(c, p, 7);
    vdm_net_params L;
    vdm_net_layout(c, p, &L);
    for (int b = 0; b < c->blocks; b++)
        for (int i = 0; i < 9 * c->width * c->width; i++) L.blk_w2[b][i] = (float)(0.02 * urand());
    for (int i = 0; i < 9 * c->width * c->channels; i++) L.out_w[i] = (float)(0.05 * urand());
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0.0f) p[i] = (float)(0.01 * urand());
    return p;
}

static float *rand_z(size_t n)
{
    float *z = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) z[i] = (float)(1.7 * urand());
    return z;
}

Test(net, config_check)
{
    vdm_net_config c = cfg(32, 4, VDM_ACT_SILU);
    cr_assert_eq(vdm_net_config_check(&c), VDM_OK);
    cr_assert_eq(vdm_net_config_check(NULL), VDM_ERR_ARG);
    vdm_net_config b;
    b = c; b.width = 0; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    b = c; b.width = VDM_NET_MAX_WIDTH + 1; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    b = c; b.blocks = 0; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    b = c; b.channels = 0; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    b = c; b.n_fourier = VDM_NET_MAX_FOURIER + 1; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    b = c; b.n_fourier = -1; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    b = c; b.fourier_exp[1] = 40; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    b = c; b.emb_dim = 15; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    b = c; b.emb_dim = 0; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    b = c; b.act = 7; cr_assert_eq(vdm_net_config_check(&b), VDM_ERR_ARG);
    cr_assert_eq(vdm_net_param_count(&b), 0);
    b = c; b.n_fourier = 0; b.fourier_exp[0] = 99; cr_assert_eq(vdm_net_config_check(&b), VDM_OK);
}

Test(net, layout_tensor_table_and_counts)
{
    vdm_net_config c = cfg(24, 3, VDM_ACT_SILU);
    const int C = 24, B = 3, E = 16, F = 15, K = 3;
    size_t expect = (size_t)E * E + E + (size_t)E * B * C + B * C + 9u * F * C + C +
                    (size_t)B * (2 * (9u * C * C + C)) + 9u * C * K + K;
    cr_assert_eq(vdm_net_param_count(&c), expect);
    cr_assert_eq(vdm_net_in_features(&c), F);
    cr_assert_eq(vdm_net_flops_per_pixel(&c), 2.0 * 9 * (F * C + 2.0 * B * C * C + C * K));
    float *p = calloc(expect, sizeof(float));
    vdm_net_params L;
    vdm_net_layout(&c, p, &L);
    const int nt = vdm_net_tensor_count(&c);
    cr_assert_eq(nt, 8 + 4 * B);
    size_t off = 0;
    float *ptrs[64];
    int k = 0;
    ptrs[k++] = L.emb_w1; ptrs[k++] = L.emb_b1; ptrs[k++] = L.emb_w2; ptrs[k++] = L.emb_b2;
    ptrs[k++] = L.in_w; ptrs[k++] = L.in_b;
    for (int b = 0; b < B; b++) { ptrs[k++] = L.blk_w1[b]; ptrs[k++] = L.blk_b1[b]; ptrs[k++] = L.blk_w2[b]; ptrs[k++] = L.blk_b2[b]; }
    ptrs[k++] = L.out_w; ptrs[k++] = L.out_b;
    for (int i = 0; i < nt; i++) {
        vdm_net_tensor t;
        cr_assert_eq(vdm_net_tensor_info(&c, i, &t), VDM_OK);
        cr_assert_eq(t.offset, off, "tensor %s", t.name);
        cr_assert_eq(ptrs[i], p + off, "tensor %s view", t.name);
        size_t cnt = 1;
        for (int d = 0; d < t.ndim; d++) cnt *= (size_t)t.shape[d];
        cr_assert_eq(cnt, t.count);
        cr_assert_eq(t.is_bias, t.ndim == 1);
        off += t.count;
    }
    cr_assert_eq(off, expect);
    vdm_net_tensor t;
    cr_assert_eq(vdm_net_tensor_info(&c, 0, &t), VDM_OK);
    cr_assert_str_eq(t.name, "emb.w1");
    cr_assert_eq(vdm_net_tensor_info(&c, 6 + 4 * 2 + 3, &t), VDM_OK);
    cr_assert_str_eq(t.name, "blk2.b2");
    cr_assert_eq(vdm_net_tensor_info(&c, nt - 2, &t), VDM_OK);
    cr_assert_str_eq(t.name, "out.w");
    cr_assert_eq(t.shape[2], C);
    cr_assert_eq(t.shape[3], K);
    cr_assert_eq(vdm_net_tensor_info(&c, nt, &t), VDM_ERR_ARG);
    cr_assert_eq(vdm_net_tensor_info(&c, -1, &t), VDM_ERR_ARG);
    free(p);
}

Test(net, init_is_deterministic_and_scaled)
{
    vdm_net_config c = cfg(32, 2, VDM_ACT_SILU);
    size_t n = vdm_net_param_count(&c);
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n), *d = malloc(sizeof(float) * n);
    vdm_net_init(&c, a, 42);
    vdm_net_init(&c, b, 42);
    vdm_net_init(&c, d, 43);
    cr_assert(memcmp(a, b, sizeof(float) * n) == 0);
    cr_assert(memcmp(a, d, sizeof(float) * n) != 0);
    for (int i = 0; i < vdm_net_tensor_count(&c); i++) {
        vdm_net_tensor t;
        vdm_net_tensor_info(&c, i, &t);
        double s2 = 0;
        for (size_t j = 0; j < t.count; j++) {
            cr_assert(isfinite(a[t.offset + j]));
            s2 += (double)a[t.offset + j] * a[t.offset + j];
        }
        const int zero = t.is_bias || (strstr(t.name, ".w2") && strncmp(t.name, "blk", 3) == 0) ||
                         strcmp(t.name, "out.w") == 0;
        if (zero) {
            cr_assert_eq(s2, 0.0, "%s should start at zero", t.name);
        } else {
            const double fan_in = (double)t.count / t.shape[t.ndim - 1];
            const double gain = strcmp(t.name, "emb.w1") == 0 || strstr(t.name, ".w1") ? 2.0 : 1.0;
            const double var = s2 / t.count, want = gain / fan_in;
            cr_assert(fabs(var / want - 1) < 0.25, "%s: variance %g, want %g", t.name, var, want);
        }
    }
    free(a); free(b); free(d);
}

Test(net, zero_output_conv_gives_zero_eps)
{
    vdm_net_config c = cfg(16, 2, VDM_ACT_SILU);
    float *p = malloc(sizeof(float) * vdm_net_param_count(&c));
    vdm_net_init(&c, p, 1);
    const int N = 2, H = 5, W = 6;
    float *z = rand_z((size_t)N * H * W * 3), g[2] = {0.1f, 0.9f}, eps[180];
    vdm_net_ws *ws = vdm_net_ws_create(&c, VDM_BACKEND_REF, N, H, W, 0);
    cr_assert_eq(vdm_net_forward(&c, p, ws, 1, z, g, N, H, W, eps), VDM_OK);
    for (int i = 0; i < N * H * W * 3; i++) cr_assert_eq(eps[i], 0.0f);
    vdm_net_ws_free(ws);
    free(p); free(z);
}

/* One REF forward with the given threads / SIMD cap / workspace kind. */
static float *ref_forward(const vdm_net_config *c, const float *p, const float *z, const float *g,
                          int N, int H, int W, int nthreads, int train)
{
    float *eps = malloc(sizeof(float) * (size_t)N * H * W * 3);
    vdm_net_ws *ws = vdm_net_ws_create(c, VDM_BACKEND_REF, N, H, W, train);
    cr_assert_not_null(ws);
    cr_assert_eq(vdm_net_forward(c, p, ws, nthreads, z, g, N, H, W, eps), VDM_OK);
    vdm_net_ws_free(ws);
    return eps;
}

Test(net, ref_forward_bit_identical_threads_simd_workspace)
{
    for (int act = 0; act < 2; act++) {
        vdm_net_config c = cfg(24, 3, act);
        float *p = trained_like(&c);
        const int N = 2, H = 11, W = 13;
        const size_t n = (size_t)N * H * W * 3;
        float *z = rand_z(n), g[2] = {0.05f, 0.8f};
        float *e1 = ref_forward(&c, p, z, g, N, H, W, 1, 0);
        double mag = 0;
        for (size_t i = 0; i < n; i++) mag += fabs(e1[i]);
        cr_assert(mag > 1e-3 * n, "output too small to test anything");
        for (int t = 2; t <= 3; t++) {
            float *e = ref_forward(&c, p, z, g, N, H, W, t, 0);
            cr_assert(memcmp(e1, e, sizeof(float) * n) == 0, "act %d: %d threads differ", act, t);
            free(e);
        }
        float *et = ref_forward(&c, p, z, g, N, H, W, 3, 1);
        cr_assert(memcmp(e1, et, sizeof(float) * n) == 0, "training workspace differs");
        free(et);
        vdm_simd_level old = vdm_ref_simd_cap(VDM_SIMD_SCALAR);
        float *es = ref_forward(&c, p, z, g, N, H, W, 2, 0);
        vdm_ref_simd_cap(old);
        cr_assert(memcmp(e1, es, sizeof(float) * n) == 0, "scalar and %s differ",
                  vdm_simd_name(vdm_ref_simd_level()));
        free(es);
        free(e1); free(p); free(z);
    }
}

Test(net, tile_invariance_batch_equals_single_images)
{
    vdm_net_config c = cfg(16, 2, VDM_ACT_SILU);
    float *p = trained_like(&c);
    const int N = 3, H = 7, W = 9;
    const size_t img = (size_t)H * W * 3;
    float *z = rand_z(N * img), g[3] = {0.0f, 0.5f, 1.0f};
    float *eb = ref_forward(&c, p, z, g, N, H, W, 2, 0);
    /* a workspace sized for the batch also runs smaller shapes */
    vdm_net_ws *ws = vdm_net_ws_create(&c, VDM_BACKEND_REF, N, H, W, 0);
    float *e = malloc(sizeof(float) * img);
    for (int n = 0; n < N; n++) {
        cr_assert_eq(vdm_net_forward(&c, p, ws, 1, z + n * img, g + n, 1, H, W, e), VDM_OK);
        cr_assert(memcmp(e, eb + n * img, sizeof(float) * img) == 0, "image %d differs", n);
    }
    /* and a different gamma changes the output (the embedding is wired in) */
    float g2 = 0.3f;
    cr_assert_eq(vdm_net_forward(&c, p, ws, 1, z, &g2, 1, H, W, e), VDM_OK);
    cr_assert(memcmp(e, eb, sizeof(float) * img) != 0);
    vdm_net_ws_free(ws);
    free(e); free(eb); free(p); free(z);
}

/* cpu_scalar: cap the REF kernels to scalar, which makes the CPU backend use
 * im2col + sgemm everywhere (otherwise its forward is the direct AVX2 conv) */
static void cpu_vs_ref(int cpu_scalar)
{
    vdm_net_config c = cfg(32, 2, VDM_ACT_SILU);
    float *p = trained_like(&c);
    const int N = 2, H = 12, W = 10;
    const size_t n = (size_t)N * H * W * 3, np = vdm_net_param_count(&c);
    float *z = rand_z(n), g[2] = {0.3f, 0.6f}, *G = rand_z(n);
    float *er = malloc(sizeof(float) * n), *ec = malloc(sizeof(float) * n);
    float *dpr = calloc(np, sizeof(float)), *dpc = calloc(np, sizeof(float));
    float *dzr = malloc(sizeof(float) * n), *dzc = malloc(sizeof(float) * n), dgr[2], dgc[2];
    vdm_net_ws *wr = vdm_net_ws_create(&c, VDM_BACKEND_REF, N, H, W, 1);
    vdm_net_ws *wc = vdm_net_ws_create(&c, VDM_BACKEND_CPU, N, H, W, 1);
    cr_assert_eq(vdm_net_forward(&c, p, wr, 2, z, g, N, H, W, er), VDM_OK);
    cr_assert_eq(vdm_net_backward(&c, p, wr, 2, G, dpr, dzr, dgr), VDM_OK);
    vdm_simd_level old = vdm_ref_simd_cap(cpu_scalar ? VDM_SIMD_SCALAR : VDM_SIMD_AVX512);
    cr_assert_eq(vdm_net_forward(&c, p, wc, 2, z, g, N, H, W, ec), VDM_OK);
    cr_assert_eq(vdm_net_backward(&c, p, wc, 2, G, dpc, dzc, dgc), VDM_OK);
    vdm_ref_simd_cap(old);
    /* Tolerance: the two backends differ only in the summation order of the
     * convolutions (float32, up to 9*32 terms per output, a few layers), i.e.
     * relative differences ~1e-6; 1e-4 of the largest value is far above
     * that and far below any real error. */
    double emax = 0, smax = 0;
    for (size_t i = 0; i < n; i++) emax = fmax(emax, fabs(er[i] - ec[i])), smax = fmax(smax, fabs(er[i]));
    cr_assert(smax > 0.01 && emax <= 1e-4 * smax, "eps: %g of %g", emax, smax);
    emax = smax = 0;
    for (size_t i = 0; i < n; i++) emax = fmax(emax, fabs(dzr[i] - dzc[i])), smax = fmax(smax, fabs(dzr[i]));
    cr_assert(smax > 0 && emax <= 1e-4 * smax, "dz: %g of %g", emax, smax);
    for (int i = 0; i < vdm_net_tensor_count(&c); i++) {
        vdm_net_tensor t;
        vdm_net_tensor_info(&c, i, &t);
        emax = smax = 0;
        for (size_t j = t.offset; j < t.offset + t.count; j++)
            emax = fmax(emax, fabs(dpr[j] - dpc[j])), smax = fmax(smax, fabs(dpr[j]));
        cr_assert(smax > 0 && emax <= 1e-4 * smax, "%s: %g of %g", t.name, emax, smax);
    }
    for (int i = 0; i < N; i++) cr_assert(fabs(dgr[i] - dgc[i]) <= 1e-4 * fabs(dgr[i]) + 1e-6);
    vdm_net_ws_free(wr);
    vdm_net_ws_free(wc);
    free(p); free(z); free(G); free(er); free(ec); free(dpr); free(dpc); free(dzr); free(dzc);
}

Test(net, cpu_forward_backward_agree_with_ref) { cpu_vs_ref(0); }
Test(net, cpu_im2col_forward_backward_agree_with_ref) { cpu_vs_ref(1); }

Test(net, argument_errors)
{
    vdm_net_config c = cfg(8, 1, VDM_ACT_RELU), bad = c;
    bad.width = -3;
    cr_assert_null(vdm_net_ws_create(&bad, VDM_BACKEND_REF, 1, 4, 4, 0));
    cr_assert_null(vdm_net_ws_create(&c, VDM_BACKEND_CUDA, 1, 4, 4, 0));
    cr_assert_null(vdm_net_ws_create(&c, VDM_BACKEND_REF, 0, 4, 4, 0));
    cr_assert_null(vdm_net_ws_create(NULL, VDM_BACKEND_REF, 1, 4, 4, 0));
    vdm_net_ws_free(NULL);
    float *p = calloc(vdm_net_param_count(&c), sizeof(float));
    float z[4 * 4 * 3 * 2] = {0}, g[2] = {0}, eps[4 * 4 * 3 * 2], dp[1];
    vdm_net_ws *ws = vdm_net_ws_create(&c, VDM_BACKEND_REF, 1, 4, 4, 0);
    cr_assert_eq(vdm_net_forward(&c, p, ws, 1, z, g, 2, 4, 4, eps), VDM_ERR_ARG);  /* N too big */
    cr_assert_eq(vdm_net_forward(&c, p, ws, 1, z, g, 1, 4, 5, eps), VDM_ERR_ARG);  /* W too big */
    cr_assert_eq(vdm_net_forward(&c, p, ws, 1, z, g, 1, 5, 4, eps), VDM_ERR_ARG);  /* pixels */
    cr_assert_eq(vdm_net_forward(&c, p, ws, 1, NULL, g, 1, 4, 4, eps), VDM_ERR_ARG);
    vdm_net_config other = c;
    other.width = 16;
    cr_assert_eq(vdm_net_forward(&other, p, ws, 1, z, g, 1, 4, 4, eps), VDM_ERR_ARG);
    cr_assert_eq(vdm_net_forward(&c, p, ws, 0, z, g, 1, 2, 4, eps), VDM_OK);        /* smaller is fine */
    cr_assert_eq(vdm_net_backward(&c, p, ws, 1, eps, dp, NULL, NULL), VDM_ERR_ARG); /* not for training */
    vdm_net_ws_free(ws);
    ws = vdm_net_ws_create(&c, VDM_BACKEND_CPU, 1, 4, 4, 1);
    cr_assert_not_null(ws);
    cr_assert_eq(vdm_net_backward(&c, p, ws, 1, eps, dp, NULL, NULL), VDM_ERR_ARG); /* no forward yet */
    vdm_net_ws_free(ws);
    free(p);
}

/* Golden hash of one REF forward.  The coding path must give these bits on
 * every build, CPU and thread count (checked by hand 2026-11-26 with gcc -O0,
 * gcc -O3 -march=native, clang -O3 and clang -O3 -march=native, scalar and
 * AVX2).  If this fails after an intentional change to the network, the REF
 * kernels or common/detmath, every .vdz written before is undecodable: bump
 * the format/model version and update the hash. */
Test(net, ref_forward_golden_hash)
{
    vdm_net_config c = {.channels = 3, .width = 24, .blocks = 3, .n_fourier = 2, .fourier_exp = {7, 8},
                        .emb_dim = 16, .act = VDM_ACT_SILU};
    size_t n = vdm_net_param_count(&c);
    float *p = malloc(sizeof(float) * n);
    vdm_net_init(&c, p, 5);
    uint64_t s = 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        if (p[i] == 0.0f) p[i] = (float)((int)(s >> 40) % 1000) * 1e-5f;
    }
    const int N = 2, H = 13, W = 17;
    float *z = malloc(sizeof(float) * N * H * W * 3), *e = malloc(sizeof(float) * N * H * W * 3), g[2] = {0.1f, 0.7f};
    for (int i = 0; i < N * H * W * 3; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        z[i] = (float)((int)(s >> 40) % 20000 - 10000) * 2e-4f;
    }
    for (int t = 1; t <= 3; t += 2) {
        vdm_net_ws *ws = vdm_net_ws_create(&c, VDM_BACKEND_REF, N, H, W, 0);
        cr_assert_eq(vdm_net_forward(&c, p, ws, t, z, g, N, H, W, e), VDM_OK);
        vdm_net_ws_free(ws);
        uint8_t h[32];
        char hex[65];
        vdm_sha256(h, e, sizeof(float) * N * H * W * 3);
        vdm_hex(hex, h, 32);
        cr_assert_str_eq(hex, "b0b5b98da16bfd5f2b2b6eec0c3f5e8881df1197d69fc1ec0219f37f0f3b1681",
                         "REF forward bits changed (%d threads)", t);
    }
    free(p); free(z); free(e);
}
