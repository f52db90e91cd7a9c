/* test_codec_png.c — the PNG layer against an independent PNG writer
 * (codec_testutil.h): every colour type and bit depth, interlacing, palette
 * and tRNS, metadata chunks, conversions to RGB8, malformed input. */
#include <criterion/criterion.h>

#include "codec/png_io.h"
#include "codec_testutil.h"

static const int k_types[][2] = {
    { 0, 1 }, { 0, 2 }, { 0, 4 }, { 0, 8 }, { 0, 16 }, { 2, 8 }, { 2, 16 }, { 3, 1 },
    { 3, 2 }, { 3, 4 }, { 3, 8 }, { 4, 8 }, { 4, 16 }, { 6, 8 }, { 6, 16 },
};
#define NTYPES (sizeof k_types / sizeof k_types[0])
static const uint32_t k_sizes[][2] = { { 1, 1 }, { 7, 5 }, { 33, 17 }, { 1, 9 }, { 9, 1 } };
#define NSIZES (sizeof k_sizes / sizeof k_sizes[0])

/* A generated test image: PNG bytes plus the truth. */
typedef struct {
    uint8_t *png;
    size_t n;
    uint16_t *s;
    uint8_t pal[256][3];
    uint8_t trns[256];
    uint16_t key[3];
    tu_png_desc d;
} gen_img;

static void gen(gen_img *g, int ct, int bd, uint32_t w, uint32_t h, int interlace, int with_trns,
                const tu_chunk *chunks, int nchunks, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    unsigned ch = tu_channels(ct);
    int npal = 0;
    uint32_t maxv = bd == 16 ? 65535u : (1u << bd) - 1u;
    if (ct == 3) {
        npal = (int)((1u << bd) > 200 ? 200 : (1u << bd));   /* not always full */
        maxv = (uint32_t)npal - 1;
        for (int i = 0; i < npal; i++) {
            g->pal[i][0] = (uint8_t)(i * 37);
            g->pal[i][1] = (uint8_t)(255 - i);
            g->pal[i][2] = (uint8_t)(i * i);
        }
    }
    g->s = tu_content(w, h, ch, maxv, seed);
    g->d.w = w;
    g->d.h = h;
    g->d.ct = ct;
    g->d.bd = bd;
    g->d.interlace = interlace;
    g->d.s = g->s;
    g->d.pal = (const uint8_t(*)[3])g->pal;
    g->d.npal = npal;
    if (with_trns && ct == 3) {
        g->d.ntrns = npal > 3 ? npal - 2 : 1;
        for (int i = 0; i < g->d.ntrns; i++) g->trns[i] = (uint8_t)(255 - 3 * i);
        g->d.trns = g->trns;
    }
    if (with_trns && (ct == 0 || ct == 2)) {
        g->key[0] = (uint16_t)(maxv / 3);
        g->key[1] = (uint16_t)(maxv / 2);
        g->key[2] = (uint16_t)maxv;
        g->d.key = g->key;
    }
    g->d.chunks = chunks;
    g->d.nchunks = nchunks;
    g->png = tu_png(&g->d, &g->n);
}

static void gen_free(gen_img *g)
{
    free(g->png);
    free(g->s);
}

static uint32_t sample_at(const vdm_image *img, size_t i)
{
    return img->bit_depth == 16 ? ((const uint16_t *)(const void *)img->data)[i] : img->data[i];
}

static void expect_matches(const vdm_image *img, const gen_img *g)
{
    cr_assert_eq(img->width, g->d.w);
    cr_assert_eq(img->height, g->d.h);
    cr_assert_eq(img->color_type, g->d.ct);
    cr_assert_eq(img->bit_depth, g->d.bd);
    cr_assert_eq(img->interlace, g->d.interlace);
    cr_assert_eq(img->channels, tu_channels(g->d.ct));
    size_t n = (size_t)g->d.w * g->d.h * img->channels;
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(sample_at(img, i), g->s[i], "sample %zu: %u != %u (type %d/%d %ux%u il %d)", i,
                     sample_at(img, i), g->s[i], g->d.ct, g->d.bd, g->d.w, g->d.h, g->d.interlace);
    cr_assert_eq(img->palette_size, (unsigned)g->d.npal);
    if (g->d.npal) cr_assert(!memcmp(img->palette, g->pal, 3 * (size_t)g->d.npal));
    if (g->d.ntrns) {
        cr_assert_eq(img->trns_count, (unsigned)g->d.ntrns);
        cr_assert(!memcmp(img->trns_alpha, g->trns, (size_t)g->d.ntrns));
    } else if (g->d.key) {
        cr_assert_eq(img->trns_count, 1);
        cr_assert_eq(img->trns_key[0], g->key[0]);
        if (g->d.ct == 2) {
            cr_assert_eq(img->trns_key[1], g->key[1]);
            cr_assert_eq(img->trns_key[2], g->key[2]);
        }
    } else {
        cr_assert_eq(img->trns_count, 0);
    }
}

