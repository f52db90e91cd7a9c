/* test_api.c — the public API (include/vdmzip.h): every function, every
 * option check, round trips of every PNG kind as PNG bytes and as pixels,
 * the model path through the API, files (overwrite refusal, nothing left on
 * failure), damaged input, a missing or wrong model, cancellation, two
 * threads sharing one model, NULL arguments. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vdmzip.h"
#include "codec/png_io.h"
#include "codec_testutil.h"
#include "common/vdm_common.h"

#define MODEL_PATH VDM_SOURCE_DIR "/models/default.vdm"
#define VEC(name) VDM_SOURCE_DIR "/tests/vectors/" name

static uint8_t *slurp(const char *path, size_t *n)
{
    uint8_t *b = tu_read_file(path, n);
    cr_assert_not_null(b, "cannot read %s", path);
    return b;
}

static vdmzip_model *load_model(void)
{
    vdmzip_model *m = NULL;
    cr_assert_eq(vdmzip_model_load_file(MODEL_PATH, &m), VDMZIP_OK);
    cr_assert_not_null(m);
    return m;
}

static vdmzip_encoder *classical_encoder(int effort)
{
    vdmzip_options o;
    vdmzip_options_init(&o);
    o.mode = VDMZIP_MODE_CLASSICAL;
    o.effort = effort;
    vdmzip_encoder *e = NULL;
    cr_assert_eq(vdmzip_encoder_create(NULL, &o, &e), VDMZIP_OK);
    return e;
}

static vdmzip_decoder *plain_decoder(void)
{
    vdmzip_decoder *d = NULL;
    cr_assert_eq(vdmzip_decoder_create(NULL, NULL, &d), VDMZIP_OK);
    return d;
}

/* Two PNGs hold the same image (samples, type, depth, interlace, palette,
 * tRNS, ancillary chunks). */
static void assert_same_png(const void *a, size_t an, const void *b, size_t bn)
{
    vdm_image *x = NULL, *y = NULL;
    cr_assert_eq(vdm_png_read_mem(a, an, &x), VDM_OK);
    cr_assert_eq(vdm_png_read_mem(b, bn, &y), VDM_OK);
    cr_assert_eq(x->width, y->width);
    cr_assert_eq(x->height, y->height);
    cr_assert_eq(x->color_type, y->color_type);
    cr_assert_eq(x->bit_depth, y->bit_depth);
    cr_assert_eq(x->interlace, y->interlace);
    cr_assert_eq(x->palette_size, y->palette_size);
    cr_assert_eq(memcmp(x->palette, y->palette, 3u * x->palette_size), 0);
    cr_assert_eq(x->trns_count, y->trns_count);
    cr_assert_eq(memcmp(x->trns_alpha, y->trns_alpha, sizeof x->trns_alpha), 0);
    cr_assert_eq(memcmp(x->trns_key, y->trns_key, sizeof x->trns_key), 0);
    cr_assert_eq(x->nchunks, y->nchunks);
    for (uint32_t i = 0; i < x->nchunks; i++) {
        cr_assert_str_eq(x->chunks[i].name, y->chunks[i].name);
        cr_assert_eq(x->chunks[i].size, y->chunks[i].size);
    }
    size_t nb = (size_t)vdm_image_sample_bytes(x->width, x->height, x->channels, x->bit_depth);
    cr_assert_eq(memcmp(x->data, y->data, nb), 0, "samples differ");
    vdm_image_free(x);
    vdm_image_free(y);
}

/* ---- versions and errors ------------------------------------------------------ */

