/* test_cuda_train.c — the CUDA training backend (kernels/cuda_api.h's
 * vdm_cuda_train, VDM_BACKEND_CUDA workspaces, vdm_trainer_set_backend)
 * against the host backends:
 *   - the network forward and backward (eps_out, every parameter gradient,
 *     dz, dgscaled) vs REF for var_out 0, 1, 2, SiLU and ReLU, odd sizes,
 *     N > 1, and a smaller batch on the same workspace;
 *   - the gradient of a whole loss (network and learned schedule) vs CPU;
 *   - a short training run on the GPU follows the CPU run step by step and
 *     lowers the loss;
 *   - resume CPU -> GPU and GPU -> CPU: a checkpoint carries nothing of the
 *     device (saved again right after switching it is the same file), and the
 *     continued runs agree with staying on one device.
 * Tolerance (plain FP32 cuBLAS, the default math mode): each tensor's
 * largest difference <= TOL * its largest magnitude, TOL = 1e-4 (float
 * rounding of reordered sums of <= 9*64 terms through a few layers is
 * ~1e-6 relative; a wrong index or a missing term is O(1)).  With TF32 on,
 * 2e-2.  Every test skips without a GPU or the CUDA backend, where the error
 * paths are tested instead. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "codec/png_io.h"
#include "kernels/cuda_api.h"
#include "kernels/device.h"
#include "model/model_internal.h"
#include "model/vdm_train.h"
#include "test_files.h"

#define TOL 1e-4
#define TOL_TF32 2e-2

static int have_gpu(void) { return vdm_cuda_compiled() && vdm_cuda_device_count(NULL, 0) > 0; }

static void need_gpu(void)
{
    if (!vdm_cuda_compiled()) cr_skip_test("no CUDA GPU: built without the CUDA backend");
    char name[256];
    if (vdm_cuda_device_count(name, sizeof name) < 1) cr_skip_test("no CUDA GPU: none found");
    cr_log_info("GPU: %s", name);
}

static uint64_t rs = 0x243F6A8885A308D3ull;
static float urand(float lo, float hi)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return lo + (hi - lo) * (float)((double)(rs >> 11) / 9007199254740992.0);
}

/* largest |a - b| over largest |b|: the measure TOL bounds */
static double rel_err(const float *a, const float *b, size_t n, size_t *where)
{
    double md = 0.0, mb = 0.0;
    *where = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= md)) { md = d; *where = i; }
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return md / (mb > 0.0 ? mb : 1e-30);
}

/* the worst relative error seen by the running test (logged, to show the margin) */
static double g_worst;

#define EXPECT_CLOSE(what, gpu, ref, n, tol)                                                          \
    do {                                                                                              \
        size_t w_;                                                                                    \
        const double e_ = rel_err((gpu), (ref), (n), &w_);                                            \
        if (e_ > g_worst) g_worst = e_;                                                               \
        cr_expect(e_ <= (tol), "%s: relative error %.3g > %.3g (element %zu: gpu %.9g ref %.9g)",   \
                  (what), e_, (double)(tol), w_, (double)(gpu)[w_], (double)(ref)[w_]);              \
    } while (0)

/* Every tensor nonzero (init leaves conv2 and the output conv at zero, which
 * would hide their backward). */
static float *rand_params(const vdm_net_config *c)
{
    const size_t n = vdm_net_param_count(c);
    float *p = malloc(sizeof(float) * n);
    cr_assert(p);
    for (int i = 0; i < vdm_net_tensor_count(c); i++) {
        vdm_net_tensor t;
        cr_assert_eq(vdm_net_tensor_info(c, i, &t), VDM_OK);
        const float s = t.is_bias ? 0.2f : sqrtf(3.0f / (float)(t.count / (size_t)t.shape[t.ndim - 1]));
        for (size_t k = 0; k < t.count; k++) p[t.offset + k] = urand(-s, s);
    }
    return p;
}

static float *rand_vec(size_t n, float lo, float hi)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    cr_assert(p);
    for (size_t i = 0; i < n; i++) p[i] = urand(lo, hi);
    return p;
}

/* ---- without a GPU: the honest errors ---------------------------------- */

static const uint8_t *g_px;
static vdm_rgb8 g_img[2];

