/* roundtrip.c — libvdmzip in one page: encode a PNG in memory, decode it
 * back, check that the pixels are identical.
 *
 *   cc roundtrip.c $(pkg-config --cflags --libs vdmzip) -o roundtrip
 *   ./roundtrip image.png
 *
 * Exit status 0 only on an exact round trip; the last line of the output
 * gives the sizes and the bits per sub-pixel.
 *
 * How "identical" is checked: the PNG's own samples (vdmzip_png_to_pixels,
 * the same samples the encoder codes) against the samples decoded from the
 * .vdz, field by field and sample by sample.  The decoder also checks the
 * samples against the SHA-256 the encoder stored in the file.  Decoded PNG
 * bytes are not compared with the input's: the same pixels may be
 * compressed differently by a PNG writer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vdmzip.h>

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return NULL; }
    *size = n;
    return buf;
}

/* Encode png with the given mode and decode the result to samples. */
static int code_and_decode(const vdmzip_model *model, int mode, const void *png, size_t png_size,
                           vdmzip_pixels **pixels, vdmzip_stats *stats)
{
    vdmzip_options opts;
    vdmzip_options_init(&opts);
    opts.mode = mode;

    vdmzip_encoder *enc = NULL;
    vdmzip_error e = vdmzip_encoder_create(model, &opts, &enc);
    if (e != VDMZIP_OK) {
        fprintf(stderr, "roundtrip: encoder: %s\n", vdmzip_error_string(e));
        return 0;
    }
    void *vdz = NULL;
    size_t vdz_size = 0;
    e = vdmzip_encode_png(enc, png, png_size, &vdz, &vdz_size);
    if (e != VDMZIP_OK) {
        fprintf(stderr, "roundtrip: encode: %s (%s)\n", vdmzip_error_string(e), vdmzip_encoder_error_detail(enc));
        vdmzip_encoder_free(enc);
        return 0;
    }
    vdmzip_encoder_stats(enc, stats);
    vdmzip_encoder_free(enc);

    vdmzip_decoder *dec = NULL;
    e = vdmzip_decoder_create(model, NULL, &dec);
    if (e == VDMZIP_OK) e = vdmzip_decode_pixels(dec, vdz, vdz_size, pixels);
    if (e != VDMZIP_OK)
        fprintf(stderr, "roundtrip: decode: %s (%s)\n", vdmzip_error_string(e),
                dec ? vdmzip_decoder_error_detail(dec) : "");
    vdmzip_decoder_free(dec);
    vdmzip_free(vdz);
    return e == VDMZIP_OK;
}

static int same_pixels(const vdmzip_pixels *a, const vdmzip_pixels *b)
{
    if (a->width != b->width || a->height != b->height || a->color_type != b->color_type ||
        a->bit_depth != b->bit_depth || a->channels != b->channels || a->stride != b->stride ||
        a->palette_size != b->palette_size || a->palette_alpha_count != b->palette_alpha_count ||
        a->has_key != b->has_key)
        return 0;
    if (memcmp(a->palette, b->palette, sizeof a->palette) ||
        memcmp(a->palette_alpha, b->palette_alpha, sizeof a->palette_alpha) ||
        (a->has_key && memcmp(a->key, b->key, sizeof a->key)))
        return 0;
    return memcmp(a->data, b->data, a->stride * a->height) == 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE.png\n", argv[0]);
        return 2;
    }
    size_t png_size = 0;
    unsigned char *png = read_file(argv[1], &png_size);
    if (!png) {
        perror(argv[1]);
        return 1;
    }
    printf("libvdmzip %s (header %s)\n", vdmzip_version_string(), VDMZIP_VERSION_STRING);

    /* The default model ($VDMZIP_MODEL, else the installed one).  Without
     * one the classical coder codes everything, which is still lossless. */
    vdmzip_model *model = NULL;
    char model_path[4096] = "";
    const char *p = vdmzip_model_default_path();   /* valid until the next call: copy */
    if (p) snprintf(model_path, sizeof model_path, "%s", p);
    vdmzip_error e = vdmzip_model_load_default(&model);
    if (e == VDMZIP_OK) {
        printf("model: %s\n", model_path);
    } else {
        fprintf(stderr, "roundtrip: no default model (%s): classical coder only\n", vdmzip_error_string(e));
        model = NULL;
    }

    vdmzip_pixels *coded = NULL, *reference = NULL;
    vdmzip_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    e = vdmzip_png_to_pixels(png, png_size, &reference);
    if (e != VDMZIP_OK) fprintf(stderr, "roundtrip: %s: %s\n", argv[1], vdmzip_error_string(e));
    int ok = e == VDMZIP_OK && code_and_decode(model, VDMZIP_MODE_AUTO, png, png_size, &coded, &st);
    if (ok && !same_pixels(coded, reference)) {
        fprintf(stderr, "roundtrip: the decoded pixels differ\n");
        ok = 0;
    }
    if (ok)
        printf("%ux%u, %d channel(s) of %d bits: identical after the round trip (%s)\n", coded->width,
               coded->height, coded->channels, coded->bit_depth,
               st.used_model ? "diffusion model" : "classical coder");
    vdmzip_pixels_free(coded);
    vdmzip_pixels_free(reference);
    vdmzip_model_free(model);
    free(png);
    if (!ok) {
        printf("FAILED: %s\n", argv[1]);
        return 1;
    }
    printf("%s: png %zu bytes -> vdz %llu bytes, %.4f bits/sub-pixel\n", argv[1], png_size,
           (unsigned long long)st.file_bytes, st.bits_per_subpixel);
    return 0;
}