static int same_image(const vdm_image *a, const vdm_image *b)
{
    if (a->width != b->width || a->height != b->height || a->color_type != b->color_type ||
        a->bit_depth != b->bit_depth || a->interlace != b->interlace ||
        a->palette_size != b->palette_size || a->trns_count != b->trns_count ||
        a->nchunks != b->nchunks)
        return 0;
    if (memcmp(a->data, b->data, (size_t)vdm_image_sample_bytes(a->width, a->height, a->channels, a->bit_depth)))
        return 0;
    if (memcmp(a->palette, b->palette, 3u * a->palette_size) || memcmp(a->trns_alpha, b->trns_alpha, 256) ||
        memcmp(a->trns_key, b->trns_key, sizeof a->trns_key))
        return 0;
    for (uint32_t i = 0; i < a->nchunks; i++) {
        const vdm_png_chunk *x = &a->chunks[i], *y = &b->chunks[i];
        if (strcmp(x->name, y->name) || x->location != y->location || x->size != y->size ||
            (x->size && memcmp(x->data, y->data, x->size)))
            return 0;
    }
    return 1;
}

Test(codec_png, every_type_depth_size_interlace)
{
    int count = 0;
    for (size_t t = 0; t < NTYPES; t++)
        for (size_t z = 0; z < NSIZES; z++)
            for (int il = 0; il < 2; il++) {
                gen_img g;
                gen(&g, k_types[t][0], k_types[t][1], k_sizes[z][0], k_sizes[z][1], il, (int)(z & 1),
                    NULL, 0, t * 100 + z);
                vdm_image *img = NULL;
                vdm_status st = vdm_png_read_mem(g.png, g.n, &img);
                cr_assert_eq(st, VDM_OK, "read type %d/%d: %s", k_types[t][0], k_types[t][1], vdm_png_last_error());
                expect_matches(img, &g);
                /* write back with libpng and read again: identical */
                uint8_t *out = NULL;
                size_t on = 0;
                cr_assert_eq(vdm_png_write_mem(img, &out, &on), VDM_OK, "%s", vdm_png_last_error());
                vdm_image *back = NULL;
                cr_assert_eq(vdm_png_read_mem(out, on, &back), VDM_OK);
                cr_assert(same_image(img, back), "type %d/%d differs after write", k_types[t][0], k_types[t][1]);
                vdm_image_free(back);
                vdm_image_free(img);
                free(out);
                gen_free(&g);
                count++;
            }
    cr_assert_eq(count, (int)(NTYPES * NSIZES * 2));
}

Test(codec_png, metadata_chunks_kept_in_order_and_place)
{
    static const uint8_t gama[4] = { 0, 0, 0xB1, 0x8F };
    static const uint8_t text[] = "Comment\0made by a test";
    static const uint8_t phys[9] = { 0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1 };
    static const uint8_t priv[5] = { 1, 2, 3, 4, 5 };
    static const uint8_t time_[7] = { 0x07, 0xEA, 11, 26, 12, 0, 0 };
    static const uint8_t itxt[] = "Title\0\0\0en\0Titel\0caf\xc3\xa9";
    const tu_chunk chunks[] = {
        { "gAMA", 0, gama, 4 },
        { "tEXt", 0, text, sizeof text - 1 },
        { "pHYs", 1, phys, 9 },
        { "prVt", 1, priv, 5 },
        { "emPt", 1, NULL, 0 },
        { "iTXt", 2, itxt, sizeof itxt - 1 },
        { "tIME", 2, time_, 7 },
    };
    const int nc = (int)(sizeof chunks / sizeof chunks[0]);
    for (int ct = 2; ct <= 3; ct++) {   /* with and without PLTE */
        gen_img g;
        gen(&g, ct, 8, 10, 6, 0, 1, chunks, nc, 7);
        vdm_image *img = NULL;
        cr_assert_eq(vdm_png_read_mem(g.png, g.n, &img), VDM_OK, "%s", vdm_png_last_error());
        expect_matches(img, &g);
        cr_assert_eq(img->nchunks, (uint32_t)nc);
        for (int i = 0; i < nc; i++) {
            cr_assert_str_eq(img->chunks[i].name, chunks[i].name);
            unsigned want = (unsigned)chunks[i].loc;
            if (ct != 3 && want == 1) want = 0;  /* no PLTE: "before PLTE" and "before IDAT" coincide */
            cr_assert_eq(img->chunks[i].location, want, "chunk %s at %u", chunks[i].name, img->chunks[i].location);
            cr_assert_eq(img->chunks[i].size, chunks[i].len);
            if (chunks[i].len) cr_assert(!memcmp(img->chunks[i].data, chunks[i].data, chunks[i].len));
        }
        uint8_t *out;
        size_t on;
        cr_assert_eq(vdm_png_write_mem(img, &out, &on), VDM_OK, "%s", vdm_png_last_error());
        vdm_image *back;
        cr_assert_eq(vdm_png_read_mem(out, on, &back), VDM_OK);
        cr_assert(same_image(img, back));
        vdm_image_free(back);
        vdm_image_free(img);
        free(out);
        gen_free(&g);
    }
}

