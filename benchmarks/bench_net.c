/* bench_net.c — speed of the epsilon-network.
 *
 *   coding path (REF backend, deterministic): one 3x3 conv layer in GFLOP/s
 *   (scalar vs the SIMD the CPU offers), and the whole network forward on a
 *   tile in GFLOP/s and seconds per megapixel per network evaluation, for a
 *   few widths/depths, with 1 and 2 threads;
 *   training (CPU backend): forward + backward throughput in 32x32 patches/s.
 *
 * Usage: bench_net [--quick] [--threads N] [--tile S]
 * Prints markdown tables (benchmarks/RESULTS.md "kernels / network").  Each
 * number is the best of many repetitions: the machines are shared, and a
 * short run (64x64 tile by default) is the one least likely to be preempted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model/net.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static uint64_t rs = 88172645463325252ull;
static float frnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (float)((double)(rs >> 11) * 0x1.0p-52 * 2.0 - 1.0);
}
static float *rnd_buf(size_t n, float scale)
{
    float *p = malloc(sizeof(float) * n);
    if (!p) {
        fprintf(stderr, "bench_net: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = scale * frnd();
    return p;
}

/* Repeat fn until at least min_s seconds and reps runs; best time of a run. */
typedef void (*run_fn)(void *);
static double best_time(run_fn fn, void *ctx, int reps, double min_s)
{
    double best = 1e30, t0 = now();
    for (int r = 0; r < reps || now() - t0 < min_s; r++) {
        double a = now();
        fn(ctx);
        double d = now() - a;
        if (d < best) best = d;
        if (r > 1000) break;
    }
    return best;
}

typedef struct {
    float *out, *in, *w, *b;
    int H, W, C, nthreads;
} conv_ctx;
static void run_conv(void *p)
{
    conv_ctx *c = p;
    vdm_conv3x3_ref_mt(c->out, c->in, c->w, c->b, 0, 1, c->H, c->W, c->C, c->C, 0, c->nthreads);
}

typedef struct {
    const vdm_net_config *c;
    const float *p, *z;
    float *eps, g;
    vdm_net_ws *ws;
    int N, H, W, nthreads;
    float *deps, *dp;
} net_ctx;
static void run_fwd(void *p)
{
    net_ctx *n = p;
    vdm_net_forward(n->c, n->p, n->ws, n->nthreads, n->z, &n->g, n->N, n->H, n->W, n->eps);
}
static void run_train(void *p)
{
    net_ctx *n = p;
    float g[64];
    for (int i = 0; i < n->N && i < 64; i++) g[i] = (float)i / (float)n->N;
    vdm_net_forward(n->c, n->p, n->ws, n->nthreads, n->z, g, n->N, n->H, n->W, n->eps);
    vdm_net_backward(n->c, n->p, n->ws, n->nthreads, n->deps, n->dp, NULL, NULL);
}

static float *make_params(const vdm_net_config *c)
{
    size_t n = vdm_net_param_count(c);
    float *p = malloc(sizeof(float) * n);
    vdm_net_init(c, p, 1);
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0.0f) p[i] = 0.01f * frnd(); /* no zero layers: realistic values */
    return p;
}