Test(api, versions)
{
    cr_assert_eq(vdmzip_version_number(), VDMZIP_VERSION_NUMBER);
    cr_assert_str_eq(vdmzip_version_string(), VDMZIP_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", VDMZIP_VERSION_MAJOR, VDMZIP_VERSION_MINOR, VDMZIP_VERSION_PATCH);
    cr_assert_str_eq(vdmzip_version_string(), buf);
    cr_assert_eq(VDMZIP_FORMAT_VERSION, 1);
}

Test(api, error_strings)
{
    const char *unknown = vdmzip_error_string(-1);
    cr_assert_not_null(unknown);
    cr_assert_str_eq(vdmzip_error_string(17), unknown);
    cr_assert_str_eq(vdmzip_error_string(1000000), unknown);
    cr_assert_str_eq(vdmzip_error_string(-2147483647 - 1), unknown);
    for (int c = VDMZIP_OK; c <= VDMZIP_ERROR_CANCELLED; c++) {
        const char *s = vdmzip_error_string(c);
        cr_assert_not_null(s);
        cr_assert(*s, "empty text for %d", c);
        cr_assert_str_neq(s, unknown, "code %d has no text", c);
        for (int k = 0; k < c; k++) cr_assert_str_neq(s, vdmzip_error_string(k), "codes %d and %d share a text", k, c);
    }
    cr_assert_str_eq(vdmzip_error_string(VDMZIP_ERROR_CANCELLED), "cancelled");
    cr_assert_str_eq(vdmzip_error_string(VDMZIP_ERROR_TRUNCATED), "truncated input");
}

/* ---- models ------------------------------------------------------------------- */

Test(api, model_load_file_and_memory)
{
    size_t n;
    uint8_t *bytes = slurp(MODEL_PATH, &n);
    cr_assert_gt(n, 32);
    uint8_t sha[32];
    vdm_sha256(sha, bytes, n - 32);
    cr_assert_eq(memcmp(sha, bytes + n - 32, 32), 0, "the trailer is the file's SHA-256");

    vdmzip_model *a = NULL, *b = NULL;
    cr_assert_eq(vdmzip_model_load_file(MODEL_PATH, &a), VDMZIP_OK);
    cr_assert_eq(vdmzip_model_load_memory(bytes, n, &b), VDMZIP_OK);
    memset(bytes, 0, n);   /* the model keeps its own copy */
    free(bytes);
    uint8_t ia[32], ib[32];
    vdmzip_model_id(a, ia);
    vdmzip_model_id(b, ib);
    cr_assert_eq(memcmp(ia, sha, 32), 0);
    cr_assert_eq(memcmp(ib, sha, 32), 0);
    cr_assert_eq(vdmzip_model_set_device(a, VDMZIP_DEVICE_CPU), VDMZIP_OK);
    cr_assert_eq(vdmzip_model_set_device(a, 7), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_model_set_device(NULL, VDMZIP_DEVICE_CPU), VDMZIP_ERROR_ARGUMENT);
    vdmzip_model_free(a);
    vdmzip_model_free(b);
    vdmzip_model_free(NULL);
}

Test(api, model_bad_bytes)
{
    vdmzip_model *m = NULL;
    static const char garbage[] = "this is not a weights file, not at all, not even close........";
    cr_assert_neq(vdmzip_model_load_memory(garbage, sizeof garbage, &m), VDMZIP_OK);
    cr_assert_null(m);
    cr_assert_neq(vdmzip_model_load_memory(garbage, 0, &m), VDMZIP_OK);
    cr_assert_null(m);
    size_t n;
    uint8_t *bytes = slurp(MODEL_PATH, &n);
    const size_t cuts[] = { 1, 8, 31, 100, n / 2, n - 33, n - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        vdmzip_error e = vdmzip_model_load_memory(bytes, cuts[i], &m);
        cr_assert_neq(e, VDMZIP_OK, "truncated to %zu bytes", cuts[i]);
        cr_assert(e == VDMZIP_ERROR_TRUNCATED || e == VDMZIP_ERROR_FORMAT || e == VDMZIP_ERROR_CORRUPT ||
                      e == VDMZIP_ERROR_CHECKSUM,
                  "truncated to %zu: %s", cuts[i], vdmzip_error_string(e));
        cr_assert_null(m);
    }
    bytes[n / 2] ^= 0x10;   /* a flipped bit: the trailer no longer matches */
    cr_assert_eq(vdmzip_model_load_memory(bytes, n, &m), VDMZIP_ERROR_CHECKSUM);
    cr_assert_null(m);
    free(bytes);
    cr_assert_eq(vdmzip_model_load_file("/nonexistent/dir/none.vdm", &m), VDMZIP_ERROR_IO);
    cr_assert_eq(vdmzip_model_load_file(VDM_SOURCE_DIR, &m), VDMZIP_ERROR_IO);   /* a folder */
    cr_assert_null(m);
    cr_assert_eq(vdmzip_model_load_file(NULL, &m), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_model_load_file(MODEL_PATH, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_model_load_memory(NULL, 10, &m), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_model_load_memory(garbage, sizeof garbage, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_model_load_default(NULL), VDMZIP_ERROR_ARGUMENT);
    uint8_t id[32];
    memset(id, 0xAB, sizeof id);
    vdmzip_model_id(NULL, id);   /* NULL-safe: zeroes */
    for (int i = 0; i < 32; i++) cr_assert_eq(id[i], 0);
    vdmzip_model_id(NULL, NULL);
}

Test(api, default_path_env)
{
    cr_assert_eq(setenv("VDMZIP_MODEL", "/nonexistent/x/model.vdm", 1), 0);
    const char *p = vdmzip_model_default_path();
    cr_assert_not_null(p);
    cr_assert_str_eq(p, "/nonexistent/x/model.vdm");   /* named even when missing */
    vdmzip_model *m = NULL;
    cr_assert_eq(vdmzip_model_load_default(&m), VDMZIP_ERROR_IO);
    cr_assert_null(m);

    cr_assert_eq(setenv("VDMZIP_MODEL", MODEL_PATH, 1), 0);
    cr_assert_str_eq(vdmzip_model_default_path(), MODEL_PATH);
    cr_assert_eq(vdmzip_model_load_default(&m), VDMZIP_OK);
    vdmzip_model_free(m);

    /* empty = unset: then the tree's model (this build's source tree has one) */
    cr_assert_eq(setenv("VDMZIP_MODEL", "", 1), 0);
    p = vdmzip_model_default_path();
    cr_assert_not_null(p);
    cr_assert(tu_exists(p), "%s", p);
    cr_assert_eq(unsetenv("VDMZIP_MODEL"), 0);
    p = vdmzip_model_default_path();
    cr_assert_not_null(p);
    cr_assert(tu_exists(p), "%s", p);
    m = NULL;
    cr_assert_eq(vdmzip_model_load_default(&m), VDMZIP_OK);
    vdmzip_model_free(m);
}

/* ---- options -------------------------------------------------------------------- */

Test(api, options_defaults)
{
    vdmzip_options o;
    memset(&o, 0x5A, sizeof o);
    vdmzip_options_init(&o);
    cr_assert_eq(o.size, sizeof o);
    cr_assert_eq(o.effort, 1);
    cr_assert_eq(o.threads, 1u);
    cr_assert_eq(o.mode, VDMZIP_MODE_AUTO);
    cr_assert_eq(o.steps, 0u);
    cr_assert_eq(o.keep_metadata, 1);
    cr_assert_eq(o.model_try, 0);
    cr_assert_eq(o.tiles, 0);
    cr_assert_null(o.progress);
    cr_assert_null(o.progress_user);
    vdmzip_options_init(NULL);   /* no crash */
}

typedef struct { const char *what; void (*set)(vdmzip_options *); } bad_opt;
static void b_size0(vdmzip_options *o) { o->size = 0; }
static void b_size_short(vdmzip_options *o) { o->size = offsetof(vdmzip_options, progress_user); }
static void b_thr0(vdmzip_options *o) { o->threads = 0; }
static void b_thr257(vdmzip_options *o) { o->threads = 257; }
static void b_eff_neg(vdmzip_options *o) { o->effort = -1; }
static void b_eff3(vdmzip_options *o) { o->effort = 3; }
static void b_mode_neg(vdmzip_options *o) { o->mode = -1; }
static void b_mode3(vdmzip_options *o) { o->mode = 3; }
static void b_steps(vdmzip_options *o) { o->steps = 16385; }
static void b_meta(vdmzip_options *o) { o->keep_metadata = 2; }
static void b_try_neg(vdmzip_options *o) { o->model_try = -1; }
static void b_try2(vdmzip_options *o) { o->model_try = 2; }
static void b_tiles_neg(vdmzip_options *o) { o->tiles = -1; }
static void b_tiles3(vdmzip_options *o) { o->tiles = 3; }

Test(api, options_bad_values)
{
    static const bad_opt bad[] = {
        { "size 0", b_size0 }, { "short size", b_size_short }, { "threads 0", b_thr0 },
        { "threads 257", b_thr257 }, { "effort -1", b_eff_neg }, { "effort 3", b_eff3 },
        { "mode -1", b_mode_neg }, { "mode 3", b_mode3 }, { "steps", b_steps },
        { "keep_metadata 2", b_meta }, { "model_try -1", b_try_neg }, { "model_try 2", b_try2 },
        { "tiles -1", b_tiles_neg }, { "tiles 3", b_tiles3 },
    };
    vdmzip_model *m = load_model();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vdmzip_options o;
        vdmzip_options_init(&o);
        bad[i].set(&o);
        vdmzip_encoder *e = (vdmzip_encoder *)(uintptr_t)1;
        cr_assert_eq(vdmzip_encoder_create(m, &o, &e), VDMZIP_ERROR_ARGUMENT, "%s", bad[i].what);
        cr_assert_eq(e, (vdmzip_encoder *)(uintptr_t)1, "%s: output set on failure", bad[i].what);
    }
    /* the decoder looks at size and threads only */
    for (size_t i = 0; i < 4; i++) {
        vdmzip_options o;
        vdmzip_options_init(&o);
        bad[i].set(&o);
        vdmzip_decoder *d = NULL;
        cr_assert_eq(vdmzip_decoder_create(m, &o, &d), VDMZIP_ERROR_ARGUMENT, "%s", bad[i].what);
        cr_assert_null(d);
    }
    vdmzip_options o;
    vdmzip_options_init(&o);
    o.mode = VDMZIP_MODE_MODEL;
    vdmzip_encoder *e = NULL;
    cr_assert_eq(vdmzip_encoder_create(NULL, &o, &e), VDMZIP_ERROR_ARGUMENT, "model mode without a model");
    cr_assert_null(e);
    cr_assert_eq(vdmzip_encoder_create(m, &o, &e), VDMZIP_OK);
    vdmzip_encoder_free(e);
    /* limits themselves are fine; a larger (newer) struct too */
    vdmzip_options_init(&o);
    o.threads = 256;
    o.effort = 2;
    o.steps = 16384;
    o.tiles = 2;
    o.model_try = 1;
    o.keep_metadata = 0;
    cr_assert_eq(vdmzip_encoder_create(m, &o, &e), VDMZIP_OK);
    vdmzip_encoder_free(e);
    o.size = sizeof o + 64;
    cr_assert_eq(vdmzip_encoder_create(NULL, &o, &e), VDMZIP_OK);
    vdmzip_encoder_free(e);
    vdmzip_decoder *d = NULL;
    cr_assert_eq(vdmzip_decoder_create(NULL, &o, &d), VDMZIP_OK);
    vdmzip_decoder_free(d);
    vdmzip_model_free(m);
}

/* ---- round trips of every kind ------------------------------------------------- */

typedef struct { int ct, bd, interlace, npal, ntrns, key; } kind;
static const kind k_kinds[] = {
    { 0, 1, 0, 0, 0, 0 }, { 0, 2, 0, 0, 0, 0 }, { 0, 4, 1, 0, 0, 0 }, { 0, 8, 0, 0, 0, 0 },
    { 0, 16, 0, 0, 0, 0 }, { 0, 8, 0, 0, 0, 1 }, { 0, 16, 0, 0, 0, 1 }, { 4, 8, 0, 0, 0, 0 },
    { 4, 16, 0, 0, 0, 0 }, { 2, 8, 0, 0, 0, 0 }, { 2, 16, 0, 0, 0, 0 }, { 2, 8, 1, 0, 0, 1 },
    { 2, 16, 0, 0, 0, 1 }, { 6, 8, 0, 0, 0, 0 }, { 6, 16, 1, 0, 0, 0 }, { 3, 1, 0, 2, 1, 0 },
    { 3, 2, 0, 4, 0, 0 }, { 3, 4, 0, 13, 5, 0 }, { 3, 8, 0, 200, 17, 0 },
};

typedef struct {
    tu_png_desc d;
    uint16_t *s;
    uint8_t pal[256][3];
    uint8_t trns[256];
    uint16_t key[3];
} made;

static void make_kind(const kind *k, uint32_t w, uint32_t h, uint64_t seed, made *m)
{
    memset(m, 0, sizeof *m);
    const unsigned ch = tu_channels(k->ct);
    const uint32_t maxv = k->ct == 3 ? (uint32_t)k->npal - 1 : (k->bd == 16 ? 65535u : (1u << k->bd) - 1);
    m->s = tu_content(w, h, ch, maxv, seed);
    for (int i = 0; i < 256; i++) {
        m->pal[i][0] = (uint8_t)(i * 7);
        m->pal[i][1] = (uint8_t)(255 - i);
        m->pal[i][2] = (uint8_t)(i * 13 + 5);
        m->trns[i] = (uint8_t)(i * 29);
    }
    m->key[0] = (uint16_t)(maxv / 3);
    m->key[1] = (uint16_t)(maxv / 5);
    m->key[2] = (uint16_t)maxv;
    m->d.w = w;
    m->d.h = h;
    m->d.ct = k->ct;
    m->d.bd = k->bd;
    m->d.interlace = k->interlace;
    m->d.s = m->s;
    m->d.pal = k->npal ? (const uint8_t(*)[3])m->pal : NULL;
    m->d.npal = k->npal;
    m->d.trns = k->ntrns ? m->trns : NULL;
    m->d.ntrns = k->ntrns;
    m->d.key = k->key ? m->key : NULL;
}

Test(api, png_round_trip_every_kind)
{
    vdmzip_encoder *e = classical_encoder(0);
    vdmzip_decoder *d = plain_decoder();
    static const uint8_t text[] = "Comment\0hello";
    const tu_chunk ch = { "tEXt", 1, text, sizeof text - 1 };
    for (size_t i = 0; i < sizeof k_kinds / sizeof k_kinds[0]; i++) {
        made m;
        make_kind(&k_kinds[i], 19, 11, i + 1, &m);
        m.d.chunks = &ch;
        m.d.nchunks = 1;
        size_t pn;
        uint8_t *png = tu_png(&m.d, &pn);
        void *vdz = NULL, *back = NULL;
        size_t vn = 0, bn = 0;
        cr_assert_eq(vdmzip_encode_png(e, png, pn, &vdz, &vn), VDMZIP_OK, "kind %zu: %s", i,
                     vdmzip_encoder_error_detail(e));
        cr_assert_str_eq(vdmzip_encoder_error_detail(e), "");
        vdmzip_stats s;
        s.size = sizeof s;
        cr_assert_eq(vdmzip_encoder_stats(e, &s), VDMZIP_OK);
        cr_assert_eq(s.file_bytes, vn);
        cr_assert_eq(s.subpixels, (uint64_t)19 * 11 * tu_channels(k_kinds[i].ct));
        cr_assert_eq(s.used_model, 0);
        cr_assert_eq(s.model_bytes, 0);
        cr_assert_gt(s.metadata_bytes, 0);
        cr_assert_gt(s.classical_bytes, 0);
        cr_assert_float_eq(s.bits_per_subpixel, 8.0 * (double)vn / (double)s.subpixels, 1e-9);
        vdmzip_info info;
        cr_assert_eq(vdmzip_get_info(vdz, vn, &info), VDMZIP_OK);
        cr_assert_eq(info.width, 19);
        cr_assert_eq(info.height, 11);
        cr_assert_eq(info.color_type, k_kinds[i].ct);
        cr_assert_eq(info.bit_depth, k_kinds[i].bd);
        cr_assert_eq(info.channels, (int)tu_channels(k_kinds[i].ct));
        cr_assert_eq(info.interlaced, k_kinds[i].interlace);
        cr_assert_eq(info.needs_model, 0);
        cr_assert_eq(info.format_version, VDMZIP_FORMAT_VERSION);
        cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &back, &bn), VDMZIP_OK, "kind %zu: %s", i,
                     vdmzip_decoder_error_detail(d));
        assert_same_png(png, pn, back, bn);
        cr_assert_eq(s.metadata_chunks, 1);
        cr_assert_gt(s.header_bytes, 0);
        cr_assert_eq(s.header_bytes + s.metadata_bytes + s.classical_bytes, s.file_bytes);
        /* the PNG's own samples are the decoded ones, field by field */
        vdmzip_pixels *ref = NULL, *dec = NULL;
        cr_assert_eq(vdmzip_png_to_pixels(png, pn, &ref), VDMZIP_OK, "kind %zu", i);
        cr_assert_eq(vdmzip_decode_pixels(d, vdz, vn, &dec), VDMZIP_OK, "kind %zu", i);
        cr_assert_eq(ref->width, 19);
        cr_assert_eq(ref->color_type, dec->color_type);
        cr_assert_eq(ref->bit_depth, dec->bit_depth);
        cr_assert_eq(ref->channels, dec->channels);
        cr_assert_eq(ref->stride, dec->stride);
        cr_assert_eq(ref->palette_size, dec->palette_size);
        cr_assert_eq(ref->palette_alpha_count, dec->palette_alpha_count);
        cr_assert_eq(ref->has_key, dec->has_key);
        cr_assert_eq(memcmp(ref->palette, dec->palette, sizeof ref->palette), 0);
        cr_assert_eq(memcmp(ref->data, dec->data, ref->stride * ref->height), 0, "kind %zu", i);
        vdmzip_pixels_free(ref);
        vdmzip_pixels_free(dec);
        /* an older, shorter stats struct is filled only as far as its size */
        vdmzip_stats old;
        memset(&old, 0xA5, sizeof old);
        old.size = offsetof(vdmzip_stats, model_tried);
        cr_assert_eq(vdmzip_encoder_stats(e, &old), VDMZIP_OK);
        cr_assert_eq(old.file_bytes, vn);
        cr_assert_eq(old.size, offsetof(vdmzip_stats, model_tried));
        cr_assert_eq(old.estimate_tiles, 0xA5A5A5A5u, "written past the caller's size");
        old.size = offsetof(vdmzip_stats, model_tried) - 1;
        cr_assert_eq(vdmzip_encoder_stats(e, &old), VDMZIP_ERROR_ARGUMENT);
        vdmzip_free(vdz);
        vdmzip_free(back);
        free(png);
        free(m.s);
    }
    vdmzip_encoder_free(e);
    vdmzip_decoder_free(d);
}