Test(codec_png, malformed_inputs_give_clear_errors)
{
    gen_img g;
    gen(&g, 2, 8, 16, 12, 0, 0, NULL, 0, 1);
    vdm_image *img = NULL;
    /* not a PNG */
    static const uint8_t text[] = "hello, this is not a PNG at all";
    cr_assert_eq(vdm_png_read_mem(text, sizeof text, &img), VDM_ERR_FORMAT);
    cr_assert_null(img);
    cr_assert_eq(vdm_png_read_mem(text, 0, &img), VDM_ERR_FORMAT);
    cr_assert(strlen(vdm_png_last_error()) > 0);
    /* every truncation fails, never crashes */
    for (size_t k = 0; k < g.n - 12; k++) {   /* without IEND onwards */
        vdm_status st = vdm_png_read_mem(g.png, k, &img);
        cr_assert_neq(st, VDM_OK, "prefix %zu accepted", k);
        cr_assert_null(img);
        if (k >= 8) cr_assert(st == VDM_ERR_TRUNCATED || st == VDM_ERR_PNG, "prefix %zu: %d", k, st);
    }
    /* damaged IHDR CRC */
    uint8_t *bad = malloc(g.n);
    memcpy(bad, g.png, g.n);
    bad[8 + 8 + 13] ^= 0x40;
    cr_assert_eq(vdm_png_read_mem(bad, g.n, &img), VDM_ERR_PNG);
    /* flipped bits anywhere: an error or (for CRC-free zlib slack) an image, no crash */
    for (size_t i = 8; i < g.n; i++) {
        memcpy(bad, g.png, g.n);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        vdm_status st = vdm_png_read_mem(bad, g.n, &img);
        if (st == VDM_OK) vdm_image_free(img);
        img = NULL;
    }
    free(bad);
    gen_free(&g);

    /* unknown critical chunk */
    static const uint8_t d[2] = { 1, 2 };
    const tu_chunk crit[] = { { "CRIt", 1, d, 2 } };
    gen(&g, 0, 8, 4, 4, 0, 0, crit, 1, 2);
    cr_assert_eq(vdm_png_read_mem(g.png, g.n, &img), VDM_ERR_UNSUPPORTED);
    cr_assert_null(img);
    gen_free(&g);
}

Test(codec_png, absurd_dimensions_are_refused_before_allocating)
{
    /* Build only the header part of a PNG that claims a huge image. */
    uint32_t dims[][2] = { { 70000, 10 }, { 10, 70000 }, { 65535, 65535 }, { 0x7FFFFFFF, 1 } };
    for (int i = 0; i < 4; i++) {
        tu_buf b = { 0 };
        static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
        tu_put(&b, sig, 8);
        uint8_t ihdr[13] = { 0 };
        tu_be32(ihdr, dims[i][0]);
        tu_be32(ihdr + 4, dims[i][1]);
        ihdr[8] = 16;
        ihdr[9] = 6;
        tu_chunk_out(&b, "IHDR", ihdr, 13);
        tu_chunk_out(&b, "IEND", NULL, 0);
        vdm_image *img = NULL;
        vdm_status st = vdm_png_read_mem(b.d, b.n, &img);
        cr_assert_eq(st, VDM_ERR_LIMIT, "%ux%u gave %d (%s)", dims[i][0], dims[i][1], st, vdm_png_last_error());
        free(b.d);
    }
}