static void load_images(void)
{
    uint8_t *px;
    uint32_t w, h;
    cr_assert_eq(vdm_png_load_rgb8(VDM_SOURCE_DIR "/samples/kodim23-crop256.png", &px, &w, &h), VDM_OK);
    g_px = px;
    /* two images: the left and right halves (row stride handled by copying) */
    const int S = 96;
    for (int i = 0; i < 2; i++) {
        uint8_t *q = malloc((size_t)S * S * 3);
        for (int y = 0; y < S; y++)
            memcpy(q + (size_t)y * S * 3, px + ((size_t)(40 + y) * w + (size_t)(20 + 120 * i)) * 3, (size_t)S * 3);
        g_img[i] = (vdm_rgb8){ q, S, S };
    }
}

static void free_images(void)
{
    free((void *)g_px);
    for (int i = 0; i < 2; i++) free((void *)g_img[i].px);
}

TestSuite(cuda_train, .init = load_images, .fini = free_images);

static vdm_train_config tiny(int var_out)
{
    vdm_train_config c;
    vdm_train_config_default(&c);
    c.net.width = 8;
    c.net.blocks = 2;
    c.net.emb_dim = 8;
    c.net.var_out = var_out;
    c.sched_hidden = 16;
    c.T = 8;
    c.batch = 3;
    c.crop = 8;
    c.lr = 3e-3;
    c.warmup = 5;
    c.ema_decay = 0.9;
    c.seed = 11;
    return c;
}

Test(cuda_train, unavailable_paths_report_errors)
{
    if (have_gpu()) cr_skip_test("a GPU is present: covered by the other tests");
    const vdm_status want = vdm_cuda_compiled() ? VDM_ERR_CUDA : VDM_ERR_UNSUPPORTED;
    vdm_net_config c = { 3, 8, 1, 1, { 7, 0, 0, 0 }, 8, VDM_ACT_SILU, 0 };
    const size_t off[1] = { 0 };
    vdm_cuda_net_desc d = { 3, 3, 8, 1, 1, { 7 }, VDM_KACT_SILU, vdm_net_param_count(&c), 0, 0, 0, 0,
                              off, off, off };
    vdm_cuda_train *g = (vdm_cuda_train *)&g;
    cr_expect_eq(vdm_cuda_train_create(&d, 2, 4, 4, &g), want);
    cr_expect_null(g);
    vdm_cuda_train_free(NULL);
    cr_expect_null(vdm_net_ws_create(&c, VDM_BACKEND_CUDA, 2, 4, 4, 1));
    /* the trainer says why and keeps training on the CPU */
    vdm_train_config tc = tiny(0);
    vdm_trainer *t = NULL;
    cr_assert_eq(vdm_trainer_create(&tc, g_img, 2, 1, &t), VDM_OK);
    cr_expect_eq(vdm_trainer_set_backend(t, VDM_BACKEND_CUDA, 0), want);
    cr_expect_eq(vdm_trainer_set_backend(t, VDM_BACKEND_REF, 0), VDM_ERR_ARG);
    vdm_train_stats s;
    cr_expect_eq(vdm_trainer_step(t, &s), VDM_OK);
    cr_expect(isfinite(s.total));
    cr_expect_eq(vdm_trainer_set_backend(t, VDM_BACKEND_CPU, 0), VDM_OK);
    vdm_trainer_free(t);
}