Test(api, png_to_pixels_bad_input)
{
    vdmzip_pixels *px = NULL;
    static const uint8_t junk[] = "\x89PNG\r\n\x1a\nnot really a PNG at all";
    cr_assert_neq(vdmzip_png_to_pixels(junk, sizeof junk, &px), VDMZIP_OK);
    cr_assert_null(px);
    size_t pn;
    uint8_t *png = slurp(VEC("v1_rgb8.png"), &pn);
    cr_assert_neq(vdmzip_png_to_pixels(png, pn / 2, &px), VDMZIP_OK, "truncated PNG");
    cr_assert_null(px);
    cr_assert_eq(vdmzip_png_to_pixels(NULL, pn, &px), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_png_to_pixels(png, pn, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_png_to_pixels(png, pn, &px), VDMZIP_OK);
    cr_assert_eq(px->channels, 3);
    vdmzip_pixels_free(px);
    free(png);
}

/* vdmzip_pixels of a kind (padded stride), from the same content. */
static vdmzip_pixels pixels_of(const kind *k, const made *m, uint32_t w, uint32_t h, size_t pad, void **buf)
{
    vdmzip_pixels p;
    memset(&p, 0, sizeof p);
    const unsigned ch = tu_channels(k->ct), bps = k->bd == 16 ? 2 : 1;
    p.width = w;
    p.height = h;
    p.color_type = k->ct;
    p.bit_depth = k->bd;
    p.stride = (size_t)w * ch * bps + pad;
    uint8_t *b = calloc(1, p.stride * h);
    for (uint32_t y = 0; y < h; y++)
        for (size_t i = 0; i < (size_t)w * ch; i++) {
            const uint16_t v = m->s[(size_t)y * w * ch + i];
            if (bps == 2) memcpy(b + y * p.stride + 2 * i, &v, 2);   /* host order */
            else b[y * p.stride + i] = (uint8_t)v;
        }
    p.data = b;
    if (k->ct == 3) {
        p.palette_size = k->npal;
        memcpy(p.palette, m->pal, sizeof p.palette);
        p.palette_alpha_count = k->ntrns;
        memcpy(p.palette_alpha, m->trns, sizeof p.palette_alpha);
    }
    if (k->key) {
        p.has_key = 1;
        memcpy(p.key, m->key, sizeof p.key);
    }
    *buf = b;
    return p;
}

Test(api, pixels_round_trip_every_kind)
{
    vdmzip_encoder *e = classical_encoder(0);
    vdmzip_decoder *d = plain_decoder();
    const uint32_t w = 13, h = 9;
    for (size_t i = 0; i < sizeof k_kinds / sizeof k_kinds[0]; i++) {
        const kind *k = &k_kinds[i];
        made m;
        make_kind(k, w, h, 100 + i, &m);
        void *buf;
        vdmzip_pixels p = pixels_of(k, &m, w, h, i % 3 == 0 ? 0 : 5, &buf);
        if (i % 3 == 0) p.stride = 0;   /* 0 = packed */
        void *vdz = NULL;
        size_t vn = 0;
        cr_assert_eq(vdmzip_encode_pixels(e, &p, &vdz, &vn), VDMZIP_OK, "kind %zu: %s", i,
                     vdmzip_encoder_error_detail(e));
        vdmzip_pixels *q = NULL;
        cr_assert_eq(vdmzip_decode_pixels(d, vdz, vn, &q), VDMZIP_OK, "kind %zu: %s", i,
                     vdmzip_decoder_error_detail(d));
        const unsigned ch = tu_channels(k->ct), bps = k->bd == 16 ? 2 : 1;
        cr_assert_eq(q->width, w);
        cr_assert_eq(q->height, h);
        cr_assert_eq(q->color_type, k->ct);
        cr_assert_eq(q->bit_depth, k->bd);
        cr_assert_eq(q->channels, (int)ch);
        cr_assert_eq(q->stride, (size_t)w * ch * bps);
        for (uint32_t y = 0; y < h; y++)
            for (size_t s = 0; s < (size_t)w * ch; s++) {
                uint16_t v;
                if (bps == 2) memcpy(&v, (const uint8_t *)q->data + y * q->stride + 2 * s, 2);
                else v = ((const uint8_t *)q->data)[y * q->stride + s];
                cr_assert_eq(v, m.s[(size_t)y * w * ch + s], "kind %zu sample %zu of row %u", i, s, y);
            }
        cr_assert_eq(q->palette_size, k->ct == 3 ? k->npal : 0);
        cr_assert_eq(memcmp(q->palette, m.pal, 3u * (unsigned)q->palette_size), 0);
        cr_assert_eq(q->palette_alpha_count, k->ntrns);
        cr_assert_eq(memcmp(q->palette_alpha, m.trns, (size_t)q->palette_alpha_count), 0);
        cr_assert_eq(q->has_key, k->key);
        if (k->key) cr_assert_eq(memcmp(q->key, m.key, (k->ct == 2 ? 3 : 1) * sizeof(uint16_t)), 0);
        /* and as a PNG: same colour type and depth, not interlaced */
        void *png = NULL;
        size_t pn = 0;
        cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &png, &pn), VDMZIP_OK);
        vdm_image *img = NULL;
        cr_assert_eq(vdm_png_read_mem(png, pn, &img), VDM_OK);
        cr_assert_eq(img->color_type, k->ct);
        cr_assert_eq(img->bit_depth, k->bd);
        cr_assert_eq(img->interlace, 0);
        cr_assert_eq(img->nchunks, 0);
        vdm_image_free(img);
        vdmzip_free(png);
        vdmzip_pixels_free(q);
        vdmzip_free(vdz);
        free(buf);
        free(m.s);
    }
    vdmzip_pixels_free(NULL);
    vdmzip_free(NULL);
    vdmzip_encoder_free(e);
    vdmzip_decoder_free(d);
}

