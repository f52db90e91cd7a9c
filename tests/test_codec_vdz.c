/* test_codec_vdz.c — the container and the classical coders: round trips of
 * every PNG type, each classical method on its own, determinism, the size
 * bound, damaged / truncated / wrong-version files, MODL framing through a
 * test-double model path, metadata. */
#include <criterion/criterion.h>

#include "codec/cm/classical.h"
#include "codec/cm/cm4.h"
#include "codec/codec_internal.h"
#include "codec/png_io.h"
#include "codec/vdz.h"
#include "codec_testutil.h"

/* CRC-32 like the container (zlib's crc32 is the same function). */
static void fix_crc(uint8_t *file, size_t section_off)
{
    uint32_t len = vdm_get_le32(file + section_off);
    uLong c = crc32(0, file + section_off + 4, 4 + len);
    vdm_put_le32(file + section_off + 8 + len, (uint32_t)c);
}

static vdm_image *make_image(int ct, int bd, uint32_t w, uint32_t h, uint64_t seed)
{
    vdm_image *img;
    cr_assert_eq(vdm_image_create(w, h, (unsigned)ct, (unsigned)bd, &img), VDM_OK);
    uint32_t maxv = bd == 16 ? 65535u : (1u << bd) - 1u;
    if (ct == 3) {
        img->palette_size = (uint16_t)((1u << bd) > 100 ? 100 : (1u << bd));
        maxv = img->palette_size - 1u;
        for (unsigned i = 0; i < img->palette_size; i++) {
            img->palette[i][0] = (uint8_t)i;
            img->palette[i][1] = (uint8_t)(3 * i);
            img->palette[i][2] = (uint8_t)(200 - i);
        }
        img->trns_count = 2;
        img->trns_alpha[0] = 0;
        img->trns_alpha[1] = 128;
    }
    if (ct == 0 || ct == 2) {
        img->trns_count = (seed & 1) ? 1 : 0;
        if (img->trns_count) img->trns_key[0] = img->trns_key[1] = img->trns_key[2] = (uint16_t)(maxv / 2);
    }
    uint16_t *s = tu_content(w, h, img->channels, maxv, seed);
    size_t n = (size_t)w * h * img->channels;
    for (size_t i = 0; i < n; i++) {
        if (bd == 16) ((uint16_t *)(void *)img->data)[i] = s[i];
        else img->data[i] = (uint8_t)s[i];
    }
    free(s);
    img->interlace = (uint8_t)(seed % 3 == 0);
    return img;
}

static int images_equal(const vdm_image *a, const vdm_image *b)
{
    if (a->width != b->width || a->height != b->height || a->color_type != b->color_type ||
        a->bit_depth != b->bit_depth || a->interlace != b->interlace || a->channels != b->channels ||
        a->palette_size != b->palette_size || a->trns_count != b->trns_count || a->nchunks != b->nchunks)
        return 0;
    if (memcmp(a->data, b->data, (size_t)vdm_image_sample_bytes(a->width, a->height, a->channels, a->bit_depth)))
        return 0;
    if (memcmp(a->palette, b->palette, 3u * a->palette_size)) return 0;
    if (a->color_type == 3 && memcmp(a->trns_alpha, b->trns_alpha, a->trns_count)) return 0;
    if (a->color_type != 3 && a->trns_count &&
        memcmp(a->trns_key, b->trns_key, (a->color_type == 2 ? 3 : 1) * sizeof a->trns_key[0]))
        return 0;
    for (uint32_t i = 0; i < a->nchunks; i++) {
        if (strcmp(a->chunks[i].name, b->chunks[i].name) || a->chunks[i].location != b->chunks[i].location ||
            a->chunks[i].size != b->chunks[i].size ||
            (a->chunks[i].size && memcmp(a->chunks[i].data, b->chunks[i].data, a->chunks[i].size)))
            return 0;
    }
    return 1;
}

static void roundtrip(const vdm_image *img, const vdm_encode_opts *o, vdm_encode_stats *stats)
{
    uint8_t *f = NULL;
    size_t n = 0;
    vdm_status st = vdm_vdz_encode(img, o, &f, &n, stats);
    cr_assert_eq(st, VDM_OK, "encode: %s", vdm_codec_last_error());
    vdm_image *back = NULL;
    st = vdm_vdz_decode(f, n, NULL, &back);
    cr_assert_eq(st, VDM_OK, "decode: %d %s", st, vdm_codec_last_error());
    cr_assert(images_equal(img, back), "type %u/%u %ux%u differs", img->color_type, img->bit_depth,
              img->width, img->height);
    vdm_image_free(back);
    free(f);
}

static const int k_types[][2] = {
    { 0, 1 }, { 0, 2 }, { 0, 4 }, { 0, 8 }, { 0, 16 }, { 2, 8 }, { 2, 16 }, { 3, 1 },
    { 3, 2 }, { 3, 4 }, { 3, 8 }, { 4, 8 }, { 4, 16 }, { 6, 8 }, { 6, 16 },
};
#define NTYPES (sizeof k_types / sizeof k_types[0])

Test(codec_vdz, every_type_roundtrips_at_every_effort)
{
    static const uint32_t sizes[][2] = { { 1, 1 }, { 2, 3 }, { 31, 9 }, { 64, 48 } };
    for (size_t t = 0; t < NTYPES; t++)
        for (int z = 0; z < 4; z++)
            for (int effort = 0; effort <= 2; effort++) {
                if (effort == 2 && z < 3) continue;
                vdm_image *img = make_image(k_types[t][0], k_types[t][1], sizes[z][0], sizes[z][1], t * 10 + (size_t)z);
                vdm_encode_opts o;
                vdm_encode_opts_default(&o);
                o.effort = effort;
                roundtrip(img, &o, NULL);
                vdm_image_free(img);
            }
}