Test(cuda_train, argument_errors)
{
    need_gpu();
    vdm_net_config c = { 3, 8, 1, 1, { 7, 0, 0, 0 }, 8, VDM_ACT_SILU, 0 };
    const size_t np = vdm_net_param_count(&c), off[1] = { 0 }, bad[1] = { np };
    vdm_cuda_net_desc d = { 3, 3, 8, 1, 1, { 7 }, VDM_KACT_SILU, np, 0, 0, 0, 0, off, off, bad };
    vdm_cuda_train *g = NULL;
    cr_expect_eq(vdm_cuda_train_create(&d, 2, 4, 4, &g), VDM_ERR_ARG); /* b2 past the block */
    d.blk_b2 = off;
    cr_expect_eq(vdm_cuda_train_create(&d, 0, 4, 4, &g), VDM_ERR_ARG);
    cr_expect_eq(vdm_cuda_train_create(NULL, 2, 4, 4, &g), VDM_ERR_ARG);
    cr_assert_eq(vdm_cuda_train_create(&d, 2, 4, 4, &g), VDM_OK);
    float buf[2 * 16 * 3] = { 0 };
    float *params = calloc(np, sizeof(float)), *gb = calloc(16, sizeof(float));
    cr_expect_eq(vdm_cuda_train_backward(g, buf, params, gb, NULL), VDM_ERR_ARG); /* no forward yet */
    cr_expect_eq(vdm_cuda_train_forward(g, params, buf, gb, 3, 4, 4, buf), VDM_ERR_ARG); /* N too large */
    cr_expect_eq(vdm_cuda_train_forward(g, params, buf, gb, 1, 4, 5, buf), VDM_ERR_ARG); /* W too large */
    cr_expect_eq(vdm_cuda_train_set_tf32(NULL, 1), VDM_ERR_ARG);
    vdm_cuda_train_free(g);
    free(params);
    free(gb);
    vdm_net_ws *ws = vdm_net_ws_create(&c, VDM_BACKEND_CPU, 1, 4, 4, 1);
    cr_expect_eq(vdm_net_ws_set_tf32(ws, 1), VDM_ERR_UNSUPPORTED);
    vdm_net_ws_free(ws);
}

/* ---- the network --------------------------------------------------------- */

/* Forward + backward on a CUDA and a REF workspace; compare everything. */
static void net_check(const vdm_net_config *c, int tf32)
{
    /* 24x20: more than 256 rows per image, so the two-stage channel sums run
     * in several chunks */
    const int N = 3, H = 24, W = 20;
    const double tol = tf32 ? TOL_TF32 : TOL;
    const size_t np = vdm_net_param_count(c), Ko = (size_t)vdm_net_out_channels(c);
    float *params = rand_params(c);
    vdm_net_ws *gw = vdm_net_ws_create(c, VDM_BACKEND_CUDA, N, H, W, 1);
    vdm_net_ws *rw = vdm_net_ws_create(c, VDM_BACKEND_REF, N, H, W, 1);
    cr_assert(gw && rw);
    cr_assert_eq(vdm_net_ws_set_tf32(gw, tf32), VDM_OK);
    /* odd sizes, then other shapes on the same workspaces */
    const int shapes[3][3] = { { N, 7, 9 }, { 2, 9, 5 }, { 2, H, W } };
    for (int s = 0; s < 3; s++) {
        const int n = shapes[s][0], h = shapes[s][1], w = shapes[s][2];
        const size_t P = (size_t)n * h * w;
        float *z = rand_vec(P * 3, -1.2f, 1.2f), *gs = rand_vec((size_t)n, 0.0f, 1.0f);
        float *eg = malloc(sizeof(float) * P * Ko), *er = malloc(sizeof(float) * P * Ko);
        cr_assert_eq(vdm_net_forward(c, params, gw, 1, z, gs, n, h, w, eg), VDM_OK);
        cr_assert_eq(vdm_net_forward(c, params, rw, 1, z, gs, n, h, w, er), VDM_OK);
        char what[96];
        snprintf(what, sizeof what, "var_out %d act %d shape %d: eps_out", c->var_out, c->act, s);
        EXPECT_CLOSE(what, eg, er, P * Ko, tol);
        float *deps = rand_vec(P * Ko, -1.0f, 1.0f);
        /* gradients accumulate: start both from the same nonzero block */
        float *dg = rand_vec(np, -0.5f, 0.5f), *dr = malloc(sizeof(float) * np);
        memcpy(dr, dg, sizeof(float) * np);
        float *dzg = malloc(sizeof(float) * P * 3), *dzr = malloc(sizeof(float) * P * 3);
        float *dgg = malloc(sizeof(float) * (size_t)n), *dgr = malloc(sizeof(float) * (size_t)n);
        cr_assert_eq(vdm_net_backward(c, params, gw, 1, deps, dg, dzg, dgg), VDM_OK);
        cr_assert_eq(vdm_net_backward(c, params, rw, 1, deps, dr, dzr, dgr), VDM_OK);
        for (int i = 0; i < vdm_net_tensor_count(c); i++) {
            vdm_net_tensor t;
            vdm_net_tensor_info(c, i, &t);
            snprintf(what, sizeof what, "var_out %d act %d shape %d: d %s", c->var_out, c->act, s, t.name);
            EXPECT_CLOSE(what, dg + t.offset, dr + t.offset, t.count, tol);
        }
        snprintf(what, sizeof what, "var_out %d act %d shape %d: dz", c->var_out, c->act, s);
        EXPECT_CLOSE(what, dzg, dzr, P * 3, tol);
        snprintf(what, sizeof what, "var_out %d act %d shape %d: dgscaled", c->var_out, c->act, s);
        EXPECT_CLOSE(what, dgg, dgr, (size_t)n, tol);
        /* dz and dgscaled are optional */
        cr_assert_eq(vdm_net_backward(c, params, gw, 1, deps, dg, NULL, NULL), VDM_OK);
        free(z); free(gs); free(eg); free(er); free(deps); free(dg); free(dr);
        free(dzg); free(dzr); free(dgg); free(dgr);
    }
    vdm_net_ws_free(gw);
    vdm_net_ws_free(rw);
    free(params);
    cr_log_info("var_out %d act %d tf32 %d: worst relative error %.3g (tolerance %.3g)", c->var_out, c->act, tf32,
                g_worst, tol);
    g_worst = 0.0;
}