Test(api, pixels_invalid)
{
    vdmzip_encoder *e = classical_encoder(0);
    made m;
    const kind rgb = { 2, 8, 0, 0, 0, 0 }, pal = { 3, 4, 0, 5, 2, 0 }, g4 = { 0, 4, 0, 0, 0, 0 };
    void *buf, *vdz = (void *)(uintptr_t)1;
    size_t vn = 7;
    make_kind(&rgb, 8, 8, 1, &m);
    vdmzip_pixels p = pixels_of(&rgb, &m, 8, 8, 0, &buf);
    struct { const char *what; vdmzip_pixels q; vdmzip_error want; } cases[24];
    int nc = 0;
#define CASE(w, field, val, err) do { cases[nc].what = w; cases[nc].q = p; cases[nc].q.field = val; cases[nc].want = err; nc++; } while (0)
    CASE("width 0", width, 0, VDMZIP_ERROR_ARGUMENT);
    CASE("height 0", height, 0, VDMZIP_ERROR_ARGUMENT);
    CASE("width 70000", width, 70000, VDMZIP_ERROR_LIMIT);
    CASE("huge", height, 1u << 24, VDMZIP_ERROR_LIMIT);
    CASE("colour type 1", color_type, 1, VDMZIP_ERROR_ARGUMENT);
    CASE("colour type 7", color_type, 7, VDMZIP_ERROR_ARGUMENT);
    CASE("colour type -1", color_type, -1, VDMZIP_ERROR_ARGUMENT);
    CASE("RGB 4-bit", bit_depth, 4, VDMZIP_ERROR_ARGUMENT);
    CASE("depth 0", bit_depth, 0, VDMZIP_ERROR_ARGUMENT);
    CASE("depth 12", bit_depth, 12, VDMZIP_ERROR_ARGUMENT);
    CASE("short stride", stride, 23, VDMZIP_ERROR_ARGUMENT);
    CASE("huge stride", stride, SIZE_MAX / 2, VDMZIP_ERROR_LIMIT);
    CASE("no data", data, NULL, VDMZIP_ERROR_ARGUMENT);
    CASE("palette 257", palette_size, 257, VDMZIP_ERROR_ARGUMENT);
    CASE("palette -1", palette_size, -1, VDMZIP_ERROR_ARGUMENT);
    CASE("alpha on RGB", palette_alpha_count, 0 + 1, VDMZIP_ERROR_ARGUMENT);
    for (int i = 0; i < nc; i++) {
        cr_assert_eq(vdmzip_encode_pixels(e, &cases[i].q, &vdz, &vn), cases[i].want, "%s: %s", cases[i].what,
                     vdmzip_encoder_error_detail(e));
        cr_assert_str_neq(vdmzip_encoder_error_detail(e), "", "%s: no detail", cases[i].what);
        cr_assert_eq(vdz, (void *)(uintptr_t)1);
        cr_assert_eq(vn, 7);
    }
    free(buf);
    free(m.s);
    /* palette: index >= palette_size; alpha count > palette size; a key on a palette */
    make_kind(&pal, 6, 5, 2, &m);
    vdmzip_pixels q = pixels_of(&pal, &m, 6, 5, 0, &buf);
    ((uint8_t *)buf)[3] = 5;
    cr_assert_eq(vdmzip_encode_pixels(e, &q, &vdz, &vn), VDMZIP_ERROR_ARGUMENT);
    ((uint8_t *)buf)[3] = 4;
    cr_assert_eq(vdmzip_encode_pixels(e, &q, &vdz, &vn), VDMZIP_OK);
    vdmzip_free(vdz);
    vdz = (void *)(uintptr_t)1;
    q.palette_alpha_count = 6;
    cr_assert_eq(vdmzip_encode_pixels(e, &q, &vdz, &vn), VDMZIP_ERROR_ARGUMENT);
    q.palette_alpha_count = 2;
    q.has_key = 1;
    cr_assert_eq(vdmzip_encode_pixels(e, &q, &vdz, &vn), VDMZIP_ERROR_ARGUMENT);
    q.has_key = 0;
    q.palette_size = 0;
    cr_assert_eq(vdmzip_encode_pixels(e, &q, &vdz, &vn), VDMZIP_ERROR_ARGUMENT);
    free(buf);
    free(m.s);
    /* low depth: a sample at 2^depth; a key out of range; a key on gray+alpha */
    make_kind(&g4, 6, 5, 3, &m);
    q = pixels_of(&g4, &m, 6, 5, 0, &buf);
    ((uint8_t *)buf)[7] = 16;
    cr_assert_eq(vdmzip_encode_pixels(e, &q, &vdz, &vn), VDMZIP_ERROR_ARGUMENT);
    ((uint8_t *)buf)[7] = 15;
    q.has_key = 1;
    q.key[0] = 16;
    cr_assert_eq(vdmzip_encode_pixels(e, &q, &vdz, &vn), VDMZIP_ERROR_ARGUMENT);
    q.key[0] = 15;
    cr_assert_eq(vdmzip_encode_pixels(e, &q, &vdz, &vn), VDMZIP_OK);
    vdmzip_free(vdz);
    vdz = (void *)(uintptr_t)1;
    q.color_type = VDMZIP_COLOR_GRAY_ALPHA;
    q.bit_depth = 8;
    q.stride = 12;
    cr_assert_eq(vdmzip_encode_pixels(e, &q, &vdz, &vn), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdz, (void *)(uintptr_t)1);
    free(buf);
    free(m.s);
    vdmzip_encoder_free(e);
}

