/* Methods 4 (CM4) to 8 (CM8) and 9 (CM9, the default), codec/cm/cm4.c, on their own:
 * round trips on every kind of sub-image and on degenerate sizes, damaged
 * and truncated payloads, and the side-information path (noisy observation
 * z, denoised prediction xhat).  The container-level tests of methods 5 to
 * 9 are in test_codec_vdz.c.  The mixers' SIMD twin (codec/cm/cm4_mix_avx2.c) is
 * held against the scalar code, kernel by kernel and as whole encodes, byte
 * for byte. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include "codec/cm/cm4.h"
#include "codec/cm/cm4_mix.h"
#include "codec/cm/classical.h"
#include "codec_testutil.h"

typedef struct { vdm_subimage g; uint8_t *data; size_t bytes; } sub;

/* which coder the helpers run: method 4 to 9 */
static unsigned method = VDM_CLASSICAL_CM4;

static vdm_status cm_enc(const vdm_subimage *g, const vdm_cm_side *side, vdm_buf *out)
{
    return vdm_cm_encode(method, g, side, out);
}

static vdm_status cm_dec(const vdm_subimage *g, const vdm_cm_side *side, const uint8_t *in, size_t n)
{
    return vdm_cm_decode(method, g, side, in, n);
}

/* w x h, nch channels, maxval, stored at bit_depth (8 or 16) */
static sub make_sub(uint32_t w, uint32_t h, unsigned nch, unsigned bit_depth, unsigned maxval, int rgb, uint64_t seed)
{
    sub s;
    memset(&s, 0, sizeof s);
    uint16_t *c = tu_content(w, h, nch, maxval, seed);
    s.bytes = (size_t)w * h * nch * (bit_depth == 16 ? 2 : 1);
    s.data = malloc(s.bytes + 1);
    for (size_t i = 0; i < (size_t)w * h * nch; i++) {
        if (bit_depth == 16) ((uint16_t *)(void *)s.data)[i] = c[i];
        else s.data[i] = (uint8_t)c[i];
    }
    free(c);
    s.g.width = w;
    s.g.height = h;
    s.g.nch = nch;
    s.g.bit_depth = bit_depth;
    s.g.maxval = maxval;
    s.g.rgb = rgb;
    s.g.data = s.data;
    s.g.stride = nch;
    for (unsigned k = 0; k < nch; k++) s.g.chan[k] = k;
    return s;
}

static void roundtrip(const sub *s, const vdm_cm_side *side, size_t *bytes)
{
    vdm_buf b = { 0 };
    cr_assert_eq(cm_enc(&s->g, side, &b), VDM_OK);
    /* the encoder is a function of its input */
    vdm_buf b2 = { 0 };
    cr_assert_eq(cm_enc(&s->g, side, &b2), VDM_OK);
    cr_assert(b.size == b2.size && !memcmp(b.data, b2.data, b.size), "two encodes differ");
    vdm_buf_free(&b2);
    uint8_t *out = malloc(s->bytes + 1);
    memset(out, 0xAB, s->bytes);
    vdm_subimage h = s->g;
    h.data = out;
    cr_assert_eq(cm_dec(&h, side, b.data, b.size), VDM_OK, "%ux%u nch %u maxval %u",
                 s->g.width, s->g.height, s->g.nch, s->g.maxval);
    cr_assert(!memcmp(out, s->data, s->bytes), "%ux%u nch %u maxval %u differs",
              s->g.width, s->g.height, s->g.nch, s->g.maxval);
    /* every shorter payload is an error, never a crash */
    /* (the setup of CM5 and later is heavier: fewer cuts) */
    for (size_t cut = 1; cut <= (method >= 5 ? 2u : 8u) && cut < b.size; cut++)
        cr_assert_eq(cm_dec(&h, side, b.data, b.size - cut), VDM_ERR_CORRUPT, "cut %zu", cut);
    if (bytes) *bytes = b.size;
    free(out);
    vdm_buf_free(&b);
}

static void every_kind_and_size(void)
{
    static const unsigned sizes[][2] = { { 1, 1 }, { 1, 7 }, { 9, 1 }, { 2, 2 }, { 3, 40 }, { 33, 21 } };
    /* nch, bit depth, maxval, rgb: gray 1/2/4/8/16-bit, palette indices,
     * a one-entry palette (maxval 0), gray+alpha, RGB, RGBA, RGB 16-bit */
    static const unsigned kinds[][4] = {
        { 1, 8, 1, 0 }, { 1, 8, 3, 0 }, { 1, 8, 15, 0 }, { 1, 8, 255, 0 }, { 1, 16, 65535, 0 },
        { 1, 8, 199, 0 }, { 1, 8, 0, 0 }, { 2, 8, 255, 0 }, { 3, 8, 255, 1 }, { 4, 8, 255, 1 },
        { 3, 16, 65535, 1 }, { 4, 16, 65535, 1 },
    };
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            sub s = make_sub(sizes[z][0], sizes[z][1], kinds[k][0], kinds[k][1], kinds[k][2], (int)kinds[k][3], z * 31 + k);
            roundtrip(&s, NULL, NULL);
            free(s.data);
        }
}