/* Every classical method on its own, on every depth, including corner cases
 * (a one-entry palette: maxval 0; 16-bit extremes). */
Test(codec_vdz, each_classical_method_alone)
{
    for (size_t t = 0; t < NTYPES; t++) {
        vdm_image *img = make_image(k_types[t][0], k_types[t][1], 37, 23, t);
        if (t == 7) img->palette_size = 1, memset(img->data, 0, 37 * 23), img->trns_count = 1;
        vdm_image *out;
        cr_assert_eq(vdm_image_create(img->width, img->height, img->color_type, img->bit_depth, &out), VDM_OK);
        out->palette_size = img->palette_size;
        size_t nb = (size_t)vdm_image_sample_bytes(img->width, img->height, img->channels, img->bit_depth);
        for (int m = 0; m <= 6; m++) {
            vdm_subimage g, h;
            memset(&g, 0, sizeof g);
            g.width = img->width;
            g.height = img->height;
            g.bit_depth = img->bit_depth;
            g.indexed = img->color_type == 3;
            g.maxval = g.indexed ? img->palette_size - 1u : (1u << img->bit_depth) - 1u;
            g.data = img->data;
            g.stride = img->channels;
            g.nch = img->channels;
            for (unsigned c = 0; c < g.nch; c++) g.chan[c] = c;
            g.rgb = img->channels >= 3;
            h = g;
            h.data = out->data;
            memset(out->data, 0xAB, nb);
            vdm_buf b = { 0 };
            vdm_status st = m == 0 ? vdm_stored_encode(&g, &b) : m == 1 ? vdm_zstd_encode(&g, 5, &b)
                          : m == 2 ? vdm_cm2_encode(&g, &b) : m == 3 ? vdm_cm3_encode(&g, &b)
                          : vdm_cm_encode((unsigned)m, &g, NULL, &b);
            cr_assert_eq(st, VDM_OK);
            st = m == 0 ? vdm_stored_decode(&h, b.data, b.size) : m == 1 ? vdm_zstd_decode(&h, b.data, b.size)
                 : m == 2 ? vdm_cm2_decode(&h, b.data, b.size) : m == 3 ? vdm_cm3_decode(&h, b.data, b.size)
                 : vdm_cm_decode((unsigned)m, &h, NULL, b.data, b.size);
            cr_assert_eq(st, VDM_OK, "method %d type %zu", m, t);
            cr_assert(!memcmp(img->data, out->data, nb), "method %d type %zu differs", m, t);
            /* truncated payloads never decode */
            if (b.size > 1) {
                st = m == 0 ? vdm_stored_decode(&h, b.data, b.size - 1) : m == 1 ? vdm_zstd_decode(&h, b.data, b.size - 1)
                     : m == 2 ? vdm_cm2_decode(&h, b.data, b.size - 1) : m == 3 ? vdm_cm3_decode(&h, b.data, b.size - 1)
                     : vdm_cm_decode((unsigned)m, &h, NULL, b.data, b.size - 1);
                cr_assert_neq(st, VDM_OK, "method %d accepted a truncated payload", m);
            }
            vdm_buf_free(&b);
        }
        vdm_image_free(out);
        vdm_image_free(img);
    }
}

Test(codec_vdz, deterministic_and_thread_independent)
{
    vdm_image *img = make_image(6, 8, 50, 40, 3);
    vdm_encode_opts o1, o4;
    vdm_encode_opts_default(&o1);
    vdm_encode_opts_default(&o4);
    o4.threads = 4;
    uint8_t *a, *b, *c;
    size_t na, nb, nc;
    cr_assert_eq(vdm_vdz_encode(img, &o1, &a, &na, NULL), VDM_OK);
    cr_assert_eq(vdm_vdz_encode(img, &o1, &b, &nb, NULL), VDM_OK);
    cr_assert_eq(vdm_vdz_encode(img, &o4, &c, &nc, NULL), VDM_OK);
    cr_assert(na == nb && !memcmp(a, b, na));
    cr_assert(na == nc && !memcmp(a, c, na));
    free(a);
    free(b);
    free(c);
    vdm_image_free(img);
}

/* Pure noise cannot be compressed: the file stays within a small constant
 * of the packed pixels (stored method). */
Test(codec_vdz, never_much_bigger_than_raw)
{
    static const int t[][2] = { { 2, 8 }, { 0, 1 }, { 6, 16 }, { 3, 8 } };
    for (int k = 0; k < 4; k++) {
        vdm_image *img;
        cr_assert_eq(vdm_image_create(97, 61, (unsigned)t[k][0], (unsigned)t[k][1], &img), VDM_OK);
        if (t[k][0] == 3) {
            img->palette_size = 256;
            for (int i = 0; i < 256; i++) img->palette[i][0] = (uint8_t)i;
        }
        uint64_t r = 99 + (uint64_t)k;
        size_t nb = (size_t)vdm_image_sample_bytes(97, 61, img->channels, img->bit_depth);
        for (size_t i = 0; i < nb; i++) img->data[i] = (uint8_t)tu_rng(&r);
        if (t[k][1] == 1) for (size_t i = 0; i < nb; i++) img->data[i] &= 1;
        vdm_encode_stats s;
        vdm_encode_opts o;
        vdm_encode_opts_default(&o);
        roundtrip(img, &o, &s);
        uint64_t overhead = 12 + 12 + 88 + 3u * img->palette_size + 12 + 4 + 12;
        cr_assert_leq(s.file_bytes, s.packed_bytes + overhead, "%llu > %llu + %llu",
                      (unsigned long long)s.file_bytes, (unsigned long long)s.packed_bytes,
                      (unsigned long long)overhead);
        if (k == 0) /* full-byte noise: nothing beats storing it */
            cr_assert_eq(s.classical_method, VDM_CLASSICAL_STORED, "type %d/%d: method %d, %llu vs packed %llu", t[k][0], t[k][1],
                     s.classical_method, (unsigned long long)s.file_bytes, (unsigned long long)s.packed_bytes);
        vdm_image_free(img);
    }
}