/* ---- the model ------------------------------------------------------------------- */

/* The default weights with one weight changed and the trailer fixed: a valid
 * model with another id. */
static vdmzip_model *wrong_model(void)
{
    size_t n;
    uint8_t *b = slurp(MODEL_PATH, &n);
    b[n / 2] ^= 0x01;   /* a low bit of some weight in the middle of the net */
    vdm_sha256(b + n - 32, b, n - 32);
    vdmzip_model *m = NULL;
    cr_assert_eq(vdmzip_model_load_memory(b, n, &m), VDMZIP_OK);
    free(b);
    return m;
}

static void *model_file(vdmzip_model *m, size_t *vn, const vdmzip_options *extra)
{
    vdmzip_options o;
    vdmzip_options_init(&o);
    o.mode = VDMZIP_MODE_MODEL;
    if (extra) o = *extra;
    vdmzip_encoder *e = NULL;
    cr_assert_eq(vdmzip_encoder_create(m, &o, &e), VDMZIP_OK);
    size_t pn;
    uint8_t *png = slurp(VEC("model_80x72.png"), &pn);
    void *vdz = NULL;
    cr_assert_eq(vdmzip_encode_png(e, png, pn, &vdz, vn), VDMZIP_OK, "%s", vdmzip_encoder_error_detail(e));
    vdmzip_stats s;
    s.size = sizeof s;
    cr_assert_eq(vdmzip_encoder_stats(e, &s), VDMZIP_OK);
    cr_assert_eq(s.used_model, 1);
    cr_assert_gt(s.model_bytes, 0);
    cr_assert_eq(s.model_subpixels + 0, s.model_subpixels);
    cr_assert_gt(s.model_subpixels + s.cm_tiles, 0);
    cr_assert_eq(s.model_tried, 1);
    cr_assert_eq(s.file_bytes, *vn);
    free(png);
    vdmzip_encoder_free(e);
    return vdz;
}

Test(api, model_round_trip_and_mismatch)
{
    vdmzip_model *m = load_model();
    size_t vn;
    void *vdz = model_file(m, &vn, NULL);
    uint8_t id[32];
    vdmzip_model_id(m, id);
    vdmzip_info info;
    cr_assert_eq(vdmzip_get_info(vdz, vn, &info), VDMZIP_OK);
    cr_assert_eq(info.needs_model, 1);
    cr_assert_eq(memcmp(info.model_id, id, 32), 0);
    cr_assert_eq(info.width, 80);
    cr_assert_eq(info.height, 72);

    vdmzip_decoder *d = NULL;
    cr_assert_eq(vdmzip_decoder_create(m, NULL, &d), VDMZIP_OK);
    void *png = NULL;
    size_t pn = 0;
    cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &png, &pn), VDMZIP_OK, "%s", vdmzip_decoder_error_detail(d));
    size_t on;
    uint8_t *orig = slurp(VEC("model_80x72.png"), &on);
    assert_same_png(orig, on, png, pn);
    vdmzip_free(png);
    vdmzip_decoder_free(d);

    /* no model */
    d = plain_decoder();
    png = (void *)(uintptr_t)1;
    cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &png, &pn), VDMZIP_ERROR_MODEL_MISMATCH);
    cr_assert_eq(png, (void *)(uintptr_t)1);
    cr_assert_str_neq(vdmzip_decoder_error_detail(d), "");
    vdmzip_pixels *px = NULL;
    cr_assert_eq(vdmzip_decode_pixels(d, vdz, vn, &px), VDMZIP_ERROR_MODEL_MISMATCH);
    cr_assert_null(px);
    vdmzip_decoder_free(d);

    /* another model */
    vdmzip_model *w = wrong_model();
    uint8_t wid[32];
    vdmzip_model_id(w, wid);
    cr_assert_neq(memcmp(wid, id, 32), 0);
    cr_assert_eq(vdmzip_decoder_create(w, NULL, &d), VDMZIP_OK);
    cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &png, &pn), VDMZIP_ERROR_MODEL_MISMATCH);
    cr_assert_eq(png, (void *)(uintptr_t)1);
    vdmzip_decoder_free(d);
    vdmzip_model_free(w);

    /* the classical mode and a file that needs no model ignore the model */
    vdmzip_options o;
    vdmzip_options_init(&o);
    o.mode = VDMZIP_MODE_CLASSICAL;
    o.effort = 0;
    vdmzip_encoder *e = NULL;
    cr_assert_eq(vdmzip_encoder_create(m, &o, &e), VDMZIP_OK);
    void *c = NULL;
    size_t cn = 0;
    cr_assert_eq(vdmzip_encode_png(e, orig, on, &c, &cn), VDMZIP_OK);
    vdmzip_stats s;
    s.size = sizeof s;
    cr_assert_eq(vdmzip_encoder_stats(e, &s), VDMZIP_OK);
    cr_assert_eq(s.used_model, 0);
    cr_assert_eq(s.model_tried, 0);
    cr_assert_eq(vdmzip_get_info(c, cn, &info), VDMZIP_OK);
    cr_assert_eq(info.needs_model, 0);
    cr_assert_eq(vdmzip_decoder_create(m, NULL, &d), VDMZIP_OK);
    cr_assert_eq(vdmzip_decode_png(d, c, cn, &png, &pn), VDMZIP_OK);
    assert_same_png(orig, on, png, pn);
    vdmzip_free(png);
    vdmzip_free(c);
    vdmzip_decoder_free(d);
    vdmzip_encoder_free(e);
    free(orig);
    vdmzip_free(vdz);
    vdmzip_model_free(m);
}

/* ---- files ------------------------------------------------------------------------ */

static int same_file(const char *path, const void *data, size_t n)
{
    size_t k;
    uint8_t *b = tu_read_file(path, &k);
    int same = b && k == n && !memcmp(b, data, n);
    free(b);
    return same;
}