Test(cuda_train, net_forward_backward_match_ref)
{
    need_gpu();
    vdm_net_config c = { 3, 8, 2, 2, { 7, 8, 0, 0 }, 8, VDM_ACT_SILU, 0 };
    for (int v = 0; v <= 2; v++) {
        c.var_out = v;
        net_check(&c, 0);
    }
    c.act = VDM_ACT_RELU;
    c.n_fourier = 1;
    c.fourier_exp[0] = -2;
    c.width = 5;
    c.blocks = 3;
    net_check(&c, 0);
}

Test(cuda_train, net_tf32_within_its_tolerance)
{
    need_gpu();
    vdm_net_config c = { 3, 16, 2, 2, { 7, 8, 0, 0 }, 8, VDM_ACT_SILU, 2 };
    net_check(&c, 1);
}

/* ---- a whole loss ------------------------------------------------------------ */

Test(cuda_train, loss_gradient_matches_cpu)
{
    need_gpu();
    vdm_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.net = (vdm_net_config){ 3, 8, 2, 2, { 7, 8, 0, 0 }, 8, VDM_ACT_SILU, 2 };
    mc.sched.kind = VDM_SCHED_LEARNED;
    mc.sched.hidden = 8;
    mc.gs_lo = -13.3;
    mc.gs_hi = 5.0;
    mc.default_T = 8;
    const int N = 4, H = 6, W = 7, T = 8;
    const size_t pn = vdm_net_param_count(&mc.net), P = vdm_model_param_count(&mc), D = (size_t)N * H * W * 3;
    float *p = rand_params(&mc.net);
    p = realloc(p, sizeof(float) * P);
    vdm_sched_init(&mc.sched, p + pn, -13.3, 5.0, 3);
    float *x = malloc(sizeof(float) * D), *eps = rand_vec(D, -2.0f, 2.0f), *eps0 = rand_vec(D, -2.0f, 2.0f);
    for (size_t i = 0; i < D; i++) x[i] = vdm_data_value((int)(urand(0.0f, 255.99f)));
    double t[4] = { 1.0 / 8, 3.0 / 8, 6.0 / 8, 1.0 };
    vdm_batch b = { N, H, W, x, eps, eps0, t, 0.0 };
    vdm_loss_ws *gw = vdm_loss_ws_create(&mc, VDM_BACKEND_CUDA, N, H, W, 1);
    vdm_loss_ws *cw = vdm_loss_ws_create(&mc, VDM_BACKEND_CPU, N, H, W, 1);
    cr_assert(gw && cw);
    float *gg = calloc(P, sizeof(float)), *gc = calloc(P, sizeof(float));
    vdm_loss_terms lg, lc;
    cr_assert_eq(vdm_loss(&mc, p, gw, 1, T, &b, &lg, gg, NULL), VDM_OK);
    cr_assert_eq(vdm_loss(&mc, p, cw, 2, T, &b, &lc, gc, NULL), VDM_OK);
    cr_log_info("loss gpu %.9g cpu %.9g bpd", lg.total, lc.total);
    cr_expect(fabs(lg.total - lc.total) <= TOL * fabs(lc.total), "loss %.9g vs %.9g", lg.total, lc.total);
    cr_expect(fabs(lg.diff - lc.diff) <= TOL * fabs(lc.diff), "diff %.9g vs %.9g", lg.diff, lc.diff);
    for (int i = 0; i < vdm_net_tensor_count(&mc.net); i++) {
        vdm_net_tensor ti;
        vdm_net_tensor_info(&mc.net, i, &ti);
        char what[64];
        snprintf(what, sizeof what, "loss gradient %s", ti.name);
        EXPECT_CLOSE(what, gg + ti.offset, gc + ti.offset, ti.count, TOL);
    }
    EXPECT_CLOSE("loss gradient schedule", gg + pn, gc + pn, P - pn, TOL);
    cr_log_info("loss gradient: worst relative error %.3g (tolerance %.3g)", g_worst, TOL);
    vdm_loss_ws_free(gw);
    vdm_loss_ws_free(cw);
    free(p); free(x); free(eps); free(eps0); free(gg); free(gc);
}