Test(codec_vdz, kodak_images_roundtrip_and_compress_well, .timeout = 400)
{
    static const char *names[] = { "kodim03.png", "kodim23.png" };
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/kodak/%s", VDM_SHARED_DIR "/data", names[i]);
        vdm_image *img;
        vdm_status st = vdm_png_read_file(path, &img);
        if (st == VDM_ERR_IO) cr_skip_test("Kodak images not available at %s", path);
        cr_assert_eq(st, VDM_OK);
        vdm_encode_stats s;
        roundtrip(img, NULL, &s);
        double bpsp = 8.0 * (double)s.file_bytes / (double)s.samples;
        /* PNG (optipng) needs about 4.4 bits/sub-pixel on Kodak; the classical
         * must do clearly better or it is not a useful floor. */
        cr_assert_lt(bpsp, 4.0, "%s: %.3f bits/sub-pixel", names[i], bpsp);
        cr_assert_eq(s.classical_method, VDM_CLASSICAL_CM9);
        vdm_image_free(img);
    }
}

/* ---- every context-mixing method through the container -----------------
 * The encoder writes whichever method is smallest, so these files are made
 * by hand: the encoder's own file (no metadata, no model) with its classical
 * section replaced by one of method m over all channels (payload `pl` when
 * given, else m's coder run on img).  *n gets the size. */
static uint8_t *file_with_method(const vdm_image *img, int m, const vdm_buf *pl, size_t *n)
{
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    o.keep_metadata = 0;
    o.effort = 0;
    uint8_t *f;
    size_t fn;
    cr_assert_eq(vdm_vdz_encode(img, &o, &f, &fn, NULL), VDM_OK);
    const size_t fbck = 12 + 12 + vdm_get_le32(f + 12);   /* signature, VHDR */
    cr_assert(!memcmp(f + fbck + 4, "FBCK", 4));
    const unsigned mask = (1u << img->channels) - 1u;
    vdm_buf b = { 0 };
    if (!pl) {
        vdm_subimage g;
        vdm_subimage_of(&g, img, mask);
        vdm_status st = m == 2 ? vdm_cm2_encode(&g, &b) : m == 3 ? vdm_cm3_encode(&g, &b)
                      : vdm_cm_encode((unsigned)m, &g, NULL, &b);
        cr_assert_eq(st, VDM_OK, "method %d", m);
        pl = &b;
    }
    *n = fbck + 12 + 4 + pl->size + 12;
    uint8_t *out = malloc(*n);
    memcpy(out, f, fbck);
    vdm_put_le32(out + fbck, (uint32_t)(4 + pl->size));
    memcpy(out + fbck + 4, "FBCK", 4);
    const uint8_t hdr[4] = { (uint8_t)m, (uint8_t)mask, 0, 0 };
    memcpy(out + fbck + 8, hdr, 4);
    memcpy(out + fbck + 12, pl->data, pl->size);
    fix_crc(out, fbck);
    memcpy(out + *n - 12, f + fn - 12, 12);   /* VEND */
    vdm_buf_free(&b);
    free(f);
    return out;
}

/* The classical section's payload length changed by `delta` (CRC fixed). */
static uint8_t *resize_payload(const uint8_t *f, size_t n, long delta, size_t *n2)
{
    const size_t fbck = 12 + 12 + vdm_get_le32(f + 12);
    const uint32_t len = vdm_get_le32(f + fbck);
    *n2 = (size_t)((long)n + delta);
    uint8_t *g = calloc(*n2, 1);
    const size_t keep = fbck + 8 + (size_t)((long)len + (delta < 0 ? delta : 0));
    memcpy(g, f, keep);
    vdm_put_le32(g + fbck, (uint32_t)((long)len + delta));
    fix_crc(g, fbck);
    memcpy(g + *n2 - 12, f + n - 12, 12);
    return g;
}

/* Methods 5 to 9 (and 2..4) for every PNG kind and a few sizes: the file decodes
 * to the image; a payload one byte short or long is VDM_ERR_CORRUPT; a
 * changed byte is an error or the same pixels (never a crash); an unknown
 * method is VDM_ERR_UNSUPPORTED. */