Test(api, files)
{
    char *dir = tu_tmpdir("api_files");
    cr_assert_not_null(dir);
    char in[512], out[512], back[512], bad[512];
    snprintf(in, sizeof in, "%s/in.png", dir);
    snprintf(out, sizeof out, "%s/out.vdz", dir);
    snprintf(back, sizeof back, "%s/back.png", dir);
    snprintf(bad, sizeof bad, "%s/bad.png", dir);
    size_t pn;
    uint8_t *png = slurp(VEC("v1_pal4_meta.png"), &pn);
    cr_assert_eq(tu_write_file(in, png, pn), 0);

    vdmzip_encoder *e = classical_encoder(0);
    vdmzip_decoder *d = plain_decoder();
    cr_assert_eq(vdmzip_encode_file(e, in, out, 0), VDMZIP_OK, "%s", vdmzip_encoder_error_detail(e));
    size_t vn;
    uint8_t *vdz = tu_read_file(out, &vn);
    cr_assert_not_null(vdz);
    vdmzip_stats s;
    s.size = sizeof s;
    cr_assert_eq(vdmzip_encoder_stats(e, &s), VDMZIP_OK);
    cr_assert_eq(s.file_bytes, vn);
    cr_assert_eq(vdmzip_decode_file(d, out, back, 0), VDMZIP_OK, "%s", vdmzip_decoder_error_detail(d));
    size_t bn;
    uint8_t *bk = tu_read_file(back, &bn);
    assert_same_png(png, pn, bk, bn);
    free(bk);
    cr_assert_eq(tu_count_entries(dir), 3);

    /* overwrite refused: the existing file is untouched */
    static const char sentinel[] = "do not touch";
    cr_assert_eq(tu_write_file(out, sentinel, sizeof sentinel), 0);
    cr_assert_eq(vdmzip_encode_file(e, in, out, 0), VDMZIP_ERROR_EXISTS);
    cr_assert_str_neq(vdmzip_encoder_error_detail(e), "");
    cr_assert(same_file(out, sentinel, sizeof sentinel));
    cr_assert_eq(tu_write_file(back, sentinel, sizeof sentinel), 0);
    cr_assert_eq(tu_write_file(bad, vdz, vn), 0);
    cr_assert_eq(vdmzip_decode_file(d, bad, back, 0), VDMZIP_ERROR_EXISTS);
    cr_assert(same_file(back, sentinel, sizeof sentinel));
    /* ... and replaced when asked */
    cr_assert_eq(vdmzip_encode_file(e, in, out, 1), VDMZIP_OK);
    cr_assert(same_file(out, vdz, vn));
    cr_assert_eq(vdmzip_decode_file(d, out, back, 1), VDMZIP_OK);
    cr_assert_eq(tu_count_entries(dir), 4);

    /* failures leave no output and no temporary file */
    static const char junk[] = "\x89PNG\r\n\x1a\nnot really a png at all";
    cr_assert_eq(tu_write_file(bad, junk, sizeof junk), 0);
    char none[512];
    snprintf(none, sizeof none, "%s/none.out", dir);
    cr_assert_neq(vdmzip_encode_file(e, bad, none, 0), VDMZIP_OK);
    cr_assert_not(tu_exists(none));
    cr_assert_neq(vdmzip_decode_file(d, bad, none, 1), VDMZIP_OK);
    cr_assert_not(tu_exists(none));
    vdz[vn / 2] ^= 0x40;
    cr_assert_eq(tu_write_file(bad, vdz, vn), 0);
    cr_assert_neq(vdmzip_decode_file(d, bad, none, 0), VDMZIP_OK);
    cr_assert_not(tu_exists(none));
    cr_assert_eq(vdmzip_encode_file(e, "/nonexistent/in.png", none, 0), VDMZIP_ERROR_IO);
    cr_assert_eq(vdmzip_decode_file(d, "/nonexistent/in.vdz", none, 0), VDMZIP_ERROR_IO);
    cr_assert_eq(vdmzip_encode_file(e, dir, none, 0), VDMZIP_ERROR_IO);   /* a folder as input */
    cr_assert_not(tu_exists(none));
    /* an output folder that does not exist; an output that is a folder */
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/missing/x.vdz", dir);
    cr_assert_eq(vdmzip_encode_file(e, in, nodir, 0), VDMZIP_ERROR_IO);
    cr_assert_eq(vdmzip_encode_file(e, in, dir, 1), VDMZIP_ERROR_IO);
    cr_assert_eq(vdmzip_encode_file(e, in, dir, 0), VDMZIP_ERROR_EXISTS);
    cr_assert_eq(tu_count_entries(dir), 4, "a temporary file was left behind");

    cr_assert_eq(vdmzip_encode_file(e, NULL, out, 0), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_file(e, in, NULL, 0), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_file(e, in, "", 0), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_file(NULL, in, out, 0), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_file(d, NULL, back, 0), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_file(d, out, NULL, 0), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_file(NULL, out, back, 0), VDMZIP_ERROR_ARGUMENT);
    free(vdz);
    free(png);
    vdmzip_encoder_free(e);
    vdmzip_decoder_free(d);
    tu_rmtree(dir);
    free(dir);
}

/* ---- damaged input ---------------------------------------------------------------- */

Test(api, corrupt_input)
{
    vdmzip_decoder *d = plain_decoder();
    size_t n;
    uint8_t *vdz = slurp(VEC("v1_pal4_meta.vdz"), &n);
    vdmzip_info info;
    cr_assert_eq(vdmzip_get_info(vdz, n, &info), VDMZIP_OK);
    uint8_t *cp = malloc(n);
    for (size_t k = 0; k < n; k++) {   /* every truncation */
        memcpy(cp, vdz, k);
        void *png = NULL;
        size_t pn = 0;
        vdmzip_error e = vdmzip_decode_png(d, k ? cp : vdz, k, &png, &pn);
        cr_assert_neq(e, VDMZIP_OK, "truncated to %zu", k);
        cr_assert_null(png);
        cr_assert_neq(vdmzip_get_info(k ? cp : vdz, k, &info), VDMZIP_OK);
    }
    for (size_t k = 0; k < n; k++) {   /* a flipped bit in every byte */
        memcpy(cp, vdz, n);
        cp[k] ^= (uint8_t)(1u << (k % 8));
        void *png = NULL;
        size_t pn = 0;
        vdmzip_error e = vdmzip_decode_png(d, cp, n, &png, &pn);
        cr_assert_neq(e, VDMZIP_OK, "bit flip at %zu", k);
        cr_assert_null(png);
        cr_assert_str_neq(vdmzip_decoder_error_detail(d), "");
        vdmzip_pixels *px = NULL;
        cr_assert_neq(vdmzip_decode_pixels(d, cp, n, &px), VDMZIP_OK);
        cr_assert_null(px);
    }
    /* the stored damaged vectors */
    static const char *const bad[] = { "bad_crc.vdz", "bad_dims.vdz", "bad_pixels.vdz", "bad_section.vdz",
                                       "bad_trailing.vdz", "bad_truncated.vdz", "bad_version.vdz" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p[512];
        snprintf(p, sizeof p, VDM_SOURCE_DIR "/tests/vectors/%s", bad[i]);
        size_t bn;
        uint8_t *b = slurp(p, &bn);
        void *png = NULL;
        size_t pn;
        cr_assert_neq(vdmzip_decode_png(d, b, bn, &png, &pn), VDMZIP_OK, "%s", bad[i]);
        free(b);
    }
    /* a PNG given to the decoder and a .vdz given to the encoder */
    size_t pn;
    uint8_t *png = slurp(VEC("v1_pal4_meta.png"), &pn);
    void *o = NULL;
    size_t on;
    cr_assert_eq(vdmzip_decode_png(d, png, pn, &o, &on), VDMZIP_ERROR_FORMAT);
    cr_assert_eq(vdmzip_get_info(png, pn, &info), VDMZIP_ERROR_FORMAT);
    vdmzip_encoder *e = classical_encoder(0);
    cr_assert_eq(vdmzip_encode_png(e, vdz, n, &o, &on), VDMZIP_ERROR_FORMAT);
    cr_assert_neq(vdmzip_encode_png(e, png, pn / 2, &o, &on), VDMZIP_OK);
    cr_assert_null(o);
    vdmzip_encoder_free(e);
    free(png);
    free(cp);
    free(vdz);
    vdmzip_decoder_free(d);
}

/* ---- cancellation ------------------------------------------------------------------ */

typedef struct { int calls, cancel_at; double last; int bad_order; } prog;
static int on_progress(void *user, double f)
{
    prog *p = user;
    if (f < p->last - 1e-12 || f < 0 || f > 1) p->bad_order = 1;
    p->last = f;
    return ++p->calls >= p->cancel_at;
}