static void damaged_payloads(void)
{
    sub s = make_sub(40, 30, 3, 8, 255, 1, 7);
    vdm_buf b = { 0 };
    cr_assert_eq(cm_enc(&s.g, NULL, &b), VDM_OK);
    uint8_t *out = malloc(s.bytes);
    vdm_subimage h = s.g;
    h.data = out;
    uint64_t r = 99;
    int caught = 0, n = 0;
    for (int it = 0; it < (method >= 5 ? 50 : 200); it++) {
        uint8_t *d = malloc(b.size);
        memcpy(d, b.data, b.size);
        /* (the coder's last flush bytes are partly free: flips there may go unseen) */
        const size_t pos = 4 + (size_t)(tu_rng(&r) % (b.size - 8));
        d[pos] ^= (uint8_t)(1u << (tu_rng(&r) % 8));
        const vdm_status st = cm_dec(&h, NULL, d, b.size);
        cr_assert(st == VDM_OK || st == VDM_ERR_CORRUPT, "status %d", st);
        caught += st == VDM_ERR_CORRUPT || memcmp(out, s.data, s.bytes) != 0;
        n++;
        free(d);
    }
    cr_assert_eq(caught, n, "a flipped bit decoded to the original image");
    /* a bad header, an empty payload, and bytes past the end */
    uint8_t hdr[4] = { 2, 0, 0, 0 };
    cr_assert_eq(cm_dec(&h, NULL, hdr, 4), VDM_ERR_CORRUPT);
    cr_assert_eq(cm_dec(&h, NULL, b.data, 0), VDM_ERR_CORRUPT);
    uint8_t *longer = malloc(b.size + 1);
    memcpy(longer, b.data, b.size);
    longer[b.size] = 0;
    cr_assert_eq(cm_dec(&h, NULL, longer, b.size + 1), VDM_ERR_CORRUPT);
    free(longer);
    free(out);
    vdm_buf_free(&b);
    free(s.data);
}

Test(cm4, every_kind_and_size) { method = 4; every_kind_and_size(); }
Test(cm4, damaged_payloads_never_crash) { method = 4; damaged_payloads(); }
Test(cm5, every_kind_and_size, .timeout = 900) { method = 5; every_kind_and_size(); }
Test(cm5, damaged_payloads_never_crash, .timeout = 600) { method = 5; damaged_payloads(); }
Test(cm6, every_kind_and_size, .timeout = 900) { method = 6; every_kind_and_size(); }
Test(cm6, damaged_payloads_never_crash, .timeout = 600) { method = 6; damaged_payloads(); }
Test(cm7, every_kind_and_size, .timeout = 900) { method = 7; every_kind_and_size(); }
Test(cm7, damaged_payloads_never_crash, .timeout = 600) { method = 7; damaged_payloads(); }
Test(cm8, every_kind_and_size, .timeout = 900) { method = 8; every_kind_and_size(); }
Test(cm8, damaged_payloads_never_crash, .timeout = 600) { method = 8; damaged_payloads(); }
Test(cm9, every_kind_and_size, .timeout = 900) { method = 9; every_kind_and_size(); }
Test(cm9, damaged_payloads_never_crash, .timeout = 600) { method = 9; damaged_payloads(); }

Test(cm4, other_methods_are_refused)
{
    sub s = make_sub(8, 8, 3, 8, 255, 1, 1);
    vdm_buf b = { 0 };
    uint8_t d[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
    const uint8_t *in[1] = { d };
    const size_t n[1] = { sizeof d };
    static const unsigned bad[] = { 0, 1, 2, 3, 10, 255 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(vdm_cm_encode(bad[i], &s.g, NULL, &b), VDM_ERR_ARG, "method %u", bad[i]);
        cr_assert_eq(vdm_cm_decode(bad[i], &s.g, NULL, d, sizeof d), VDM_ERR_ARG, "method %u", bad[i]);
        cr_assert_eq(vdm_cm_tiles_encode(bad[i], &s.g, 8, 8, &b), VDM_ERR_ARG, "method %u", bad[i]);
        cr_assert_eq(vdm_cm_tiles_decode(bad[i], &s.g, 8, 8, in, n), VDM_ERR_ARG, "method %u", bad[i]);
        cr_assert_eq(vdm_cm_encode_tiled(bad[i], &s.g, 8, 8, &b, &b), VDM_ERR_ARG, "method %u", bad[i]);
    }
    cr_assert_eq(b.size, 0u);
    free(s.data);
}

/* method m's round trip of s: its payload's size */
static size_t roundtrip_size(unsigned m, const sub *s)
{
    size_t b;
    method = m;
    roundtrip(s, NULL, &b);
    return b;
}

Test(cm5, smaller_than_cm4_on_a_photo_like_image)
{
    sub s = make_sub(96, 64, 3, 8, 255, 1, 3);
    const size_t b4 = roundtrip_size(4, &s), b5 = roundtrip_size(5, &s);
    cr_log_info("CM4 %zu bytes, CM5 %zu bytes", b4, b5);
    cr_assert_lt((double)b5, 1.02 * (double)b4 + 16, "CM5 %zu vs CM4 %zu", b5, b4);
    free(s.data);
}

/* ---- side information ------------------------------------------------------- */

/* a standard normal from the sum of 12 uniforms (Irwin-Hall), deterministic */
static float gauss(uint64_t *r)
{
    double s = 0;
    for (int i = 0; i < 12; i++) s += (double)(tu_rng(r) >> 11) / 9007199254740992.0;
    return (float)(s - 6.0);
}

/* z = alpha * x + sigma * eps for a natural-looking 8-bit RGB image */
static float *make_z(const sub *s, float alpha, float sigma, uint64_t seed)
{
    const size_t n = (size_t)s->g.width * s->g.height * 3;
    float *z = malloc(n * sizeof *z);
    uint64_t r = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        const float x = (2.0f * (float)s->data[i] - 255.0f) / 255.0f;
        z[i] = alpha * x + sigma * gauss(&r);
    }
    return z;
}