Test(codec_vdz, every_cm_method_through_the_container, .timeout = 600)
{
    static const uint32_t sizes[][2] = { { 1, 1 }, { 31, 9 }, { 64, 48 } };
    for (size_t t = 0; t < NTYPES; t++)
        for (int z = 0; z < 3; z++)
            for (int m = 2; m <= 9; m++) {
                if (m < 5 && z != 1) continue;   /* the older methods: one size */
                vdm_image *img = make_image(k_types[t][0], k_types[t][1], sizes[z][0], sizes[z][1], t * 7 + (size_t)z);
                size_t n;
                uint8_t *f = file_with_method(img, m, NULL, &n);
                vdm_vdz_info info;
                cr_assert_eq(vdm_vdz_probe(f, n, &info), VDM_OK);
                cr_assert_eq(info.classical[0].method, m);
                vdm_image *back = NULL;
                vdm_status st = vdm_vdz_decode(f, n, NULL, &back);
                cr_assert_eq(st, VDM_OK, "method %d type %d/%d %ux%u: %s (%s)", m, k_types[t][0], k_types[t][1],
                             img->width, img->height, vdm_error_name(st), vdm_codec_last_error());
                cr_assert(images_equal(img, back), "method %d type %d/%d differs", m, k_types[t][0], k_types[t][1]);
                vdm_image_free(back);
                back = NULL;
                for (long delta = -1; delta <= 1; delta += 2) {
                    size_t n2;
                    uint8_t *g = resize_payload(f, n, delta, &n2);
                    st = vdm_vdz_decode(g, n2, NULL, &back);
                    cr_assert_eq(st, VDM_ERR_CORRUPT, "method %d type %d/%d, payload %+ld byte: %s", m,
                                 k_types[t][0], k_types[t][1], delta, vdm_error_name(st));
                    cr_assert_null(back);
                    free(g);
                }
                const size_t fbck = 12 + 12 + vdm_get_le32(f + 12);
                const uint32_t len = vdm_get_le32(f + fbck);
                for (uint32_t i = 4; z == 1 && i < len; i += len / 3) {
                    uint8_t *g = malloc(n);
                    memcpy(g, f, n);
                    g[fbck + 8 + i] ^= 0x21;
                    fix_crc(g, fbck);
                    st = vdm_vdz_decode(g, n, NULL, &back);
                    cr_assert(st == VDM_ERR_CORRUPT || st == VDM_ERR_CHECKSUM || (st == VDM_OK && images_equal(img, back)),
                              "method %d: byte %u changed: %s", m, i, vdm_error_name(st));
                    vdm_image_free(back);
                    back = NULL;
                    free(g);
                }
                if (m == 9 && z == 1) {   /* a method this decoder does not know */
                    f[fbck + 8] = 10;
                    fix_crc(f, fbck);
                    cr_assert_eq(vdm_vdz_decode(f, n, NULL, &back), VDM_ERR_UNSUPPORTED);
                    cr_assert_null(back);
                }
                free(f);
                vdm_image_free(img);
            }
}

/* Methods 3 to 9 are defined up to VDM_CM4_MAX_WIDTH: a wider
 * sub-image with one of them is corrupt (the payload is not even read). */
Test(codec_vdz, cm_methods_width_limit_in_the_container)
{
    vdm_image *img;
    cr_assert_eq(vdm_image_create(VDM_CM4_MAX_WIDTH + 1, 2, VDM_PNG_GRAY, 8, &img), VDM_OK);
    for (size_t i = 0; i < (size_t)img->width * 2; i++) img->data[i] = (uint8_t)(i * 7 / 3);
    const uint8_t zeros[16] = { 0 };
    const vdm_buf pl = { (uint8_t *)(uintptr_t)zeros, sizeof zeros, sizeof zeros };
    for (int m = 3; m <= 9; m++) {
        size_t n;
        uint8_t *f = file_with_method(img, m, &pl, &n);
        vdm_image *back = NULL;
        cr_assert_eq(vdm_vdz_decode(f, n, NULL, &back), VDM_ERR_CORRUPT, "method %d", m);
        cr_assert_null(back);
        free(f);
    }
    /* and the encoder does not write them there */
    vdm_encode_stats s;
    roundtrip(img, NULL, &s);
    cr_assert(s.classical_method < VDM_CLASSICAL_CM3, "method %d", s.classical_method);
    vdm_image_free(img);
}

/* The encoder's context-mixing method: 9 by default, 4 to 8 on request
 * (tests, benchmarks, older decoders), 2 at effort 0 whatever is asked;
 * anything else is refused. */
Test(codec_vdz, cm_method_option)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/vectors/v1_rgb8.png", VDM_SOURCE_DIR);
    vdm_image *img;
    cr_assert_eq(vdm_png_read_file(path, &img), VDM_OK);
    static const struct { int effort, cm_method, want; } c[] = {
        { 1, 0, VDM_CLASSICAL_CM9 }, { 1, 9, VDM_CLASSICAL_CM9 }, { 1, 8, VDM_CLASSICAL_CM8 },
        { 1, 7, VDM_CLASSICAL_CM7 }, { 1, 6, VDM_CLASSICAL_CM6 }, { 1, 5, VDM_CLASSICAL_CM5 },
        { 1, 4, VDM_CLASSICAL_CM4 }, { 2, 4, VDM_CLASSICAL_CM4 }, { 0, 4, VDM_CLASSICAL_CM2 },
        { 0, 9, VDM_CLASSICAL_CM2 },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        vdm_encode_opts o;
        vdm_encode_opts_default(&o);
        o.effort = c[i].effort;
        o.cm_method = c[i].cm_method;
        vdm_encode_stats s;
        roundtrip(img, &o, &s);
        cr_assert_eq(s.classical_method, c[i].want, "effort %d cm_method %d: method %d", c[i].effort,
                     c[i].cm_method, s.classical_method);
    }
    static const int bad[] = { 1, 2, 3, 10, -1 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vdm_encode_opts o;
        vdm_encode_opts_default(&o);
        o.cm_method = bad[i];
        uint8_t *f = NULL;
        size_t n = 0;
        cr_assert_eq(vdm_vdz_encode(img, &o, &f, &n, NULL), VDM_ERR_ARG, "cm_method %d", bad[i]);
        cr_assert_null(f);
    }
    vdm_image_free(img);
}

/* A small file with everything: palette, tRNS, metadata. */
static uint8_t *sample_file(size_t *n, vdm_image **img_out)
{
    vdm_image *img = make_image(3, 4, 13, 7, 4);
    static const uint8_t txt[] = "Title\0test image";
    cr_assert_eq(vdm_image_add_chunk(img, "tEXt", 0, txt, sizeof txt - 1), VDM_OK);
    cr_assert_eq(vdm_image_add_chunk(img, "tIME", 2, (const uint8_t *)"\x07\xea\x0b\x1a\x0c\x00\x00", 7), VDM_OK);
    uint8_t *f;
    cr_assert_eq(vdm_vdz_encode(img, NULL, &f, n, NULL), VDM_OK);
    if (img_out) *img_out = img;
    else vdm_image_free(img);
    return f;
}