Test(api, cancel)
{
    size_t pn;
    uint8_t *png = slurp(VEC("v1_rgb8.png"), &pn);
    prog p = { 0, 1000000, 0, 0 };
    vdmzip_options o;
    vdmzip_options_init(&o);
    o.mode = VDMZIP_MODE_CLASSICAL;
    o.progress = on_progress;
    o.progress_user = &p;
    vdmzip_encoder *e = NULL;
    cr_assert_eq(vdmzip_encoder_create(NULL, &o, &e), VDMZIP_OK);
    void *vdz = NULL;
    size_t vn = 0;
    cr_assert_eq(vdmzip_encode_png(e, png, pn, &vdz, &vn), VDMZIP_OK);
    cr_assert_gt(p.calls, 0);
    cr_assert_not(p.bad_order);
    cr_assert_float_eq(p.last, 1.0, 1e-12);
    const int total = p.calls;
    vdmzip_encoder_free(e);

    /* cancel at the first call, in the middle, at the last */
    const int at[] = { 1, total / 2 > 1 ? total / 2 : 1, total };
    for (int i = 0; i < 3; i++) {
        p = (prog){ 0, at[i], 0, 0 };
        cr_assert_eq(vdmzip_encoder_create(NULL, &o, &e), VDMZIP_OK);
        void *x = (void *)(uintptr_t)1;
        size_t xn = 5;
        cr_assert_eq(vdmzip_encode_png(e, png, pn, &x, &xn), VDMZIP_ERROR_CANCELLED, "at call %d", at[i]);
        cr_assert_eq(p.calls, at[i], "went on after cancelling");
        cr_assert_eq(x, (void *)(uintptr_t)1);
        cr_assert_eq(xn, 5);
        vdmzip_stats s;
        s.size = sizeof s;
        cr_assert_eq(vdmzip_encoder_stats(e, &s), VDMZIP_ERROR_ARGUMENT, "no successful encode yet");
        vdmzip_encoder_free(e);
    }

    /* encode_file writes nothing */
    char *dir = tu_tmpdir("api_cancel");
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/in.png", dir);
    snprintf(out, sizeof out, "%s/out.vdz", dir);
    cr_assert_eq(tu_write_file(in, png, pn), 0);
    p = (prog){ 0, 1, 0, 0 };
    cr_assert_eq(vdmzip_encoder_create(NULL, &o, &e), VDMZIP_OK);
    cr_assert_eq(vdmzip_encode_file(e, in, out, 1), VDMZIP_ERROR_CANCELLED);
    cr_assert_not(tu_exists(out));
    cr_assert_eq(tu_count_entries(dir), 1);
    vdmzip_encoder_free(e);

    /* decoding */
    vdmzip_decoder *d = NULL;
    p = (prog){ 0, 1000000, 0, 0 };
    cr_assert_eq(vdmzip_decoder_create(NULL, &o, &d), VDMZIP_OK);
    void *back = NULL;
    size_t bn;
    cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &back, &bn), VDMZIP_OK);
    vdmzip_free(back);
    cr_assert_gt(p.calls, 0);
    cr_assert_not(p.bad_order);
    p = (prog){ 0, 1, 0, 0 };
    back = NULL;
    cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &back, &bn), VDMZIP_ERROR_CANCELLED);
    cr_assert_null(back);
    cr_assert_eq(p.calls, 1);
    p = (prog){ 0, 1, 0, 0 };
    vdmzip_pixels *px = NULL;
    cr_assert_eq(vdmzip_decode_pixels(d, vdz, vn, &px), VDMZIP_ERROR_CANCELLED);
    cr_assert_null(px);
    cr_assert_eq(tu_write_file(in, vdz, vn), 0);
    p = (prog){ 0, 1, 0, 0 };
    cr_assert_eq(vdmzip_decode_file(d, in, out, 0), VDMZIP_ERROR_CANCELLED);
    cr_assert_not(tu_exists(out));
    cr_assert_eq(tu_count_entries(dir), 1);
    vdmzip_decoder_free(d);
    tu_rmtree(dir);
    free(dir);
    vdmzip_free(vdz);
    free(png);
}

Test(api, cancel_model)
{
    vdmzip_model *m = load_model();
    prog p = { 0, 1000000, 0, 0 };
    vdmzip_options o;
    vdmzip_options_init(&o);
    o.mode = VDMZIP_MODE_MODEL;
    o.progress = on_progress;
    o.progress_user = &p;
    size_t vn;
    void *vdz = model_file(m, &vn, &o);
    const int total = p.calls;
    cr_assert_gt(total, 2);
    size_t pn;
    uint8_t *png = slurp(VEC("model_80x72.png"), &pn);
    const int ats[3] = { 1, (total + 1) / 2, total };
    for (int i = 0; i < 3; i++) {
        const int at = ats[i];
        p = (prog){ 0, at, 0, 0 };
        vdmzip_encoder *e = NULL;
        cr_assert_eq(vdmzip_encoder_create(m, &o, &e), VDMZIP_OK);
        void *x = NULL;
        size_t xn;
        cr_assert_eq(vdmzip_encode_png(e, png, pn, &x, &xn), VDMZIP_ERROR_CANCELLED, "at %d of %d", at, total);
        cr_assert_eq(p.calls, at);
        cr_assert_null(x);
        vdmzip_encoder_free(e);
    }
    /* decoding through the model: every call may cancel */
    vdmzip_decoder *d = NULL;
    p = (prog){ 0, 1000000, 0, 0 };
    cr_assert_eq(vdmzip_decoder_create(m, &o, &d), VDMZIP_OK);
    void *back = NULL;
    size_t bn;
    cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &back, &bn), VDMZIP_OK);
    vdmzip_free(back);
    const int dtotal = p.calls;
    cr_assert_gt(dtotal, 2, "the model's decode reports progress");
    for (int at = 1; at <= dtotal; at++) {
        p = (prog){ 0, at, 0, 0 };
        back = NULL;
        cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &back, &bn), VDMZIP_ERROR_CANCELLED, "at %d", at);
        cr_assert_eq(p.calls, at);
        cr_assert_null(back);
    }
    vdmzip_decoder_free(d);
    vdmzip_free(vdz);
    free(png);
    /* AUTO with the estimate: one monotonic progress from 0 to 1 */
    png = slurp(VEC("model_rgba_37x23.png"), &pn);
    o.mode = VDMZIP_MODE_AUTO;
    vdmzip_encoder *e = NULL;
    cr_assert_eq(vdmzip_encoder_create(m, &o, &e), VDMZIP_OK);
    p = (prog){ 0, 1000000, 0, 0 };
    cr_assert_eq(vdmzip_encode_png(e, png, pn, &vdz, &vn), VDMZIP_OK);
    vdmzip_stats s;
    s.size = sizeof s;
    cr_assert_eq(vdmzip_encoder_stats(e, &s), VDMZIP_OK);
    cr_assert_eq(s.model_estimated, 1);
    cr_assert_not(p.bad_order, "progress went back");
    cr_assert_float_eq(p.last, 1.0, 1e-12);
    vdmzip_encoder_free(e);
    vdmzip_free(vdz);
    free(png);
    vdmzip_model_free(m);
}

/* ---- two threads sharing one model --------------------------------------------------- */

typedef struct {
    const vdmzip_model *m;
    const uint8_t *png;
    size_t pn;
    int mode, rounds;
    void *vdz;
    size_t vn;
    int ok;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    vdmzip_options o;
    vdmzip_options_init(&o);
    o.mode = j->mode;
    o.model_try = 1;
    vdmzip_encoder *e = NULL;
    vdmzip_decoder *d = NULL;
    j->ok = vdmzip_encoder_create(j->m, &o, &e) == VDMZIP_OK && vdmzip_decoder_create(j->m, &o, &d) == VDMZIP_OK;
    for (int r = 0; r < j->rounds && j->ok; r++) {
        void *v = NULL, *back = NULL;
        size_t vn = 0, bn = 0;
        j->ok = vdmzip_encode_png(e, j->png, j->pn, &v, &vn) == VDMZIP_OK &&
                vdmzip_decode_png(d, v, vn, &back, &bn) == VDMZIP_OK;
        if (j->ok && j->vdz) j->ok = vn == j->vn && !memcmp(v, j->vdz, vn);
        if (j->ok && !j->vdz) { j->vdz = v; j->vn = vn; v = NULL; }
        vdmzip_free(v);
        vdmzip_free(back);
    }
    vdmzip_encoder_free(e);
    vdmzip_decoder_free(d);
    return NULL;
}