Test(codec_png, rgb8_conversion)
{
    /* 2-bit gray 0..3 -> 0, 85, 170, 255 */
    vdm_image *img;
    cr_assert_eq(vdm_image_create(4, 1, VDM_PNG_GRAY, 2, &img), VDM_OK);
    for (int i = 0; i < 4; i++) img->data[i] = (uint8_t)i;
    uint8_t *rgb;
    cr_assert_eq(vdm_image_to_rgb8(img, &rgb), VDM_OK);
    static const uint8_t want[12] = { 0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255 };
    cr_assert(!memcmp(rgb, want, 12));
    free(rgb);
    vdm_image_free(img);
    /* 16-bit RGBA: rounding and alpha dropped */
    cr_assert_eq(vdm_image_create(2, 1, VDM_PNG_RGBA, 16, &img), VDM_OK);
    uint16_t *s = (uint16_t *)(void *)img->data;
    uint16_t v[8] = { 0, 128, 65535, 7, 32896, 257, 383, 0 };
    memcpy(s, v, sizeof v);
    cr_assert_eq(vdm_image_to_rgb8(img, &rgb), VDM_OK);
    /* round(v*255/65535): 0, 0 (0.498), 255 | 128 (127.99), 1, 1 (1.49) */
    static const uint8_t want16[6] = { 0, 0, 255, 128, 1, 1 };
    cr_assert(!memcmp(rgb, want16, 6), "%u %u %u %u %u %u", rgb[0], rgb[1], rgb[2], rgb[3], rgb[4], rgb[5]);
    free(rgb);
    vdm_image_free(img);
    /* palette through a file and vdm_png_load_rgb8 */
    gen_img g;
    gen(&g, 3, 4, 5, 3, 1, 1, NULL, 0, 9);
    char *dir = tu_tmpdir("png");
    char path[512];
    snprintf(path, sizeof path, "%s/p.png", dir);
    cr_assert_eq(tu_write_file(path, g.png, g.n), 0);
    uint32_t w, h;
    cr_assert_eq(vdm_png_load_rgb8(path, &rgb, &w, &h), VDM_OK);
    cr_assert_eq(w, 5);
    cr_assert_eq(h, 3);
    for (size_t i = 0; i < 15; i++) cr_assert(!memcmp(rgb + 3 * i, g.pal[g.s[i]], 3));
    free(rgb);
    snprintf(path, sizeof path, "%s/missing.png", dir);
    cr_assert_eq(vdm_png_load_rgb8(path, &rgb, &w, &h), VDM_ERR_IO);
    cr_assert_null(rgb);
    gen_free(&g);
    tu_rmtree(dir);
    free(dir);
}

Test(codec_png, validate_rejects_inconsistent_images)
{
    vdm_image *img;
    cr_assert_eq(vdm_image_create(3, 2, VDM_PNG_PALETTE, 2, &img), VDM_OK);
    cr_assert_eq(vdm_image_validate(img), VDM_ERR_CORRUPT);   /* no palette */
    img->palette_size = 3;
    cr_assert_eq(vdm_image_validate(img), VDM_OK);
    img->data[5] = 3;                                          /* index >= palette size */
    cr_assert_eq(vdm_image_validate(img), VDM_ERR_CORRUPT);
    uint8_t *out;
    size_t n;
    cr_assert_eq(vdm_png_write_mem(img, &out, &n), VDM_ERR_CORRUPT);
    img->data[5] = 2;
    img->trns_count = 4;                                       /* longer than the palette */
    cr_assert_eq(vdm_image_validate(img), VDM_ERR_CORRUPT);
    vdm_image_free(img);
    cr_assert_eq(vdm_image_create(1, 1, VDM_PNG_RGB, 4, &img), VDM_ERR_CORRUPT);
    cr_assert_eq(vdm_image_create(0, 1, VDM_PNG_RGB, 8, &img), VDM_ERR_CORRUPT);
    cr_assert_eq(vdm_image_create(65536, 1, VDM_PNG_RGB, 8, &img), VDM_ERR_LIMIT);
    cr_assert_eq(vdm_image_create(1, 1, VDM_PNG_GRAY, 8, &img), VDM_OK);
    cr_assert_eq(vdm_image_add_chunk(img, "IDAT", 0, NULL, 0), VDM_ERR_CORRUPT);
    cr_assert_eq(vdm_image_add_chunk(img, "tRNS", 0, NULL, 0), VDM_ERR_CORRUPT);
    cr_assert_eq(vdm_image_add_chunk(img, "teXt", 3, NULL, 0), VDM_ERR_CORRUPT);
    cr_assert_eq(vdm_image_add_chunk(img, "tEXt", 2, (const uint8_t *)"a\0b", 3), VDM_OK);
    vdm_image_free(img);
    vdm_image_free(NULL);
}