Test(codec_vdz, every_truncation_and_bit_flip_is_an_error)
{
    size_t n;
    vdm_image *ref;
    uint8_t *f = sample_file(&n, &ref);
    vdm_image *img = NULL;
    cr_assert_eq(vdm_vdz_decode(f, n, NULL, &img), VDM_OK);
    cr_assert(images_equal(ref, img));
    vdm_image_free(img);
    img = NULL;
    for (size_t k = 0; k < n; k++) {
        vdm_status st = vdm_vdz_decode(f, k, NULL, &img);
        cr_assert_neq(st, VDM_OK, "prefix of %zu bytes decoded", k);
        cr_assert_null(img);
        cr_assert(st == VDM_ERR_TRUNCATED || (k == 0 && st == VDM_ERR_FORMAT), "prefix %zu: %s", k, vdm_error_name(st));
        vdm_vdz_info info;
        cr_assert_neq(vdm_vdz_probe(f, k, &info), VDM_OK);
    }
    uint8_t *g = malloc(n);
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(g, f, n);
            g[i] ^= (uint8_t)(1u << bit);
            vdm_status st = vdm_vdz_decode(g, n, NULL, &img);
            cr_assert_neq(st, VDM_OK, "flip at byte %zu bit %d decoded", i, bit);
            cr_assert_null(img);
            cr_assert(strlen(vdm_codec_last_error()) > 0, "no error detail for flip at %zu", i);
        }
    free(g);
    free(f);
    vdm_image_free(ref);
}

Test(codec_vdz, version_sections_and_limits)
{
    size_t n;
    uint8_t *f = sample_file(&n, NULL);
    uint8_t *g = malloc(n + 64);
    vdm_image *img = NULL;
    vdm_vdz_info info;

    cr_assert_eq(vdm_vdz_probe(f, n, &info), VDM_OK);
    cr_assert_eq(info.version, 1);
    cr_assert_eq(info.width, 13);
    cr_assert_eq(info.color_type, 3);
    cr_assert_eq(info.meta_chunks, 2);
    cr_assert_eq(info.nclassical, 1);
    cr_assert_eq(info.needs_model, 0);

    /* wrong version */
    memcpy(g, f, n);
    vdm_put_le16(g + 8, 2);
    cr_assert_eq(vdm_vdz_decode(g, n, NULL, &img), VDM_ERR_VERSION);
    cr_assert(strstr(vdm_codec_last_error(), "version 2") != NULL);
    /* not a .vdz */
    memcpy(g, f, n);
    g[1] = 'X';
    cr_assert_eq(vdm_vdz_decode(g, n, NULL, &img), VDM_ERR_FORMAT);

    /* a section inserted before VEND (the last 12 bytes) */
    size_t vend = n - 12;
    uint8_t sec[16] = { 4, 0, 0, 0, 'X', 'T', 'R', 'A', 1, 2, 3, 4 };
    for (int crit = 0; crit < 2; crit++) {
        sec[4] = crit ? 'X' : 'x';
        memcpy(g, f, vend);
        memcpy(g + vend, sec, 12);
        memcpy(g + vend + 16, f + vend, 12);
        fix_crc(g, vend);
        vdm_status st = vdm_vdz_decode(g, n + 16, NULL, &img);
        if (crit) {
            cr_assert_eq(st, VDM_ERR_UNSUPPORTED, "unknown critical section: %s", vdm_error_name(st));
        } else {
            cr_assert_eq(st, VDM_OK, "unknown ancillary section must be skipped: %s", vdm_codec_last_error());
            vdm_image_free(img);
            img = NULL;
        }
    }
    /* trailing garbage */
    memcpy(g, f, n);
    g[n] = 0;
    cr_assert_eq(vdm_vdz_decode(g, n + 1, NULL, &img), VDM_ERR_CORRUPT);

    /* absurd dimensions with a valid CRC: a clear limit error, no allocation */
    memcpy(g, f, n);
    vdm_put_le32(g + 12 + 8, 100000);
    fix_crc(g, 12);
    cr_assert_eq(vdm_vdz_decode(g, n, NULL, &img), VDM_ERR_LIMIT);
    memcpy(g, f, n);
    vdm_put_le32(g + 12 + 8, 65535);
    vdm_put_le32(g + 12 + 12, 65535);
    fix_crc(g, 12);
    cr_assert_eq(vdm_vdz_decode(g, n, NULL, &img), VDM_ERR_LIMIT);
    /* a valid CRC but a wrong pixel digest */
    memcpy(g, f, n);
    g[12 + 8 + 24] ^= 1;
    fix_crc(g, 12);
    cr_assert_eq(vdm_vdz_decode(g, n, NULL, &img), VDM_ERR_CHECKSUM);
    cr_assert_null(img);
    /* a valid CRC but a different image size: payload no longer fits */
    memcpy(g, f, n);
    vdm_put_le32(g + 12 + 8, 12);
    fix_crc(g, 12);
    cr_assert_neq(vdm_vdz_decode(g, n, NULL, &img), VDM_OK);
    free(g);
    free(f);
}

Test(codec_vdz, metadata_kept_or_stripped)
{
    vdm_image *img = make_image(6, 16, 9, 5, 2);
    uint8_t big[5000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i % 7);
    cr_assert_eq(vdm_image_add_chunk(img, "iCCP", 0, big, sizeof big), VDM_OK);
    cr_assert_eq(vdm_image_add_chunk(img, "zzZz", 1, NULL, 0), VDM_OK);
    roundtrip(img, NULL, NULL);
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    o.keep_metadata = 0;
    uint8_t *f;
    size_t n;
    vdm_encode_stats s;
    cr_assert_eq(vdm_vdz_encode(img, &o, &f, &n, &s), VDM_OK);
    cr_assert_eq(s.meta_bytes, 0);
    vdm_image *back;
    cr_assert_eq(vdm_vdz_decode(f, n, NULL, &back), VDM_OK);
    cr_assert_eq(back->nchunks, 0);
    vdm_image_free(back);
    free(f);
    vdm_image_free(img);
}

