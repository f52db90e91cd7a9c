/* test_codec_vectors.c — golden .vdz files (tests/vectors/README.md): every
 * build must reproduce the valid ones byte for byte and decode them, and
 * must reject the invalid ones with the documented error.  Running this test
 * in differently built trees (gcc -O0 with sanitizers, gcc -O3, clang) is the
 * determinism guard of DESIGN.md for the classical path. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <zstd.h>

#include "codec/png_io.h"
#include "codec/vdz.h"
#include "codec_testutil.h"

#define VEC VDM_SOURCE_DIR "/tests/vectors/"
#define VECTORS_ZSTD_VERSION 10504   /* libzstd that wrote the zstd vectors */

static uint8_t *load(const char *name, size_t *n)
{
    char path[1024];
    snprintf(path, sizeof path, VEC "%s", name);
    uint8_t *d = tu_read_file(path, n);
    cr_assert_not_null(d, "missing vector %s", path);
    return d;
}

static int same(const vdm_image *a, const vdm_image *b)
{
    if (a->width != b->width || a->height != b->height || a->color_type != b->color_type ||
        a->bit_depth != b->bit_depth || a->interlace != b->interlace ||
        a->palette_size != b->palette_size || a->trns_count != b->trns_count || a->nchunks != b->nchunks)
        return 0;
    if (memcmp(a->data, b->data, (size_t)vdm_image_sample_bytes(a->width, a->height, a->channels, a->bit_depth)) ||
        memcmp(a->palette, b->palette, 3u * a->palette_size))
        return 0;
    for (uint32_t i = 0; i < a->nchunks; i++)
        if (strcmp(a->chunks[i].name, b->chunks[i].name) || a->chunks[i].size != b->chunks[i].size ||
            a->chunks[i].location != b->chunks[i].location ||
            (a->chunks[i].size && memcmp(a->chunks[i].data, b->chunks[i].data, a->chunks[i].size)))
            return 0;
    return 1;
}

Test(codec_vectors, valid_vectors_reencode_bytewise_and_decode)
{
    /* name, source PNG, encoder effort, cm_method option, uses zstd */
    static const struct { const char *name, *png; int effort, cm_method, uses_zstd; } v[] = {
        { "v1_rgb8", "v1_rgb8", 1, 0, 0 },          /* method 9 (CM9) */
        { "v1_rgb8_m8", "v1_rgb8", 1, 8, 0 },       /* method 8 (CM8), still written on request */
        { "v1_rgb8_m7", "v1_rgb8", 1, 7, 0 },       /* method 7 (CM7), still written on request */
        { "v1_rgb8_m6", "v1_rgb8", 1, 6, 0 },       /* method 6 (CM6), still written on request */
        { "v1_rgb8_m5", "v1_rgb8", 1, 5, 0 },       /* method 5 (CM5), still written on request */
        { "v1_rgb8_m2", "v1_rgb8", 0, 0, 0 },       /* method 2 (effort 0) */
        { "v1_rgb8_m4", "v1_rgb8", 1, 4, 0 },       /* method 4 (CM4), still written on request */
        { "v1_rgba8_flat", "v1_rgba8_flat", 1, 0, 1 }, { "v1_pal4_meta", "v1_pal4_meta", 1, 0, 1 },
        { "v1_gray16", "v1_gray16", 1, 0, 0 }, { "v1_gray1_1x1", "v1_gray1_1x1", 1, 0, 0 },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char name[128];
        size_t pn, vn;
        snprintf(name, sizeof name, "%s.png", v[i].png);
        uint8_t *png = load(name, &pn);
        snprintf(name, sizeof name, "%s.vdz", v[i].name);
        uint8_t *vdz = load(name, &vn);
        vdm_image *img = NULL, *dec = NULL;
        cr_assert_eq(vdm_png_read_mem(png, pn, &img), VDM_OK);
        uint8_t *enc;
        size_t en;
        vdm_encode_opts eo;
        vdm_encode_opts_default(&eo);
        eo.effort = v[i].effort;
        eo.cm_method = v[i].cm_method;
        cr_assert_eq(vdm_vdz_encode(img, &eo, &enc, &en, NULL), VDM_OK);
        int equal = en == vn && !memcmp(enc, vdz, vn);
        if (!v[i].uses_zstd || ZSTD_versionNumber() == VECTORS_ZSTD_VERSION)
            cr_assert(equal, "%s: this build writes other bytes (%zu vs %zu) — determinism broken", v[i].name, en, vn);
        else if (!equal)
            cr_log_warn("%s: bytes differ under libzstd %u (vectors: %u); decoding still checked", v[i].name,
                        ZSTD_versionNumber(), VECTORS_ZSTD_VERSION);
        cr_assert_eq(vdm_vdz_decode(vdz, vn, NULL, &dec), VDM_OK, "%s: %s", v[i].name, vdm_codec_last_error());
        cr_assert(same(img, dec), "%s decodes to other pixels or metadata", v[i].name);
        vdm_image_free(img);
        vdm_image_free(dec);
        free(enc);
        free(png);
        free(vdz);
    }
}

/* Files of methods no longer written by default still decode: v1_rgb8_m3
 * is v1_rgb8 as sessions 2-3 wrote it (classical method 3), v1_rgb8_m4 as
 * sessions 4-5 wrote it (method 4, CM4, the default until method 5),
 * v1_rgb8_m5 as sessions 6-7 wrote it (method 5, the default until method
 * 6), v1_rgb8_m6 as session 8 wrote it (method 6, the default until method
 * 7), v1_rgb8_m7 as session 9 wrote it (method 7, the default until method
 * 8), v1_rgb8_m8 as session 10 wrote it (method 8, the default until method
 * 9).  The list also pins each v1_rgb8 file's method (v1_rgb8 itself:
 * method 9). */