int main(int argc, char **argv)
{
    int quick = 0, maxthreads = 2, tile = 64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) maxthreads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tile") && i + 1 < argc) tile = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_net [--quick] [--threads N] [--tile S]\n");
            return 1;
        }
    }
    if (maxthreads < 1) maxthreads = 1;
    const double min_s = quick ? 0.3 : 3.0;
    printf("CPU SIMD level: %s\n\n", vdm_simd_name(vdm_cpu_simd_level()));

    /* ---- one conv layer ---- */
    printf("### REF 3x3 conv layer, %dx%d image, C -> C\n\n", tile, tile);
    printf("| C | variant | threads | GFLOP/s |\n|---|---|---|---|\n");
    const int conv_c[] = {32, 64};
    for (int ci = 0; ci < 2; ci++) {
        const int C = conv_c[ci], H = tile, W = tile;
        conv_ctx cc = {rnd_buf((size_t)H * W * C, 1), rnd_buf((size_t)H * W * C, 1), rnd_buf(9u * C * C, 0.1f),
                       rnd_buf((size_t)C, 0.1f), H, W, C, 1};
        const double flops = 2.0 * 9 * C * C * (double)H * W;
        for (int simd = 0; simd < 2; simd++) {
            vdm_simd_level old = vdm_ref_simd_cap(simd ? VDM_SIMD_AVX512 : VDM_SIMD_SCALAR);
            /* REF kernels have a scalar and an AVX2 variant */
            const char *name = vdm_ref_simd_level() >= VDM_SIMD_AVX2 ? "avx2" : "scalar";
            for (int t = 1; t <= maxthreads; t *= 2) {
                cc.nthreads = t;
                double s = best_time(run_conv, &cc, 10, min_s);
                printf("| %d | %s | %d | %.1f |\n", C, name, t, flops / s * 1e-9);
            }
            vdm_ref_simd_cap(old);
            if (vdm_cpu_simd_level() < VDM_SIMD_AVX2) break;
        }
        free(cc.out); free(cc.in); free(cc.w); free(cc.b);
    }

    /* ---- whole network, coding path ---- */
    printf("\n### REF network forward (coding path), one %dx%d tile, SiLU, Fourier n={7,8}\n\n", tile, tile);
    printf("| width | blocks | MFLOP/px | threads | GFLOP/s | s per MP per evaluation |\n|---|---|---|---|---|---|\n");
    const int widths[] = {32, 48, 64}, blocks[] = {2, 4, 6};
    for (int wi = 0; wi < 3; wi++)
        for (int bi = 0; bi < 3; bi++) {
            if (quick && !((wi == 0 && bi == 1) || (wi == 2 && bi == 2))) continue;
            vdm_net_config c = {.channels = 3, .width = widths[wi], .blocks = blocks[bi], .n_fourier = 2,
                                .fourier_exp = {7, 8}, .emb_dim = 32, .act = VDM_ACT_SILU};
            float *p = make_params(&c);
            const int H = tile, W = tile;
            net_ctx nc = {&c, p, rnd_buf((size_t)H * W * 3, 1.5f), rnd_buf((size_t)H * W * 3, 0), 0.4f,
                          vdm_net_ws_create(&c, VDM_BACKEND_REF, 1, H, W, 0), 1, H, W, 1, NULL, NULL};
            const double fpp = vdm_net_flops_per_pixel(&c);
            for (int t = 1; t <= maxthreads; t *= 2) {
                nc.nthreads = t;
                double s = best_time(run_fwd, &nc, 10, min_s);
                double px = (double)H * W;
                printf("| %d | %d | %.3f | %d | %.1f | %.3f |\n", c.width, c.blocks, fpp * 1e-6, t,
                       fpp * px / s * 1e-9, s / px * 1e6);
            }
            vdm_net_ws_free(nc.ws);
            free(p); free((float *)nc.z); free(nc.eps);
        }

    /* ---- training throughput, CPU backend ---- */
    printf("\n### CPU backend training step (forward + backward), batch of 32x32 patches\n\n");
    printf("| width | blocks | batch | threads | patches/s | GFLOP/s (3x fwd) |\n|---|---|---|---|---|---|\n");
    const int tw[] = {32, 64}, tb[] = {4, 6};
    for (int k = 0; k < 2; k++) {
        vdm_net_config c = {.channels = 3, .width = tw[k], .blocks = tb[k], .n_fourier = 2,
                            .fourier_exp = {7, 8}, .emb_dim = 32, .act = VDM_ACT_SILU};
        float *p = make_params(&c);
        const int N = 16, H = 32, W = 32;
        const size_t n = (size_t)N * H * W * 3;
        net_ctx nc = {&c, p, rnd_buf(n, 1.5f), rnd_buf(n, 0), 0, vdm_net_ws_create(&c, VDM_BACKEND_CPU, N, H, W, 1),
                      N, H, W, maxthreads, rnd_buf(n, 1e-3f), calloc(vdm_net_param_count(&c), sizeof(float))};
        double s = best_time(run_train, &nc, 5, min_s);
        const double fl = 3.0 * vdm_net_flops_per_pixel(&c) * N * H * W;
        printf("| %d | %d | %d | %d | %.1f | %.1f |\n", c.width, c.blocks, N, maxthreads, N / s, fl / s * 1e-9);
        vdm_net_ws_free(nc.ws);
        free(p); free((float *)nc.z); free(nc.eps); free(nc.deps); free(nc.dp);
    }
    return 0;
}