/* ---- a test-double model path ------------------------------------------
 * "Knows" that the image is the hash pattern below, so its streams are tiny
 * and the container must prefer it; the classical coder codes what it leaves (alpha).
 * This checks MODL framing, chain tables, coverage and model-id routing
 * without the real model. */
static uint8_t pattern(uint32_t x, uint32_t y, unsigned c)
{
    uint32_t h = x * 0x9E3779B1u ^ y * 0x85EBCA77u ^ c * 0xC2B2AE3Du;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    return (uint8_t)h;
}

static unsigned fake_channels(void *ctx, const vdm_image *img)
{
    (void)ctx;
    return (img->bit_depth == 8 && (img->color_type == 2 || img->color_type == 6)) ? 7u : 0u;
}

static vdm_status fake_encode(void *ctx, const vdm_image *img, unsigned mask, const vdm_encode_opts *o,
                              vdm_model_payload *out)
{
    (void)ctx;
    memset(out, 0, sizeof *out);
    memset(out->model_id, 0x5A, 32);
    out->steps = o->steps ? (uint16_t)o->steps : 4;
    out->channel_mask = (uint8_t)mask;
    out->flags = 1;
    out->data_prec = out->latent_prec = out->prior_prec = 16;
    out->tile_w = 16;
    out->tile_h = 8;
    out->xor_seed = 42;
    out->neg_vlb_bits = 100.0;
    out->delta_bits = malloc(4u * (out->steps + 1u));
    for (unsigned i = 0; i <= out->steps; i++) out->delta_bits[i] = 0x3C000000u;   /* 2^-7 */
    out->ntiles = ((img->width + 15) / 16) * ((img->height + 7) / 8);
    out->tile_skip = calloc(out->ntiles, 1);
    out->nchains = out->ntiles >= 2 ? 2 : 1;
    out->chains = calloc(out->nchains, sizeof *out->chains);
    out->owns_streams = 1;
    uint32_t first = 0;
    for (uint32_t k = 0; k < out->nchains; k++) {
        uint32_t cnt = k + 1 == out->nchains ? out->ntiles - first : out->ntiles / 2;
        out->chains[k].first = first;
        out->chains[k].count = cnt;
        out->chains[k].initial_bits = 32;
        uint8_t *s = malloc(2);
        s[0] = (uint8_t)k;
        s[1] = (uint8_t)cnt;
        out->chains[k].stream = s;
        out->chains[k].stream_bytes = 2;
        first += cnt;
    }
    /* the double only "codes" images that are the pattern */
    for (uint32_t y = 0; y < img->height; y++)
        for (uint32_t x = 0; x < img->width; x++)
            for (unsigned c = 0; c < 3; c++)
                if (img->data[((size_t)y * img->width + x) * img->channels + c] != pattern(x, y, c))
                    return VDM_ERR_UNSUPPORTED;
    return VDM_OK;
}

static vdm_status fake_decode(void *ctx, const vdm_model_payload *in, vdm_image *img, unsigned threads,
                              vdm_progress_fn progress, void *progress_user)
{
    (void)ctx;
    (void)threads;
    (void)progress;
    (void)progress_user;
    if (in->nchains < 1 || in->chains[0].stream_bytes != 2 || in->chains[0].stream[0] != 0) return VDM_ERR_CORRUPT;
    for (uint32_t y = 0; y < img->height; y++)
        for (uint32_t x = 0; x < img->width; x++)
            for (unsigned c = 0; c < 3; c++)
                img->data[((size_t)y * img->width + x) * img->channels + c] = pattern(x, y, c);
    return VDM_OK;
}

Test(codec_vdz, model_section_framing_with_a_test_double)
{
    vdm_model_path mp;
    memset(&mp, 0, sizeof mp);
    memset(mp.model_id, 0x5A, 32);
    mp.channels_for = fake_channels;
    mp.encode = fake_encode;
    mp.decode = fake_decode;

    vdm_image *img;
    cr_assert_eq(vdm_image_create(40, 20, VDM_PNG_RGBA, 8, &img), VDM_OK);
    for (uint32_t y = 0; y < 20; y++)
        for (uint32_t x = 0; x < 40; x++) {
            for (unsigned c = 0; c < 3; c++) img->data[((size_t)y * 40 + x) * 4 + c] = pattern(x, y, c);
            img->data[((size_t)y * 40 + x) * 4 + 3] = (uint8_t)(x < 20 ? 255 : 0);
        }
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    o.model = &mp;
    o.steps = 3;
    uint8_t *f;
    size_t n;
    vdm_encode_stats s;
    cr_assert_eq(vdm_vdz_encode(img, &o, &f, &n, &s), VDM_OK, "%s", vdm_codec_last_error());
    cr_assert_eq(s.used_model, 1);
    cr_assert_gt(s.model_bytes, 0);
    cr_assert_gt(s.classical_bytes, 0);   /* alpha */

    vdm_vdz_info info;
    cr_assert_eq(vdm_vdz_probe_header(f, 12 + 12 + 88, &info), VDM_OK);   /* VHDR alone is enough */
    cr_assert_eq(info.needs_model, 1);
    cr_assert_eq(info.model_id[0], 0x5A);
    cr_assert_eq(vdm_vdz_probe(f, n, &info), VDM_OK);
    cr_assert_eq(info.has_model_section, 1);
    cr_assert_eq(info.steps, 3);
    cr_assert_eq(info.tile_w, 16);
    cr_assert_eq(info.ntiles, 9);
    cr_assert_eq(info.nchains, 2);
    cr_assert_eq(info.initial_bits, 64);
    cr_assert_eq(info.model_channel_mask, 7);
    cr_assert_eq(info.nclassical, 1);
    cr_assert_eq(info.classical[0].channel_mask, 8);

    vdm_image *back = NULL;
    cr_assert_eq(vdm_vdz_decode(f, n, NULL, &back), VDM_ERR_MODEL_MISMATCH);
    cr_assert_null(back);
    vdm_decode_opts d;
    memset(&d, 0, sizeof d);
    d.model = &mp;
    cr_assert_eq(vdm_vdz_decode(f, n, &d, &back), VDM_OK, "%s", vdm_codec_last_error());
    cr_assert(images_equal(img, back));
    vdm_image_free(back);
    back = NULL;
    vdm_model_path other = mp;
    other.model_id[31] ^= 1;
    d.model = &other;
    cr_assert_eq(vdm_vdz_decode(f, n, &d, &back), VDM_ERR_MODEL_MISMATCH);
    cr_assert(strstr(vdm_codec_last_error(), "5a5a5a5a") != NULL, "%s", vdm_codec_last_error());

    /* an image the double cannot code makes the encoder fail loudly, never write junk */
    img->data[0] ^= 1;
    uint8_t *f2;
    size_t n2;
    cr_assert_eq(vdm_vdz_encode(img, &o, &f2, &n2, NULL), VDM_ERR_UNSUPPORTED);

    /* damaged chain table (valid CRC): a clear error before decoding */
    size_t modl = 12 + 12 + 88;
    cr_assert(!memcmp(f + modl + 4, "MODL", 4));
    size_t chains = modl + 8 + 64 + 4 * 4 + 2;   /* T=3: 4 deltas; 9 tiles: 2 map bytes */
    f[chains + 4] ^= 1;                            /* chain 0's count */
    fix_crc(f, modl);
    d.model = &mp;
    cr_assert_eq(vdm_vdz_decode(f, n, &d, &back), VDM_ERR_CORRUPT);
    free(f);
    vdm_image_free(img);
}