Test(codec_vectors, older_method_vectors_still_decode)
{
    static const char *names[] = { "v1_rgb8_m3.vdz", "v1_rgb8_m2.vdz", "v1_rgb8_m4.vdz", "v1_rgb8_m5.vdz",
                                   "v1_rgb8_m6.vdz", "v1_rgb8_m7.vdz", "v1_rgb8_m8.vdz", "v1_rgb8.vdz" };
    static const int methods[] = { 3, 2, 4, 5, 6, 7, 8, 9 };
    size_t pn;
    uint8_t *png = load("v1_rgb8.png", &pn);
    vdm_image *ref;
    cr_assert_eq(vdm_png_read_mem(png, pn, &ref), VDM_OK);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n;
        uint8_t *d = load(names[i], &n);
        vdm_vdz_info info;
        cr_assert_eq(vdm_vdz_probe(d, n, &info), VDM_OK);
        cr_assert_eq(info.classical[0].method, methods[i], "%s", names[i]);
        vdm_image *x = NULL;
        cr_assert_eq(vdm_vdz_decode(d, n, NULL, &x), VDM_OK, "%s: %s", names[i], vdm_codec_last_error());
        cr_assert(same(x, ref), "%s decodes to other pixels", names[i]);
        vdm_image_free(x);
        free(d);
    }
    vdm_image_free(ref);
    free(png);
}

/* MODL's cm_method byte (vdz.md §6): 2..9 with the tile-choice flag; a
 * method this decoder does not know is "unsupported", 0 or 1 corrupt. */
Test(codec_vectors, modl_cm_method_byte)
{
    size_t n;
    uint8_t *d = load("model_80x72.vdz", &n);
    const size_t modl = 12 + 12 + vdm_get_le32(d + 12);
    cr_assert(!memcmp(d + modl + 4, "MODL", 4));
    cr_assert_eq(d[modl + 8 + 39], 9);
    static const struct { uint8_t m; vdm_status want; } c[] = {
        { 9, VDM_OK }, { 8, VDM_OK }, { 7, VDM_OK }, { 6, VDM_OK }, { 5, VDM_OK }, { 4, VDM_OK }, { 3, VDM_OK },
        { 2, VDM_OK }, { 10, VDM_ERR_UNSUPPORTED }, { 255, VDM_ERR_UNSUPPORTED }, { 1, VDM_ERR_CORRUPT }, { 0, VDM_ERR_CORRUPT },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        d[modl + 8 + 39] = c[i].m;
        const uint32_t len = vdm_get_le32(d + modl);
        vdm_put_le32(d + modl + 8 + len, (uint32_t)crc32(0, d + modl + 4, 4 + len));
        vdm_vdz_info info;
        cr_assert_eq(vdm_vdz_probe(d, n, &info), c[i].want, "cm_method %u", c[i].m);
    }
    free(d);
}

Test(codec_vectors, invalid_vectors_give_the_documented_error)
{
    static const struct { const char *name; vdm_status want; } v[] = {
        { "bad_truncated.vdz", VDM_ERR_TRUNCATED }, { "bad_crc.vdz", VDM_ERR_CHECKSUM },
        { "bad_version.vdz", VDM_ERR_VERSION },     { "bad_pixels.vdz", VDM_ERR_CHECKSUM },
        { "bad_section.vdz", VDM_ERR_UNSUPPORTED }, { "bad_dims.vdz", VDM_ERR_LIMIT },
        { "bad_trailing.vdz", VDM_ERR_CORRUPT },    { "needs_model.vdz", VDM_ERR_MODEL_MISMATCH },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n;
        uint8_t *d = load(v[i].name, &n);
        vdm_image *img = NULL;
        vdm_status st = vdm_vdz_decode(d, n, NULL, &img);
        cr_assert_eq(st, v[i].want, "%s: got '%s' (%s), want '%s'", v[i].name, vdm_error_name(st),
                     vdm_codec_last_error(), vdm_error_name(v[i].want));
        cr_assert_null(img);
        free(d);
    }
    /* the model requirement is visible from the header alone */
    size_t n;
    uint8_t *d = load("needs_model.vdz", &n);
    vdm_vdz_info info;
    cr_assert_eq(vdm_vdz_probe_header(d, n, &info), VDM_OK);
    cr_assert_eq(info.needs_model, 1);
    cr_assert_eq(info.model_id[1], 1);
    cr_assert_eq(vdm_vdz_probe(d, n, &info), VDM_OK);
    cr_assert_eq(info.has_model_section, 1);
    cr_assert_eq(info.steps, 1);
    free(d);
    /* an unknown ancillary section is skipped */
    uint8_t *a = load("ok_ancillary.vdz", &n);
    size_t pn;
    uint8_t *png = load("v1_rgb8.png", &pn);
    vdm_image *x, *y;
    cr_assert_eq(vdm_vdz_decode(a, n, NULL, &x), VDM_OK);
    cr_assert_eq(vdm_png_read_mem(png, pn, &y), VDM_OK);
    cr_assert(same(x, y));
    vdm_image_free(x);
    vdm_image_free(y);
    free(a);
    free(png);
}