/* ---- the trainer ------------------------------------------------------------- */

static void run(vdm_trainer *t, int n, vdm_train_stats *out)
{
    for (int i = 0; i < n; i++) cr_assert_eq(vdm_trainer_step(t, &out[i]), VDM_OK, "step %d", i);
}

static vdm_trainer *make(const vdm_train_config *c, vdm_backend be)
{
    vdm_trainer *t = NULL;
    cr_assert_eq(vdm_trainer_create(c, g_img, 2, 2, &t), VDM_OK);
    cr_assert_eq(vdm_trainer_set_backend(t, be, 0), VDM_OK);
    return t;
}

/* the same batches (one RNG) on both devices: losses agree step by step
 * while the weights are still close, and the loss falls */
Test(cuda_train, training_on_gpu_follows_cpu_and_learns, .timeout = 600)
{
    need_gpu();
    vdm_train_config c = tiny(2);
    vdm_trainer *g = make(&c, VDM_BACKEND_CUDA), *h = make(&c, VDM_BACKEND_CPU);
    enum { STEPS = 200, WIN = 20 };
    vdm_train_stats sg[STEPS], sh[STEPS];
    run(g, STEPS, sg);
    run(h, 5, sh);
    for (int i = 0; i < 5; i++)
        cr_expect(fabs(sg[i].total - sh[i].total) <= 1e-3 * fabs(sh[i].total), "step %d: loss gpu %.9g cpu %.9g",
                  i + 1, sg[i].total, sh[i].total);
    double first = 0.0, last = 0.0;
    for (int i = 0; i < WIN; i++) {
        first += sg[i].total / WIN;
        last += sg[STEPS - WIN + i].total / WIN;
    }
    cr_log_info("GPU training loss %.3f -> %.3f bpd over %d updates", first, last, STEPS);
    cr_expect(last < 0.7 * first, "the GPU run must learn: %.3f -> %.3f bpd", first, last);
    vdm_trainer_free(g);
    vdm_trainer_free(h);
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *fa = tst_read_file(a, &na), *fb = tst_read_file(b, &nb);
    const int same = na == nb && memcmp(fa, fb, na) == 0;
    free(fa);
    free(fb);
    return same;
}

/* resume ck on backend be, check it saves back to the same bytes, step n */
static vdm_trainer *resume_on(const char *ck, const char *again, vdm_backend be)
{
    vdm_trainer *t = NULL;
    int changed = -1;
    cr_assert_eq(vdm_trainer_resume(ck, g_img, 2, 2, &t, &changed), VDM_OK);
    cr_assert_eq(changed, 0);
    cr_assert_eq(vdm_trainer_set_backend(t, be, 0), VDM_OK);
    cr_assert_eq(vdm_trainer_save(t, again), VDM_OK);
    cr_expect(same_file(ck, again), "a checkpoint saved after moving to %s differs from the one resumed",
              vdm_backend_name(be));
    return t;
}