/* Methods 2..5 tile by tile (MODL CM tiles, vdz.md §6.2): every tile's stream
 * comes from one pass with one state, so the tiles together cost about what
 * the whole image costs (a few bytes of flush per tile), any subset decodes
 * while the other tiles are only observed, and a damaged stream is an error. */
static void cm_tiles_roundtrip_any_subset(int method);
Test(codec_vdz, cm_tiles_roundtrip_any_subset, .timeout = 60) { cm_tiles_roundtrip_any_subset(2); }
Test(codec_vdz, cm3_tiles_roundtrip_any_subset, .timeout = 120) { cm_tiles_roundtrip_any_subset(3); }
Test(codec_vdz, cm4_tiles_roundtrip_any_subset, .timeout = 240) { cm_tiles_roundtrip_any_subset(4); }
Test(codec_vdz, cm5_tiles_roundtrip_any_subset, .timeout = 400) { cm_tiles_roundtrip_any_subset(5); }
Test(codec_vdz, cm6_tiles_roundtrip_any_subset, .timeout = 400) { cm_tiles_roundtrip_any_subset(6); }
/* method 9 codes R and B rows behind G: the tiles' streams in that order */
Test(codec_vdz, cm9_tiles_roundtrip_any_subset, .timeout = 400) { cm_tiles_roundtrip_any_subset(9); }

static vdm_status tiles_enc(int method, const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *out)
{
    return method >= 4 ? vdm_cm_tiles_encode((unsigned)method, g, tw, th, out)
         : method == 3 ? vdm_cm3_tiles_encode(g, tw, th, out) : vdm_cm2_tiles_encode(g, tw, th, out);
}

static vdm_status tiles_dec(int method, const vdm_subimage *g, uint32_t tw, uint32_t th, const uint8_t *const *in,
                            const size_t *n)
{
    return method >= 4 ? vdm_cm_tiles_decode((unsigned)method, g, tw, th, in, n)
         : method == 3 ? vdm_cm3_tiles_decode(g, tw, th, in, n) : vdm_cm2_tiles_decode(g, tw, th, in, n);
}

