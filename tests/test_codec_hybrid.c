/* test_codec_hybrid.c — method 3 given side information (the hybrid chain's
 * data term, codec/cm/cm_side.h) and its measurement (codec/hybrid.h,
 * vdm_eval_latent, per-step bound terms). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "codec/cm/classical.h"
#include "codec/hybrid.h"
#include "codec/png_io.h"
#include "model/vdm_model.h"
#include "model/vdm_train.h"

static uint64_t rng_s = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return rng_s;
}
/* a standard normal from 12 uniforms (deterministic, enough for a test) */
static float gauss(void)
{
    double s = 0;
    for (int i = 0; i < 12; i++) s += (double)(rnd() >> 11) / 9007199254740992.0;
    return (float)(s - 6.0);
}

/* a smooth image with texture and edges, w x h RGB */
static uint8_t *test_image(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int v = 60 + (x * 3 + y * 2) / 2 + c * 20 + (int)(rnd() % 9) - 4 + ((x / 13 + y / 11) & 1) * 40;
                px[((size_t)y * w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return px;
}

static vdm_subimage sub(uint8_t *px, int w, int h)
{
    vdm_subimage g;
    memset(&g, 0, sizeof g);
    g.width = (uint32_t)w;
    g.height = (uint32_t)h;
    g.nch = 3;
    g.bit_depth = 8;
    g.maxval = 255;
    g.rgb = 1;
    g.data = px;
    g.stride = 3;
    g.chan[1] = 1;
    g.chan[2] = 2;
    return g;
}

/* z = alpha x + sigma eps for the image; xhat (if wanted) = x + small noise */
static void make_side(const uint8_t *px, size_t n, float alpha, float sigma, float *z, float *xhat, float xnoise)
{
    for (size_t i = 0; i < n; i++) {
        const float x = vdm_data_value(px[i]);
        z[i] = alpha * x + sigma * gauss();
        if (xhat) xhat[i] = x + xnoise * gauss();
    }
}

static size_t side_size(const uint8_t *px, int w, int h, const vdm_cm_side *side, int check)
{
    vdm_subimage g = sub((uint8_t *)px, w, h);
    vdm_buf b = { 0 };
    cr_assert_eq(vdm_cm3_encode_side(&g, side, &b), VDM_OK);
    if (check) {
        const size_t n = (size_t)w * h * 3;
        uint8_t *back = calloc(n, 1);
        vdm_subimage d = sub(back, w, h);
        cr_assert_eq(vdm_cm3_decode_side(&d, side, b.data, b.size), VDM_OK);
        cr_assert(!memcmp(back, px, n), "side-information round trip differs");
        /* truncated: a clean error, never a crash */
        memset(back, 0, n);
        cr_assert_neq(vdm_cm3_decode_side(&d, side, b.data, b.size / 2), VDM_OK);
        free(back);
    }
    const size_t s = b.size;
    vdm_buf_free(&b);
    return s;
}

Test(codec_hybrid, no_side_is_method3_byte_for_byte)
{
    const int w = 40, h = 33;
    uint8_t *px = test_image(w, h);
    vdm_subimage g = sub(px, w, h);
    vdm_buf a = { 0 }, b = { 0 };
    cr_assert_eq(vdm_cm3_encode(&g, &a), VDM_OK);
    cr_assert_eq(vdm_cm3_encode_side(&g, NULL, &b), VDM_OK);
    cr_assert_eq(a.size, b.size);
    cr_assert(!memcmp(a.data, b.data, a.size));
    vdm_buf_free(&a);
    vdm_buf_free(&b);
    free(px);
}

Test(codec_hybrid, side_roundtrip_and_cost_follows_noise, .timeout = 120)
{
    const int w = 96, h = 80;
    const size_t n = (size_t)w * h * 3;
    uint8_t *px = test_image(w, h);
    float *z = malloc(sizeof(float) * n), *xh = malloc(sizeof(float) * n);
    const size_t plain = side_size(px, w, h, NULL, 1);

    /* nearly noiseless z (0.2 sample units): far below the plain cost */
    make_side(px, n, 0.999f, 0.0016f, z, NULL, 0);
    vdm_cm_side s1 = { z, 0.999f, 0.0016f, NULL };
    const size_t sharp = side_size(px, w, h, &s1, 1);
    cr_assert(sharp * 3 < plain, "sharp z: %zu bytes vs plain %zu", sharp, plain);

    /* pure noise (alpha tiny): close to the plain cost (within 5 %: on these
     * 23 040 samples the mixer is still learning to ignore the extra inputs;
     * on whole Kodak images k = T costs ~0.2 % more than CM3 alone) */
    make_side(px, n, 1e-4f, 1.0f, z, NULL, 0);
    vdm_cm_side s2 = { z, 1e-4f, 1.0f, NULL };
    const size_t noise = side_size(px, w, h, &s2, 1);
    cr_assert(noise < plain * 1.05 && noise > plain * 0.9, "noise z: %zu bytes vs plain %zu", noise, plain);

    /* a medium z plus a good denoised prediction: better than z alone */
    make_side(px, n, 0.8f, 0.6f, z, xh, 0.01f);
    vdm_cm_side s3 = { z, 0.8f, 0.6f, NULL }, s4 = { z, 0.8f, 0.6f, xh };
    const size_t zonly = side_size(px, w, h, &s3, 0), withx = side_size(px, w, h, &s4, 1);
    cr_assert(withx < zonly, "xhat should help: %zu vs %zu", withx, zonly);
    free(z);
    free(xh);
    free(px);
}

Test(codec_hybrid, side_bad_arguments)
{
    const int w = 8, h = 8;
    uint8_t *px = test_image(w, h);
    float z[8 * 8 * 3] = { 0 };
    vdm_buf b = { 0 };
    vdm_subimage g = sub(px, w, h);
    vdm_cm_side bad_alpha = { z, 0.0f, 1.0f, NULL }, bad_sigma = { z, 1.0f, -1.0f, NULL }, no_z = { NULL, 1.0f, 1.0f, NULL };
    cr_assert_eq(vdm_cm3_encode_side(&g, &bad_alpha, &b), VDM_ERR_ARG);
    cr_assert_eq(vdm_cm3_encode_side(&g, &bad_sigma, &b), VDM_ERR_ARG);
    cr_assert_eq(vdm_cm3_encode_side(&g, &no_z, &b), VDM_ERR_ARG);
    vdm_cm_side ok = { z, 1.0f, 1.0f, NULL };
    vdm_subimage gray = g;
    gray.nch = 1;
    gray.rgb = 0;
    cr_assert_eq(vdm_cm3_encode_side(&gray, &ok, &b), VDM_ERR_ARG);
    vdm_buf_free(&b);
    free(px);
}

static vdm_model *load_default(void)
{
    vdm_model *m = NULL;
    cr_assert_eq(vdm_model_load(VDM_SOURCE_DIR "/models/default.vdm", &m), VDM_OK);
    return m;
}

Test(codec_hybrid, per_step_terms_sum_to_diff, .timeout = 120)
{
    vdm_model *m = load_default();
    const int w = 24, h = 20, T = vdm_model_default_steps(m);
    uint8_t *px = test_image(w, h);
    double *st = calloc((size_t)T, sizeof(double)), *se = calloc((size_t)T, sizeof(double));
    vdm_eval_options o = { T, 2, 64, 1, VDM_BACKEND_CPU, 7, st, se };
    vdm_bound b;
    cr_assert_eq(vdm_eval_image(m, px, w, h, &o, &b), VDM_OK);
    double sum = 0;
    for (int i = 0; i < T; i++) {
        cr_assert(st[i] >= 0 && se[i] >= 0);
        sum += st[i];
    }
    cr_assert_float_eq(sum, b.diff, 1e-9 * (1 + b.diff));
    free(st);
    free(se);
    free(px);
    vdm_model_free(m);
}

Test(codec_hybrid, latent_and_data_term, .timeout = 300)
{
    vdm_model *m = load_default();
    const int w = 48, h = 40, T = vdm_model_default_steps(m);
    const size_t n = (size_t)w * h * 3;
    uint8_t *px = test_image(w, h);
    float *z = malloc(sizeof(float) * n), *xh = malloc(sizeof(float) * n);
    float a, s;
    /* z's noise really is N(0, sigma^2) around alpha x */
    cr_assert_eq(vdm_eval_latent(m, px, w, h, T, T / 2, 64, 1, VDM_BACKEND_CPU, 3, z, xh, &a, &s), VDM_OK);
    cr_assert(a > 0 && a < 1 && s > 0 && s < 1);
    double m1 = 0, m2 = 0, ex = 0, ez = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = vdm_data_value(px[i]), e = (z[i] - a * x) / s;
        m1 += e;
        m2 += e * e;
        cr_assert(xh[i] >= -1 && xh[i] <= 1);
        ex += (xh[i] - x) * (xh[i] - x);
        ez += (z[i] / a - x) * (z[i] / a - x);
    }
    m1 /= (double)n;
    m2 /= (double)n;
    cr_assert(m1 > -0.05 && m1 < 0.05 && m2 > 0.9 && m2 < 1.1, "eps mean %g, second moment %g", m1, m2);
    cr_assert(ex < ez, "the denoiser's error %g should be below z/alpha's %g", ex, ez);
    /* argument checks */
    cr_assert_eq(vdm_eval_latent(m, px, w, h, T, T + 1, 64, 1, VDM_BACKEND_CPU, 3, z, xh, &a, &s), VDM_ERR_ARG);
    cr_assert_eq(vdm_eval_latent(m, px, w, h, T, 0, 64, 1, VDM_BACKEND_CPU, 3, NULL, xh, &a, &s), VDM_ERR_ARG);

    /* the data term: less at low noise than at high noise, verified round trips */
    vdm_hybrid_data lo, hi;
    double alone;
    for (int method = 3; method <= 9; method++) {
        cr_assert_eq(vdm_hybrid_data_term(m, px, w, h, T, 1, 64, 1, 5, 1, 1, method, &lo), VDM_OK);
        cr_assert_eq(vdm_hybrid_data_term(m, px, w, h, T, T, 64, 1, 5, 1, 1, method, &hi), VDM_OK);
        cr_assert_eq(vdm_hybrid_cm_alone(px, w, h, method, &alone), VDM_OK);
        cr_assert(lo.bits < hi.bits && lo.noise_px < hi.noise_px);
        cr_assert(hi.bits < alone * 1.05, "CM%d: pure-noise z costs %g bits vs %g alone", method, hi.bits, alone);
    }
    cr_assert_eq(vdm_hybrid_cm_alone(px, w, h, 2, &alone), VDM_ERR_ARG);
    cr_assert_eq(vdm_hybrid_cm_alone(px, w, h, 10, &alone), VDM_ERR_ARG);
    free(z);
    free(xh);
    free(px);
    vdm_model_free(m);
}

/* ---- the encoder's estimate of the model's try (codec/bbcode.c) ---------- */
#include "codec/bbcode.h"
#include "codec/vdz.h"

static vdm_image *rgb_image(const uint8_t *px, int w, int h)
{
    vdm_image *img = NULL;
    cr_assert_eq(vdm_image_create((uint32_t)w, (uint32_t)h, 2, 8, &img), VDM_OK);
    memcpy(img->data, px, (size_t)w * h * 3);
    return img;
}

static size_t encode_with(const vdm_image *img, const vdm_model_path *mp, int try_mode, int classical_only,
                          unsigned threads, vdm_encode_stats *s, uint8_t **out)
{
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    o.model = classical_only ? NULL : mp;
    o.model_try = try_mode;
    o.threads = threads;
    size_t n = 0;
    cr_assert_eq(vdm_vdz_encode(img, &o, out, &n, s), VDM_OK, "%s", vdm_codec_last_error());
    return n;
}

Test(codec_hybrid, estimate_decides_the_model_try, .timeout = 600)
{
    const int w = 128, h = 128;
    uint8_t *px = test_image(w, h);
    vdm_image *img = rgb_image(px, w, h);
    vdm_model_path mp1, mp2;
    cr_assert_eq(vdm_bb_path_open(VDM_SOURCE_DIR "/models/default.vdm", NULL, 1, &mp1), VDM_OK);
    cr_assert_eq(vdm_bb_path_open(VDM_SOURCE_DIR "/models/default.vdm", NULL, 2, &mp2), VDM_OK);
    vdm_encode_stats sa, sb, sc, sf;
    uint8_t *fa = NULL, *fb = NULL, *fc = NULL, *ff = NULL;
    const size_t na = encode_with(img, &mp1, VDM_MODEL_TRY_AUTO, 0, 1, &sa, &fa);
    const size_t nb = encode_with(img, &mp2, VDM_MODEL_TRY_AUTO, 0, 2, &sb, &fb);
    const size_t nc = encode_with(img, &mp1, VDM_MODEL_TRY_ALWAYS, 0, 1, &sc, &fc);
    const size_t nf = encode_with(img, NULL, VDM_MODEL_TRY_AUTO, 1, 1, &sf, &ff);
    /* the estimate ran on the 4 tiles of a 2 x 2 grid, or stopped after 2
     * that the model clearly lost (skip); the same on 1 and 2 threads */
    cr_assert(sa.estimated && sb.estimated && !sc.estimated && !sf.estimated);
    cr_assert_eq(sa.estimate.ntiles, 4);
    cr_assert(sa.estimate.sampled == 4 || (sa.estimate.sampled == 2 && !sa.estimate.try_model &&
                                           sa.estimate.model_wins == 0),
              "sampled %u", sa.estimate.sampled);
    cr_assert_eq(sa.estimate.sampled, sb.estimate.sampled);
    cr_assert(sa.estimate.model_bits > 0 && sa.estimate.cm_sampled_bits > 0 && sa.estimate.cm_bits > 0);
    cr_assert(sa.estimate.model_bits == sb.estimate.model_bits && sa.estimate.gain_bits == sb.estimate.gain_bits);
    cr_assert(na == nb && !memcmp(fa, fb, na), "the estimate made --threads change the bytes");
    /* its decision is carried out: skipped -> the classical file; tried -> the smaller of both */
    if (!sa.estimate.try_model) {
        cr_assert(!sa.used_model);
        cr_assert(na == nf && !memcmp(fa, ff, na));
    } else {
        cr_assert(na == (nc < nf ? nc : nf));
    }
    /* the prediction of the winner: the model's try (always) is not smaller than
     * the classical file whenever the estimate skipped it by a wide margin */
    if (!sa.estimate.try_model && sa.estimate.model_wins == 0) cr_assert(nc >= nf, "%zu vs %zu", nc, nf);
    free(fa);
    free(fb);
    free(fc);
    free(ff);
    vdm_bb_path_close(&mp1);
    vdm_bb_path_close(&mp2);
    vdm_image_free(img);
    free(px);
}
