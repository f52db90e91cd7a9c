/* bench_pngdiff.c — do two PNGs hold exactly the same pixels?
 *
 * The verifier behind benchmarks/compare.sh: every codec's round trip is
 * decoded back to PNG and compared with the original here, so a size in the
 * results table is only reported for a lossless round trip (QOI's benchmark
 * habit).
 *
 * "Same pixels" is judged on what the samples MEAN, not on how the PNG stores
 * them, because peers legally change the storage (optipng turns RGB into a
 * palette, dwebp writes RGBA for an opaque RGB image, djxl may drop an unused
 * alpha channel):
 *   - every pixel is expanded to 16-bit R,G,B,A: palette looked up, gray
 *     replicated, a missing alpha is opaque (65535), tRNS applied (a key
 *     colour becomes alpha 0, palette entries take their tRNS alpha);
 *   - a d-bit sample v (d <= 8) becomes v * 65535 / (2^d - 1), which is an
 *     exact integer for d = 1, 2, 4, 8 (65535 = 3*5*17*257), so the expansion
 *     loses nothing and two files agree iff their samples agree exactly.  In
 *     particular a 16-bit image survives an 8-bit copy only when every value
 *     is a multiple of 257 — the honest lossless criterion;
 *   - colour under alpha 0 is compared too (a codec that "cleans" invisible
 *     pixels is not lossless for RGBA data).
 * Ancillary chunks (text, ICC, gAMA...) are not compared: codecs differ in
 * what metadata they keep, and the table measures pixels.
 *
 * usage: bench_pngdiff A.png B.png   exit 0 identical, 1 different, 2 error
 *        bench_pngdiff --info A.png  print "width height channels bit_depth
 *                                    color_type" (channels as stored: the
 *                                    sub-pixel count compare.sh divides by)
 *                                    after decoding all pixels; exit 0 / 2 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec/png_io.h"

static int load(const char *path, vdm_image **img)
{
    vdm_status st = vdm_png_read_file(path, img);
    if (st != VDM_OK) {
        const char *why = vdm_png_last_error();
        fprintf(stderr, "bench_pngdiff: %s: %s%s%s\n", path, vdm_error_name(st), *why ? ": " : "", why);
        return 0;
    }
    return 1;
}

/* Pixel (x, y) of img as 16-bit R, G, B, A (see the header for the rules). */
static void pixel_rgba16(const vdm_image *img, uint32_t x, uint32_t y, uint16_t out[4])
{
    const unsigned c = img->channels, d = img->bit_depth;
    const uint64_t at = ((uint64_t)y * img->width + x) * c;
    uint32_t s[4] = {0, 0, 0, 0};
    for (unsigned i = 0; i < c; i++)
        s[i] = d == 16 ? ((const uint16_t *)(const void *)img->data)[at + i] : img->data[at + i];
    /* 65535 / (2^d - 1) is an integer for every PNG depth <= 8 */
    const uint32_t scale = d == 16 ? 1u : 65535u / ((1u << d) - 1u);
    uint32_t r, g, b, a = 65535;
    switch (img->color_type) {
    case VDM_PNG_PALETTE: {
        const uint32_t idx = s[0];
        /* validated by the reader: idx < palette_size */
        r = img->palette[idx][0] * 257u;
        g = img->palette[idx][1] * 257u;
        b = img->palette[idx][2] * 257u;
        if (idx < img->trns_count) a = img->trns_alpha[idx] * 257u;
        break;
    }
    case VDM_PNG_GRAY:
    case VDM_PNG_GRAY_ALPHA:
        r = g = b = s[0] * scale;
        if (img->color_type == VDM_PNG_GRAY_ALPHA) a = s[1] * scale;
        else if (img->trns_count && s[0] == img->trns_key[0]) a = 0;
        break;
    default: /* RGB, RGBA */
        r = s[0] * scale;
        g = s[1] * scale;
        b = s[2] * scale;
        if (img->color_type == VDM_PNG_RGBA) a = s[3] * scale;
        else if (img->trns_count && s[0] == img->trns_key[0] && s[1] == img->trns_key[1] &&
                 s[2] == img->trns_key[2])
            a = 0;
        break;
    }
    out[0] = (uint16_t)r;
    out[1] = (uint16_t)g;
    out[2] = (uint16_t)b;
    out[3] = (uint16_t)a;
}

static int info(const char *path)
{
    vdm_image *img = NULL;
    if (!load(path, &img)) return 2;
    printf("%" PRIu32 " %" PRIu32 " %u %u %u\n", img->width, img->height, img->channels, img->bit_depth,
           img->color_type);
    vdm_image_free(img);
    return 0;
}

static int diff(const char *pa, const char *pb)
{
    vdm_image *a = NULL, *b = NULL;
    int rc = 2;
    if (!load(pa, &a) || !load(pb, &b)) goto done;
    if (a->width != b->width || a->height != b->height) {
        fprintf(stderr, "bench_pngdiff: DIFFERENT sizes: %s is %" PRIu32 "x%" PRIu32 ", %s is %" PRIu32
                "x%" PRIu32 "\n", pa, a->width, a->height, pb, b->width, b->height);
        rc = 1;
        goto done;
    }
    uint64_t ndiff = 0;
    uint32_t fx = 0, fy = 0;
    uint16_t fa[4] = {0}, fb[4] = {0};
    for (uint32_t y = 0; y < a->height; y++)
        for (uint32_t x = 0; x < a->width; x++) {
            uint16_t pa16[4], pb16[4];
            pixel_rgba16(a, x, y, pa16);
            pixel_rgba16(b, x, y, pb16);
            if (memcmp(pa16, pb16, sizeof pa16) != 0) {
                if (ndiff++ == 0) {
                    fx = x;
                    fy = y;
                    memcpy(fa, pa16, sizeof fa);
                    memcpy(fb, pb16, sizeof fb);
                }
            }
        }
    if (ndiff) {
        fprintf(stderr,
                "bench_pngdiff: DIFFERENT pixels: %" PRIu64 " of %" PRIu64 " differ; first at (%" PRIu32
                ",%" PRIu32 "): %s RGBA16 %u,%u,%u,%u vs %s %u,%u,%u,%u\n",
                ndiff, (uint64_t)a->width * a->height, fx, fy, pa, fa[0], fa[1], fa[2], fa[3], pb, fb[0], fb[1],
                fb[2], fb[3]);
        rc = 1;
    } else {
        rc = 0;
    }
done:
    vdm_image_free(a);
    vdm_image_free(b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--info") == 0) return info(argv[2]);
    if (argc == 3 && argv[1][0] != '-') return diff(argv[1], argv[2]);
    fprintf(stderr,
            "usage: bench_pngdiff A.png B.png    exit 0 same pixels, 1 different, 2 error\n"
            "       bench_pngdiff --info A.png   print: width height channels bit_depth color_type\n");
    return 2;
}