static void cm_tiles_roundtrip_any_subset(int method)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/kodak/kodim23.png", VDM_SHARED_DIR "/data");
    vdm_image *src;
    vdm_status st = vdm_png_read_file(path, &src);
    if (st == VDM_ERR_IO) cr_skip_test("Kodak images not available at %s", path);
    cr_assert_eq(st, VDM_OK);
    /* an RGBA copy of the top-left 200x130 (alpha is not touched) */
    const uint32_t W = 200, H = 130, tw = 64, th = 48;
    vdm_image *img;
    cr_assert_eq(vdm_image_create(W, H, VDM_PNG_RGBA, 8, &img), VDM_OK);
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            for (unsigned c = 0; c < 3; c++)
                img->data[((size_t)y * W + x) * 4 + c] = src->data[((size_t)y * src->width + x) * 3 + c];
            img->data[((size_t)y * W + x) * 4 + 3] = (uint8_t)(x ^ y);
        }
    vdm_image_free(src);
    vdm_subimage g;
    memset(&g, 0, sizeof g);
    g.width = W; g.height = H; g.nch = 3; g.bit_depth = 8; g.maxval = 255; g.rgb = 1;
    g.data = img->data; g.stride = 4; g.chan[0] = 0; g.chan[1] = 1; g.chan[2] = 2;

    const uint32_t nt = ((W + tw - 1) / tw) * ((H + th - 1) / th);   /* 4 x 3 */
    vdm_buf tiles[12], whole;
    memset(tiles, 0, sizeof tiles);
    memset(&whole, 0, sizeof whole);
    cr_assert_eq(nt, 12);
    cr_assert_eq(tiles_enc(method, &g, tw, th, tiles), VDM_OK);
    cr_assert_eq(method >= 4 ? vdm_cm_encode((unsigned)method, &g, NULL, &whole)
                 : method == 3 ? vdm_cm3_encode(&g, &whole) : vdm_cm2_encode(&g, &whole), VDM_OK);
    size_t sum = 0;
    for (uint32_t t = 0; t < nt; t++) { cr_assert_geq(tiles[t].size, 4); sum += tiles[t].size; }
    cr_log_info("method %d: whole image %zu bytes, 12 tile streams %zu bytes", method, whole.size, sum);
    cr_assert(sum <= whole.size + 5 * nt && sum + 4 * nt >= whole.size - 4,
              "tiles %zu bytes vs whole %zu", sum, whole.size);

    /* the same streams again (the encoder is a function of the image) */
    vdm_buf again[12];
    memset(again, 0, sizeof again);
    cr_assert_eq(tiles_enc(method, &g, tw, th, again), VDM_OK);
    for (uint32_t t = 0; t < nt; t++) {
        cr_assert(again[t].size == tiles[t].size && !memcmp(again[t].data, tiles[t].data, tiles[t].size));
        vdm_buf_free(&again[t]);
    }
    if (method >= 4) {
        /* one pass, both outputs (the encoder's classical file + the model
         * path's CM tiles): the same bytes as the two separate passes */
        vdm_buf w2 = { 0 };
        memset(again, 0, sizeof again);
        cr_assert_eq(vdm_cm_encode_tiled((unsigned)method, &g, tw, th, &w2, again), VDM_OK);
        cr_assert(w2.size == whole.size && !memcmp(w2.data, whole.data, whole.size), "whole stream differs");
        for (uint32_t t = 0; t < nt; t++) {
            cr_assert(again[t].size == tiles[t].size && !memcmp(again[t].data, tiles[t].data, tiles[t].size),
                      "tile %u differs", t);
            vdm_buf_free(&again[t]);
        }
        vdm_buf_free(&w2);
    }

    uint8_t *orig = malloc((size_t)W * H * 4);
    memcpy(orig, img->data, (size_t)W * H * 4);
    const uint8_t *in[12];
    size_t n[12];
    uint32_t ntx = (W + tw - 1) / tw;
    for (unsigned mask = 1; mask < 4096; mask = mask * 5 + 3) {   /* assorted subsets, all 12 included */
        unsigned m = mask & 4095u;
        if (mask > 3000) m = 4095u;
        for (uint32_t t = 0; t < nt; t++) {
            in[t] = (m >> t) & 1u ? tiles[t].data : NULL;
            n[t] = tiles[t].size;
        }
        for (uint32_t y = 0; y < H; y++)   /* scramble the decoded tiles' R, G, B */
            for (uint32_t x = 0; x < W; x++)
                if ((m >> ((y / th) * ntx + x / tw)) & 1u)
                    for (unsigned c = 0; c < 3; c++) img->data[((size_t)y * W + x) * 4 + c] = 0x5A;
        st = tiles_dec(method, &g, tw, th, in, n);
        cr_assert_eq(st, VDM_OK, "subset 0x%03x: %s", m, vdm_error_name(st));
        cr_assert(!memcmp(img->data, orig, (size_t)W * H * 4), "subset 0x%03x decoded wrongly", m);
        if (m == 4095u) break;
    }
    /* damage: one byte short, one byte too many, a flipped byte */
    for (uint32_t t = 0; t < nt; t++) { in[t] = NULL; n[t] = 0; }
    in[5] = tiles[5].data;
    n[5] = tiles[5].size - 1;
    cr_assert_eq(tiles_dec(method, &g, tw, th, in, n), VDM_ERR_CORRUPT);
    uint8_t *longer = malloc(tiles[5].size + 1);
    memcpy(longer, tiles[5].data, tiles[5].size);
    longer[tiles[5].size] = 0;
    in[5] = longer;
    n[5] = tiles[5].size + 1;
    cr_assert_eq(tiles_dec(method, &g, tw, th, in, n), VDM_ERR_CORRUPT);
    memcpy(longer, tiles[5].data, tiles[5].size);
    longer[2] ^= 0x40;
    n[5] = tiles[5].size;
    st = tiles_dec(method, &g, tw, th, in, n);
    cr_assert(st == VDM_ERR_CORRUPT || memcmp(img->data, orig, (size_t)W * H * 4), "a flipped byte went unnoticed");
    /* wrong arguments */
    vdm_subimage gray = g;
    gray.rgb = 0;
    cr_assert_eq(tiles_dec(method, &gray, tw, th, in, n), VDM_ERR_ARG);
    cr_assert_eq(tiles_enc(method, &g, 0, th, tiles), VDM_ERR_ARG);
    if (method == 3) {   /* method 3's width limit */
        vdm_subimage wide = g;
        wide.width = VDM_CM3_MAX_WIDTH + 1;
        vdm_buf b = { 0 };
        cr_assert_eq(vdm_cm3_encode(&wide, &b), VDM_ERR_ARG);
        uint8_t hdr[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
        cr_assert_eq(vdm_cm3_decode(&wide, hdr, sizeof hdr), VDM_ERR_CORRUPT);
    }
    if (method >= 4) {   /* methods 4 to 6's width limit */
        vdm_subimage wide = g;
        wide.width = VDM_CM4_MAX_WIDTH + 1;
        vdm_buf b = { 0 };
        cr_assert_eq(vdm_cm_encode((unsigned)method, &wide, NULL, &b), VDM_ERR_ARG);
        uint8_t hdr[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
        cr_assert_eq(vdm_cm_decode((unsigned)method, &wide, NULL, hdr, sizeof hdr), VDM_ERR_CORRUPT);
    }
    free(longer);
    free(orig);
    for (uint32_t t = 0; t < nt; t++) vdm_buf_free(&tiles[t]);
    vdm_buf_free(&whole);
    vdm_image_free(img);
}