Test(api, threads_share_model)
{
    vdmzip_model *m = load_model();
    size_t an, bn;
    uint8_t *a = slurp(VEC("model_80x72.png"), &an);
    uint8_t *b = slurp(VEC("model_rgba_37x23.png"), &bn);
    /* single-threaded reference */
    job ref[2] = { { m, a, an, VDMZIP_MODE_MODEL, 1, NULL, 0, 0 }, { m, b, bn, VDMZIP_MODE_AUTO, 1, NULL, 0, 0 } };
    run_job(&ref[0]);
    run_job(&ref[1]);
    cr_assert(ref[0].ok && ref[1].ok);
    vdmzip_info info;
    cr_assert_eq(vdmzip_get_info(ref[0].vdz, ref[0].vn, &info), VDMZIP_OK);
    cr_assert_eq(info.needs_model, 1);
    /* both at once (the small one twice: its context's second use overlaps
     * the other's first), same bytes */
    job j[2] = { { m, a, an, VDMZIP_MODE_MODEL, 1, ref[0].vdz, ref[0].vn, 0 },
                 { m, b, bn, VDMZIP_MODE_AUTO, 3, ref[1].vdz, ref[1].vn, 0 } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&t[i], NULL, run_job, &j[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    cr_assert(j[0].ok, "thread 0 failed or made other bytes");
    cr_assert(j[1].ok, "thread 1 failed or made other bytes");
    vdmzip_free(ref[0].vdz);
    vdmzip_free(ref[1].vdz);
    free(a);
    free(b);
    vdmzip_model_free(m);
}

/* The GPU never changes a byte: in a build without CUDA the device is
 * refused (UNSUPPORTED), on a machine without a GPU too (DEVICE); with one,
 * contexts made after set_device code on it (each its own GPU context) and
 * write the CPU's bytes, also two at once. */
Test(api, device)
{
    vdmzip_model *m = load_model();
    const vdmzip_error e = vdmzip_model_set_device(m, VDMZIP_DEVICE_CUDA);
    if (e != VDMZIP_OK) {
        cr_assert(e == VDMZIP_ERROR_UNSUPPORTED || e == VDMZIP_ERROR_DEVICE, "%s", vdmzip_error_string(e));
        vdmzip_model_free(m);
        return;
    }
    vdmzip_model *cpu = load_model();
    size_t an;
    uint8_t *a = slurp(VEC("model_80x72.png"), &an);
    job ref = { cpu, a, an, VDMZIP_MODE_MODEL, 1, NULL, 0, 0 };
    run_job(&ref);
    cr_assert(ref.ok);
    job j[2] = { { m, a, an, VDMZIP_MODE_MODEL, 1, ref.vdz, ref.vn, 0 },
                 { m, a, an, VDMZIP_MODE_MODEL, 1, ref.vdz, ref.vn, 0 } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&t[i], NULL, run_job, &j[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    cr_assert(j[0].ok && j[1].ok, "the GPU made other bytes or failed");
    cr_assert_eq(vdmzip_model_set_device(m, VDMZIP_DEVICE_CPU), VDMZIP_OK);
    vdmzip_free(ref.vdz);
    free(a);
    vdmzip_model_free(cpu);
    vdmzip_model_free(m);
}

/* ---- get_info and NULL arguments ------------------------------------------------------- */

Test(api, get_info)
{
    size_t n;
    uint8_t *v = slurp(VEC("v1_gray16.vdz"), &n);
    vdmzip_info info;
    memset(&info, 0xEE, sizeof info);
    cr_assert_eq(vdmzip_get_info(v, n, &info), VDMZIP_OK);
    cr_assert_eq(info.color_type, VDMZIP_COLOR_GRAY);
    cr_assert_eq(info.bit_depth, 16);
    cr_assert_eq(info.channels, 1);
    cr_assert_eq(info.needs_model, 0);
    for (int i = 0; i < 32; i++) cr_assert_eq(info.model_id[i], 0);
    free(v);
    v = slurp(VEC("needs_model.vdz"), &n);
    cr_assert_eq(vdmzip_get_info(v, n, &info), VDMZIP_OK);
    cr_assert_eq(info.needs_model, 1);
    free(v);
    static const uint8_t junk[40] = { 1, 2, 3 };
    vdmzip_info keep;
    memset(&keep, 0x11, sizeof keep);
    info = keep;
    cr_assert_eq(vdmzip_get_info(junk, sizeof junk, &info), VDMZIP_ERROR_FORMAT);
    cr_assert_eq(memcmp(&info, &keep, sizeof info), 0, "output set on failure");
    cr_assert_neq(vdmzip_get_info(junk, 0, &info), VDMZIP_OK);
    cr_assert_eq(vdmzip_get_info(NULL, 10, &info), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_get_info(junk, sizeof junk, NULL), VDMZIP_ERROR_ARGUMENT);
}

Test(api, null_arguments)
{
    vdmzip_encoder *e = classical_encoder(0);
    vdmzip_decoder *d = plain_decoder();
    size_t pn, vn;
    uint8_t *png = slurp(VEC("v1_gray1_1x1.png"), &pn);
    uint8_t *vdz = slurp(VEC("v1_gray1_1x1.vdz"), &vn);
    void *o = NULL;
    size_t on;
    vdmzip_pixels *px = NULL;
    vdmzip_pixels pix;
    memset(&pix, 0, sizeof pix);
    vdmzip_stats s;
    s.size = sizeof s;

    cr_assert_eq(vdmzip_encoder_create(NULL, NULL, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decoder_create(NULL, NULL, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_png(NULL, png, pn, &o, &on), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_png(e, NULL, pn, &o, &on), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_png(e, png, pn, NULL, &on), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_png(e, png, pn, &o, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_pixels(NULL, &pix, &o, &on), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_pixels(e, NULL, &o, &on), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_pixels(e, &pix, NULL, &on), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_pixels(e, &pix, &o, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encode_pixels(e, &pix, &o, &on), VDMZIP_ERROR_ARGUMENT);   /* all zero */
    cr_assert_eq(vdmzip_encoder_stats(NULL, &s), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_encoder_stats(e, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_png(NULL, vdz, vn, &o, &on), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_png(d, NULL, vn, &o, &on), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_png(d, vdz, vn, NULL, &on), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_png(d, vdz, vn, &o, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_pixels(NULL, vdz, vn, &px), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_pixels(d, NULL, vn, &px), VDMZIP_ERROR_ARGUMENT);
    cr_assert_eq(vdmzip_decode_pixels(d, vdz, vn, NULL), VDMZIP_ERROR_ARGUMENT);
    cr_assert_null(o);
    cr_assert_null(px);
    cr_assert_str_eq(vdmzip_encoder_error_detail(NULL), "");
    cr_assert_str_eq(vdmzip_decoder_error_detail(NULL), "");
    cr_assert_str_neq(vdmzip_decoder_error_detail(d), "");   /* the last call failed */
    /* empty input */
    cr_assert_neq(vdmzip_encode_png(e, png, 0, &o, &on), VDMZIP_OK);
    cr_assert_neq(vdmzip_decode_png(d, vdz, 0, &o, &on), VDMZIP_OK);
    /* the contexts still work after all that */
    cr_assert_eq(vdmzip_encode_png(e, png, pn, &o, &on), VDMZIP_OK);
    cr_assert_str_eq(vdmzip_encoder_error_detail(e), "");
    vdmzip_free(o);
    cr_assert_eq(vdmzip_decode_pixels(d, vdz, vn, &px), VDMZIP_OK);
    cr_assert_eq(px->width, 1);
    cr_assert_eq(px->bit_depth, 1);
    vdmzip_pixels_free(px);
    vdmzip_encoder_free(NULL);
    vdmzip_decoder_free(NULL);
    vdmzip_model_free(NULL);
    vdmzip_encoder_free(e);
    vdmzip_decoder_free(d);
    free(png);
    free(vdz);
}