static void expect_close_runs(const vdm_train_stats *a, const vdm_train_stats *b, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        cr_expect_eq(a[i].step, b[i].step);
        cr_expect(fabs(a[i].total - b[i].total) <= 1e-3 * fabs(b[i].total), "%s step %llu: loss %.9g vs %.9g",
                  what, (unsigned long long)b[i].step, a[i].total, b[i].total);
    }
}

static void expect_close_weights(vdm_trainer *a, vdm_trainer *b, const char *what)
{
    vdm_model *ma = NULL, *mb = NULL;
    cr_assert_eq(vdm_trainer_ema_model(a, &ma), VDM_OK);
    cr_assert_eq(vdm_trainer_ema_model(b, &mb), VDM_OK);
    const size_t n = vdm_trainer_param_count(a);
    /* a few Adam steps from the same moments: differences stay a small
     * fraction of one step (lr) */
    const float *pa = vdm_model_params(ma), *pb = vdm_model_params(mb);
    double md = 0.0;
    for (size_t i = 0; i < n; i++) md = fmax(md, fabs((double)pa[i] - (double)pb[i]));
    cr_expect(md <= 0.5 * vdm_trainer_config(a)->lr, "%s: EMA weights differ by up to %.3g", what, md);
    vdm_model_free(ma);
    vdm_model_free(mb);
}

Test(cuda_train, resume_cpu_to_gpu_and_back, .timeout = 600)
{
    need_gpu();
    char dir[] = "/tmp/vdm_cuda_train_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char ck_cpu[300], ck_gpu[300], again[300];
    snprintf(ck_cpu, sizeof ck_cpu, "%s/cpu.ckpt", dir);
    snprintf(ck_gpu, sizeof ck_gpu, "%s/gpu.ckpt", dir);
    snprintf(again, sizeof again, "%s/again.ckpt", dir);
    vdm_train_config c = tiny(2);
    vdm_train_stats s0[6], sa[4], sb[4];

    /* CPU run -> checkpoint -> continued on the CPU and on the GPU */
    vdm_trainer *cpu = make(&c, VDM_BACKEND_CPU);
    run(cpu, 6, s0);
    cr_assert_eq(vdm_trainer_save(cpu, ck_cpu), VDM_OK);
    vdm_trainer *gpu = resume_on(ck_cpu, again, VDM_BACKEND_CUDA);
    run(cpu, 4, sa);
    run(gpu, 4, sb);
    expect_close_runs(sb, sa, 4, "CPU -> GPU");
    expect_close_weights(gpu, cpu, "CPU -> GPU");

    /* GPU checkpoint -> continued on the GPU and on the CPU */
    cr_assert_eq(vdm_trainer_save(gpu, ck_gpu), VDM_OK);
    vdm_trainer *back = resume_on(ck_gpu, again, VDM_BACKEND_CPU);
    run(gpu, 4, sa);
    run(back, 4, sb);
    expect_close_runs(sb, sa, 4, "GPU -> CPU");
    expect_close_weights(back, gpu, "GPU -> CPU");
    cr_expect_eq(vdm_trainer_steps(back), 14u);
    /* a larger batch on the GPU from here on (what a CPU run continued on a
     * GPU wants); later checkpoints carry it */
    cr_expect_eq(vdm_trainer_set_batch(gpu, 0), VDM_ERR_ARG);
    cr_assert_eq(vdm_trainer_set_batch(gpu, 7), VDM_OK);
    run(gpu, 2, sa);
    cr_expect(isfinite(sa[1].total));
    cr_assert_eq(vdm_trainer_save(gpu, ck_gpu), VDM_OK);
    vdm_trainer *big = NULL;
    cr_assert_eq(vdm_trainer_resume(ck_gpu, g_img, 2, 2, &big, NULL), VDM_OK);
    cr_expect_eq(vdm_trainer_config(big)->batch, 7);
    cr_expect_eq(vdm_trainer_steps(big), 16u);
    vdm_trainer_free(big);
    /* a GPU checkpoint is an ordinary model file */
    vdm_model *m = NULL;
    cr_expect_eq(vdm_model_load(ck_gpu, &m), VDM_OK);
    vdm_model_free(m);

    vdm_trainer_free(cpu);
    vdm_trainer_free(gpu);
    vdm_trainer_free(back);
    unlink(ck_cpu);
    unlink(ck_gpu);
    unlink(again);
    rmdir(dir);
}