static sub make_photo(uint32_t w, uint32_t h)
{
    sub s = make_sub(w, h, 3, 8, 255, 1, 1);
    uint64_t r = 5;
    /* smooth colour fields plus texture noise */
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (unsigned c = 0; c < 3; c++) {
                int v = (int)((x * (3 + c) + y * (5 - c)) % 200) + 20 + (int)(tu_rng(&r) % 13) - 6;
                s.data[((size_t)y * w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return s;
}

Test(cm4, side_information_small_sigma_pays_large_sigma_costs_little, .timeout = 120)
{
    sub s = make_photo(64, 48);
    size_t plain, small, large, sx;
    roundtrip(&s, NULL, &plain);
    vdm_cm_side side = { 0 };
    /* noise std 0.5 of a value step: z nearly gives the value away */
    side.alpha = 1.0f;
    side.sigma = 0.5f / 127.5f;
    float *z = make_z(&s, side.alpha, side.sigma, 1);
    side.z = z;
    roundtrip(&s, &side, &small);
    free(z);
    /* noise std ~500 value steps: z says almost nothing */
    side.alpha = 0.05f;
    side.sigma = 0.9987f;
    z = make_z(&s, side.alpha, side.sigma, 2);
    side.z = z;
    roundtrip(&s, &side, &large);
    /* xhat alone, equal to the image: a perfect prediction */
    vdm_cm_side sx_side = { 0 };
    float *xh = malloc((size_t)64 * 48 * 3 * sizeof *xh);
    for (size_t i = 0; i < (size_t)64 * 48 * 3; i++) xh[i] = (2.0f * (float)s.data[i] - 255.0f) / 255.0f;
    sx_side.xhat = xh;
    roundtrip(&s, &sx_side, &sx);
    cr_log_info("plain %zu, small sigma %zu, large sigma %zu, exact xhat %zu bytes", plain, small, large, sx);
    cr_assert_lt((double)small, 0.5 * (double)plain, "small sigma: %zu vs plain %zu", small, plain);
    cr_assert_lt((double)large, 1.05 * (double)plain + 64, "large sigma: %zu vs plain %zu", large, plain);
    cr_assert_lt((double)sx, 0.5 * (double)plain, "exact xhat: %zu vs plain %zu", sx, plain);
    /* a decoder given other side information does not get the image back */
    {
        vdm_buf b = { 0 };
        cr_assert_eq(vdm_cm_encode(VDM_CLASSICAL_CM4, &s.g, &side, &b), VDM_OK);
        uint8_t *out = malloc(s.bytes);
        vdm_subimage h = s.g;
        h.data = out;
        const vdm_status st = vdm_cm_decode(VDM_CLASSICAL_CM4, &h, NULL, b.data, b.size);
        cr_assert(st == VDM_ERR_CORRUPT || memcmp(out, s.data, s.bytes), "decoded without the side information");
        free(out);
        vdm_buf_free(&b);
    }
    /* invalid side parameters */
    side.sigma = 0.0f;
    vdm_buf b = { 0 };
    cr_assert_eq(vdm_cm_encode(VDM_CLASSICAL_CM4, &s.g, &side, &b), VDM_ERR_ARG);
    vdm_buf_free(&b);
    free(z);
    free(xh);
    free(s.data);
}

/* ---- the mixers' SIMD twin against the scalar code ---------------------------- */

/* The twin is used where the CPU has AVX2 (and VDMZIP_CM_SCALAR is unset);
 * elsewhere both runs would be the scalar code and prove nothing. */
static int twin_available(void)
{
    return vdm_cm4_simd_level() >= VDM_SIMD_AVX2;
}

#define ROW VDM_CM4_MIX_ROW
#define WMAX VDM_CM4_MIX_WMAX

/* an input in [-2047, 2047], extremes often */
static int32_t pick_x(uint64_t *r)
{
    static const int32_t ex[] = { -2047, 2047, 0, 256, -1, 1 };
    const uint64_t u = tu_rng(r);
    return u % 4 == 0 ? ex[(u >> 8) % 6] : (int32_t)((u >> 8) % 4095) - 2047;
}

/* a weight in [-2^24, 2^24], extremes often */
static int32_t pick_w(uint64_t *r)
{
    static const int32_t ex[] = { -WMAX, WMAX, -WMAX + 1, WMAX - 1, 0, -4096, 4095, 5000 };
    const uint64_t u = tu_rng(r);
    return u % 3 == 0 ? ex[(u >> 8) % 8] : (int32_t)((u >> 8) % (2u * WMAX + 1)) - WMAX;
}

Test(cm4_simd, mixer_twin_matches_the_scalar_code)
{
#if !VDM_CM4_HAVE_AVX2
    cr_skip_test("no SIMD twin on this target");
#else
    if (!twin_available()) cr_skip_test("no AVX2 here (or VDMZIP_CM_SCALAR set): nothing to compare");
    uint64_t r = 2024;
    enum { NW = VDM_CM4_MIX_NMAX };
    _Alignas(32) int32_t x[ROW], ws[NW][ROW], wv[NW][ROW];
    int32_t *ps[NW], *pv[NW];
    for (int k = 0; k < NW; k++) { ps[k] = ws[k]; pv[k] = wv[k]; }
    for (int it = 0; it < 200000; it++) {
        const unsigned n = 1 + (unsigned)(tu_rng(&r) % ROW);
        const unsigned nw = 1 + (unsigned)(it % NW);   /* every row count: pairs and a single row */
        const int all_max = it % 97 == 0;   /* the largest sums: every |w x| at its bound */
        for (unsigned i = 0; i < ROW; i++) x[i] = i >= n ? 0 : all_max ? ((it / 97) & 1 ? -2047 : 2047) : pick_x(&r);
        for (int k = 0; k < NW; k++)
            for (unsigned i = 0; i < ROW; i++) ws[k][i] = wv[k][i] = all_max ? (k & 1 ? -WMAX : WMAX) : pick_w(&r);
        int64_t ds[NW] = { 0 }, dv[NW] = { 0 };
        vdm_cm4_mix_dot_scalar(x, n, (const int32_t *const *)ps, nw, ds);
        vdm_cm4_mix_dot_avx2(x, n, (const int32_t *const *)pv, nw, dv);
        for (unsigned k = 0; k < nw; k++)
            cr_assert_eq(ds[k], dv[k], "dot %u of %u, n %u, iteration %d: scalar %lld, twin %lld", k, nw, n, it,
                         (long long)ds[k], (long long)dv[k]);
        /* errors as cbit makes them: (((bit << 16) - p) >> 4) * rate, p in
         * [22, 65514], rate 24 (methods 4-6) or 30..90 (method 7) */
        int32_t err[NW];
        for (int k = 0; k < NW; k++) {
            const uint64_t u = tu_rng(&r);
            const int32_t e4 = u % 5 == 0 ? ((u >> 8) & 1 ? 4094 : -4095) : (int32_t)((u >> 8) % 8190) - 4095;
            err[k] = e4 * ((u >> 20) % 3 == 0 ? 24 : (u >> 20) % 3 == 1 ? 90 : 30 + (int32_t)((u >> 24) % 61));
        }
        vdm_cm4_mix_train_scalar(x, n, ps, err, nw);
        vdm_cm4_mix_train_avx2(x, n, pv, err, nw);
        /* whole rows: the padding the twin also writes must stay as it was;
         * rows from nw on are not touched by either */
        cr_assert(!memcmp(ws, wv, sizeof ws), "weights differ after the update, n %u, %u rows, iteration %d", n, nw, it);
    }
#endif
}

/* encode with the scalar mixers and with the twin: the same bytes; each
 * payload decodes with the other path */
static void same_bytes_both_paths(const sub *s, const vdm_cm_side *side, const char *what)
{
    vdm_buf bs = { 0 }, bv = { 0 };
    const vdm_simd_level old = vdm_cm4_simd_cap(VDM_SIMD_SCALAR);
    cr_assert_eq(vdm_cm4_simd_level(), VDM_SIMD_SCALAR);
    cr_assert_eq(cm_enc(&s->g, side, &bs), VDM_OK, "%s", what);
    vdm_cm4_simd_cap(old);
    cr_assert_eq(vdm_cm4_simd_level(), VDM_SIMD_AVX2);
    cr_assert_eq(cm_enc(&s->g, side, &bv), VDM_OK, "%s", what);
    cr_assert(bs.size == bv.size && !memcmp(bs.data, bv.data, bs.size),
              "CM%d %s: the SIMD mixers' payload differs from the scalar one (%zu vs %zu bytes)",
              (int)method, what, bv.size, bs.size);
    uint8_t *out = malloc(s->bytes + 1);
    vdm_subimage h = s->g;
    h.data = out;
    cr_assert_eq(cm_dec(&h, side, bs.data, bs.size), VDM_OK, "%s", what);   /* twin decodes scalar */
    cr_assert(!memcmp(out, s->data, s->bytes), "%s", what);
    vdm_cm4_simd_cap(VDM_SIMD_SCALAR);
    memset(out, 0xAB, s->bytes);
    cr_assert_eq(cm_dec(&h, side, bv.data, bv.size), VDM_OK, "%s", what);   /* scalar decodes twin */
    cr_assert(!memcmp(out, s->data, s->bytes), "%s", what);
    vdm_cm4_simd_cap(old);
    cr_log_info("CM%d %s: %zu bytes, same on both paths", (int)method, what, bs.size);
    free(out);
    vdm_buf_free(&bs);
    vdm_buf_free(&bv);
}

static void both_paths_every_input_count(void)
{
    if (!twin_available()) cr_skip_test("no AVX2 here (or VDMZIP_CM_SCALAR set): nothing to compare");
    /* the mixers see 18 inputs (plain), up to 28 (side information, CM5's
     * models): 3 and 4 vectors, partly and wholly filled */
    sub p = make_photo(96, 64);
    same_bytes_both_paths(&p, NULL, "RGB photo-like 96x64");
    vdm_cm_side side = { 0 };
    side.alpha = 1.0f;
    side.sigma = 4.0f / 127.5f;
    float *z = make_z(&p, side.alpha, side.sigma, 3);
    float *xh = malloc(p.bytes * sizeof *xh);
    for (size_t i = 0; i < p.bytes; i++) xh[i] = (2.0f * (float)p.data[i] - 255.0f) / 255.0f + 0.01f * (float)(i % 7);
    side.z = z;
    side.xhat = xh;
    same_bytes_both_paths(&p, &side, "RGB with z and xhat");
    free(z);
    free(xh);
    free(p.data);
    static const unsigned kinds[][4] = {
        { 1, 16, 65535, 0 }, { 2, 8, 255, 0 }, { 4, 8, 255, 1 }, { 3, 16, 65535, 1 }, { 1, 8, 15, 0 },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        sub s = make_sub(48, 40, kinds[k][0], kinds[k][1], kinds[k][2], (int)kinds[k][3], 40 + k);
        char what[64];
        snprintf(what, sizeof what, "nch %u, %u-bit, maxval %u", kinds[k][0], kinds[k][1], kinds[k][2]);
        same_bytes_both_paths(&s, NULL, what);
        free(s.data);
    }
}

Test(cm4_simd, scalar_and_simd_mixers_give_the_same_bytes, .timeout = 300) { method = 4; both_paths_every_input_count(); }
Test(cm5_simd, scalar_and_simd_mixers_give_the_same_bytes, .timeout = 600) { method = 5; both_paths_every_input_count(); }
Test(cm6_simd, scalar_and_simd_mixers_give_the_same_bytes, .timeout = 600) { method = 6; both_paths_every_input_count(); }
/* method 7: six weight rows per call (three pairs in the twin) */
Test(cm7_simd, scalar_and_simd_mixers_give_the_same_bytes, .timeout = 600) { method = 7; both_paths_every_input_count(); }
Test(cm8_simd, scalar_and_simd_mixers_give_the_same_bytes, .timeout = 600) { method = 8; both_paths_every_input_count(); }
Test(cm9_simd, scalar_and_simd_mixers_give_the_same_bytes, .timeout = 600) { method = 9; both_paths_every_input_count(); }

/* xhat = the image plus a smooth offset of 0..40 values, in the model's scale */
static float *offset_xhat(const sub *s)
{
    const size_t w = s->g.width, n = (size_t)s->g.width * s->g.height * 3;
    float *xh = malloc(n * sizeof *xh);
    for (size_t i = 0; i < n; i++) {
        const size_t px = i / 3, x = px % w, y = px / w;
        const float off = 20.0f + 20.0f * (float)sin((double)x / 15.0 + (double)y / 23.0);
        xh[i] = (2.0f * ((float)s->data[i] + off) - 255.0f) / 255.0f;
    }
    return xh;
}

/* Round trips of the current method alone, given z (noise ~4 values, draw
 * `seed`), given z and xh, and given xh alone: their sizes in sz[0..3]. */
static void side_sizes(const sub *s, uint64_t seed, const float *xh, size_t sz[4])
{
    roundtrip(s, NULL, &sz[0]);
    vdm_cm_side side = { 0 };
    side.alpha = 0.9f;
    side.sigma = 0.03f;
    float *z = make_z(s, side.alpha, side.sigma, seed);
    side.z = z;
    roundtrip(s, &side, &sz[1]);
    side.xhat = xh;
    roundtrip(s, &side, &sz[2]);
    vdm_cm_side xs = { 0 };
    xs.xhat = xh;
    roundtrip(s, &xs, &sz[3]);
    free(z);
}

/* CM5 given side information: round trips (z and the denoised prediction,
 * each alone and together), and its use of the prediction as a reference
 * image: given an xhat that is the image plus a smooth offset of up to ~40
 * values, the gradient predictors cancel the offset, so CM5 codes the image
 * far smaller than alone and smaller than CM4 given the same xhat. */
Test(cm5, side_information_roundtrip_and_reference_gradients, .timeout = 300)
{
    sub s = make_photo(96, 64);
    float *xh = offset_xhat(&s);
    size_t sz[4], x4;
    method = 5;
    side_sizes(&s, 3, xh, sz);
    vdm_cm_side xs = { 0 };
    xs.xhat = xh;
    method = 4;
    roundtrip(&s, &xs, &x4);
    cr_log_info("CM5 alone %zu, given z %zu, z + xhat %zu, offset xhat %zu (CM4 %zu) bytes", sz[0], sz[1], sz[2],
                sz[3], x4);
    cr_assert_lt((double)sz[1], (double)sz[0], "z must help: %zu vs %zu", sz[1], sz[0]);
    cr_assert_lt((double)sz[3], 0.6 * (double)sz[0], "offset xhat: %zu vs alone %zu", sz[3], sz[0]);
    cr_assert_lt((double)sz[3], 0.9 * (double)x4, "CM5 %zu vs CM4 %zu given an offset xhat", sz[3], x4);
    free(xh);
    free(s.data);
}

/* CM6's OLS 1 sees three samples back (WWW): rows that repeat a random
 * three-sample pattern (a new one on every row, so the rows above do not
 * help) are predicted exactly by it, and CM6 codes them far smaller than
 * CM5, which has no input that far back.  Each method round-trips. */
Test(cm6, a_wider_least_squares_window_sees_a_period_of_three, .timeout = 300)
{
    const uint32_t w = 96, h = 64;
    sub s = make_sub(w, h, 3, 8, 255, 1, 1);
    uint64_t r = 11;
    for (uint32_t y = 0; y < h; y++) {
        uint8_t pat[3][3];
        for (int i = 0; i < 3; i++)
            for (int c = 0; c < 3; c++) pat[i][c] = (uint8_t)(tu_rng(&r) % 256);
        for (uint32_t x = 0; x < w; x++)
            for (unsigned c = 0; c < 3; c++) s.data[((size_t)y * w + x) * 3 + c] = pat[x % 3][c];
    }
    const size_t b5 = roundtrip_size(5, &s), b6 = roundtrip_size(6, &s);
    cr_log_info("period-3 rows: CM5 %zu bytes, CM6 %zu bytes", b5, b6);
    cr_assert_lt((double)b6, 0.75 * (double)b5, "CM6 %zu vs CM5 %zu", b6, b5);
    free(s.data);
}

/* Method m takes side information as CM5 does: round trips with z, xhat
 * and both; z helps, and an xhat that is the image plus a smooth offset
 * makes the image far cheaper (the reference-image gradients). */
static void side_information_roundtrip(unsigned m)
{
    sub s = make_photo(96, 64);
    float *xh = offset_xhat(&s);
    size_t sz[4];
    method = m;
    side_sizes(&s, 5, xh, sz);
    cr_log_info("CM%u alone %zu, given z %zu, z + xhat %zu, offset xhat %zu bytes", m, sz[0], sz[1], sz[2], sz[3]);
    cr_assert_lt((double)sz[1], (double)sz[0], "z must help: %zu vs %zu", sz[1], sz[0]);
    cr_assert_lt((double)sz[3], 0.6 * (double)sz[0], "offset xhat: %zu vs alone %zu", sz[3], sz[0]);
    free(xh);
    free(s.data);
}

Test(cm6, side_information_roundtrip, .timeout = 300) { side_information_roundtrip(6); }
/* CM7's changes are all after the predictors: the side image works as in CM6 */
Test(cm7, side_information_roundtrip, .timeout = 300) { side_information_roundtrip(7); }
/* CM8's stacking fit sees the side predictors through the blend */
Test(cm8, side_information_roundtrip, .timeout = 300) { side_information_roundtrip(8); }
/* CM9 codes R and B rows behind G: the side image is read per sample as before */
Test(cm9, side_information_roundtrip, .timeout = 300) { side_information_roundtrip(9); }

/* Method m is a different coder from method m - 1 on the same input, and
 * each decodes only its own payload: an m payload given to the m - 1
 * decoder is an error or other pixels, never the image. */
static void payloads_are_their_own(unsigned m)
{
    sub s = make_photo(96, 64);
    vdm_buf bp = { 0 }, bm = { 0 };
    cr_assert_eq(vdm_cm_encode(m - 1, &s.g, NULL, &bp), VDM_OK);
    cr_assert_eq(vdm_cm_encode(m, &s.g, NULL, &bm), VDM_OK);
    cr_assert(bp.size != bm.size || memcmp(bp.data, bm.data, bp.size), "CM%u wrote CM%u's bytes", m, m - 1);
    uint8_t *out = malloc(s.bytes);
    vdm_subimage h = s.g;
    h.data = out;
    const vdm_status st = vdm_cm_decode(m - 1, &h, NULL, bm.data, bm.size);
    cr_assert(st == VDM_ERR_CORRUPT || memcmp(out, s.data, s.bytes), "the CM%u decoder read a CM%u payload", m - 1, m);
    cr_assert_eq(vdm_cm_decode(m, &h, NULL, bm.data, bm.size), VDM_OK);
    cr_assert(!memcmp(out, s.data, s.bytes));
    cr_log_info("photo-like 96x64: CM%u %zu bytes, CM%u %zu bytes", m - 1, bp.size, m, bm.size);
    free(out);
    vdm_buf_free(&bp);
    vdm_buf_free(&bm);
    free(s.data);
}

/* method 7: its mixers, blend window, activity and OLS window */
Test(cm7, its_payloads_are_its_own, .timeout = 300)
{
    payloads_are_their_own(VDM_CLASSICAL_CM7);
}

/* method 8: its stacking fit, 1/8 blend, OLS 2 window and activity (its
 * gain is a photo's: benchmarks/RESULTS.md, not this synthetic image's) */
Test(cm8, its_payloads_are_its_own, .timeout = 300)
{
    payloads_are_their_own(VDM_CLASSICAL_CM8);
}

/* method 9: G two rows and R one row ahead of B, and the first position's
 * wider least-squares neighbourhood */
Test(cm9, its_payloads_are_its_own, .timeout = 300)
{
    payloads_are_their_own(VDM_CLASSICAL_CM9);
}

/* What the row lag is for: R and B see the colours coded before them below
 * and to the right of the sample.  G is noise; R(x, y) = G(x + 1, y) and
 * B(x, y) = G(x, y + 1) (clamped at the edges) are as noisy to a coder
 * that sees only the causal neighbourhood (method 8), and nearly free to
 * method 9, whose R and B least-squares inputs include G's samples E and
 * S.  Also on a 4-channel image (alpha rides with B) and in tile mode
 * (3 channels: the tiles are the model path's, RGB only). */
Test(cm9, r_and_b_see_g_below_and_to_the_right, .timeout = 300)
{
    const uint32_t w = 64, h = 48;
    for (unsigned nch = 3; nch <= 4; nch++) {
        sub s = make_sub(w, h, nch, 8, 255, 1, 3);
        uint64_t r = 11;
        for (size_t i = 0; i < (size_t)w * h; i++) s.data[i * nch + 1] = (uint8_t)(tu_rng(&r) & 255);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++) {
                uint8_t *p = &s.data[((size_t)y * w + x) * nch];
                p[0] = s.data[((size_t)y * w + (x + 1 < w ? x + 1 : x)) * nch + 1];
                p[2] = s.data[((size_t)(y + 1 < h ? y + 1 : y) * w + x) * nch + 1];
                if (nch == 4) p[3] = (uint8_t)(x * 4);
            }
        size_t b8, b9;
        method = VDM_CLASSICAL_CM8;
        roundtrip(&s, NULL, &b8);
        method = VDM_CLASSICAL_CM9;
        roundtrip(&s, NULL, &b9);
        cr_log_info("nch %u: G noise, R = G at E, B = G at S: CM8 %zu bytes, CM9 %zu bytes", nch, b8, b9);
        /* G alone is w*h bytes of noise; CM8 pays about as much again for R and B */
        cr_assert_gt((double)b8, 2.5 * w * h, "CM8 %zu", b8);
        cr_assert_lt((double)b9, 1.4 * w * h, "CM9 %zu: R and B must be nearly free", b9);
        if (nch == 4) { free(s.data); continue; }
        /* tile mode (3 x 3 tiles of 24 x 20): every sample goes to its own
         * tile's stream, and decoding every other tile, the rest given,
         * gives the image back */
        vdm_buf t[9];
        memset(t, 0, sizeof t);
        cr_assert_eq(vdm_cm_tiles_encode(VDM_CLASSICAL_CM9, &s.g, 24, 20, t), VDM_OK);
        uint8_t *out = malloc(s.bytes);
        memcpy(out, s.data, s.bytes);
        const uint8_t *in[9];
        size_t n[9];
        for (unsigned i = 0; i < 9; i++) {
            in[i] = i % 2 ? NULL : t[i].data;
            n[i] = i % 2 ? 0 : t[i].size;
            if (!(i % 2))
                for (uint32_t y = (i / 3) * 20; y < (i / 3 + 1) * 20 && y < h; y++)
                    memset(out + ((size_t)y * w + (i % 3) * 24) * nch, 0, (size_t)(i % 3 == 2 ? w - 48 : 24) * nch);
        }
        vdm_subimage hg = s.g;
        hg.data = out;
        cr_assert_eq(vdm_cm_tiles_decode(VDM_CLASSICAL_CM9, &hg, 24, 20, in, n), VDM_OK);
        cr_assert(!memcmp(out, s.data, s.bytes), "nch %u: tile decode differs", nch);
        for (unsigned i = 0; i < 9; i++) vdm_buf_free(&t[i]);
        free(out);
        free(s.data);
    }
}

/* cm4_wide.c: codec/cm/cm4.c with every row ring 3 rows wider */
vdm_status vdm_cm_wide_encode(unsigned method, const vdm_subimage *g, const vdm_cm_side *side, vdm_buf *out);
vdm_status vdm_cm_wide_decode(unsigned method, const vdm_subimage *g, const vdm_cm_side *side, const uint8_t *in,
                              size_t n);
vdm_status vdm_cm_wide_tiles_encode(unsigned method, const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *out);

/* The row rings (values, residuals, predictor errors, per position) are as
 * small as the coding orders allow -- method 9's B reads G two rows behind
 * G.  A ring one row too small would read a row already overwritten, in the
 * encoder and decoder alike, so round trips cannot see it; a build with
 * wider rings can: both must write the same bytes, for every method, kind
 * and small height, whole and in tiles, and each decodes the other's. */
Test(cm9, rings_are_wide_enough, .timeout = 600)
{
    static const unsigned kinds[][5] = {   /* w, h, nch, maxval, rgb */
        { 40, 23, 3, 255, 1 }, { 17, 2, 3, 255, 1 }, { 1, 9, 3, 255, 1 }, { 23, 11, 4, 255, 1 },
        { 29, 13, 1, 255, 0 }, { 19, 7, 2, 255, 0 }, { 21, 9, 3, 4095, 1 },
    };
    for (unsigned m = VDM_CLASSICAL_CM4; m <= VDM_CLASSICAL_CM9; m++)
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            const unsigned *k = kinds[i];
            sub s = make_sub(k[0], k[1], k[2], k[3] > 255 ? 16 : 8, k[3], (int)k[4], 7 + i);
            vdm_buf a = { 0 }, b = { 0 };
            cr_assert_eq(vdm_cm_encode(m, &s.g, NULL, &a), VDM_OK);
            cr_assert_eq(vdm_cm_wide_encode(m, &s.g, NULL, &b), VDM_OK);
            cr_assert(a.size == b.size && !memcmp(a.data, b.data, a.size), "method %u, %ux%u nch %u: %zu vs %zu bytes",
                      m, k[0], k[1], k[2], a.size, b.size);
            uint8_t *out = malloc(s.bytes);
            vdm_subimage h = s.g;
            h.data = out;
            cr_assert_eq(vdm_cm_wide_decode(m, &h, NULL, a.data, a.size), VDM_OK);
            cr_assert(!memcmp(out, s.data, s.bytes));
            cr_assert_eq(vdm_cm_decode(m, &h, NULL, b.data, b.size), VDM_OK);
            cr_assert(!memcmp(out, s.data, s.bytes));
            if (k[2] == 3 && k[4] && k[3] == 255) {   /* tile mode (8-bit RGB): 3-wide, 2-high tiles */
                uint64_t nt = (uint64_t)((k[0] + 2) / 3) * ((k[1] + 1) / 2);
                vdm_buf *ta = calloc(nt, sizeof *ta), *tb = calloc(nt, sizeof *tb);
                cr_assert_eq(vdm_cm_tiles_encode(m, &s.g, 3, 2, ta), VDM_OK);
                cr_assert_eq(vdm_cm_wide_tiles_encode(m, &s.g, 3, 2, tb), VDM_OK);
                for (uint64_t t = 0; t < nt; t++) {
                    cr_assert(ta[t].size == tb[t].size && !memcmp(ta[t].data, tb[t].data, ta[t].size),
                              "method %u tile %llu", m, (unsigned long long)t);
                    vdm_buf_free(&ta[t]);
                    vdm_buf_free(&tb[t]);
                }
                free(ta);
                free(tb);
            }
            free(out);
            vdm_buf_free(&a);
            vdm_buf_free(&b);
            free(s.data);
        }
}

/* The bytes of methods 4-9 on the kinds the rgb golden files
 * (tests/vectors) do not pin: gray, gray + alpha, 16-bit gray, rgba (its
 * alpha).  FNV-1a of each payload; methods 4-8 as the coder of session 10
 * wrote them (methods 4-8 must never change), method 9 as session 11's. */
Test(cm9, payloads_of_other_kinds_are_pinned, .timeout = 300)
{
    static const unsigned kinds[4][6] = {   /* w, h, nch, maxval, rgb, bit depth */
        { 48, 37, 1, 255, 0, 8 }, { 33, 21, 2, 255, 0, 8 }, { 29, 17, 1, 65535, 0, 16 }, { 31, 19, 4, 255, 1, 8 },
    };
    static const struct { size_t n; uint64_t h; } want[6][4] = {
        { { 378, 0x3701b20cc87a4d5bu }, { 486, 0x06f3d64742c4ed01u }, { 354, 0x0d4ed58b1f639142u }, { 622, 0x3c7af4815da8ddd9u } },
        { { 363, 0x36d5ff13c40f8a89u }, { 448, 0x47dde643fde71c1cu }, { 360, 0x78c93f133e3029d2u }, { 614, 0xf24c866ed3b0e9cbu } },
        { { 351, 0x9a5718a0095f7859u }, { 462, 0xb3a55b251d44ead7u }, { 378, 0xac59a094cab31950u }, { 621, 0xce47eb03f35458afu } },
        { { 361, 0xb48752c4f1f81ecfu }, { 459, 0xd0ea2630e412b990u }, { 383, 0xd48e423be9e5854fu }, { 644, 0x3c1892efbd169db6u } },
        { { 353, 0xf5ed61b70951ba25u }, { 454, 0x7da6531bcc7c2ae5u }, { 430, 0xcf3f16aa2c5ec25cu }, { 654, 0x51477c95ad8fa04cu } },
        { { 359, 0xf31c4644114c29c9u }, { 457, 0xa34975efaf008960u }, { 432, 0x5e9dea8933144d0eu }, { 644, 0xaffa3480f41faa48u } },
    };
    for (unsigned m = VDM_CLASSICAL_CM4; m <= VDM_CLASSICAL_CM9; m++)
        for (unsigned i = 0; i < 4; i++) {
            const unsigned *k = kinds[i];
            sub s = make_sub(k[0], k[1], k[2], k[5], k[3], (int)k[4], 21 + i);
            vdm_buf b = { 0 };
            cr_assert_eq(vdm_cm_encode(m, &s.g, NULL, &b), VDM_OK);
            uint64_t f = 0xcbf29ce484222325u;
            for (size_t j = 0; j < b.size; j++) f = (f ^ b.data[j]) * 0x100000001b3u;
            cr_assert(b.size == want[m - 4][i].n && f == want[m - 4][i].h, "method %u kind %u: %zu bytes, fnv 0x%016llx", m,
                      i, b.size, (unsigned long long)f);
            vdm_buf_free(&b);
            free(s.data);
        }
}
