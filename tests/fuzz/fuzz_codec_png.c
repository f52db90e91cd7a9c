/* fuzz_codec_png.c — the PNG reader (libpng behind setjmp) on arbitrary
 * bytes: no crash or leak; whatever reads must write back and read again to
 * the same samples, type, depth, palette and chunks.  PNGs claiming more
 * than 2^18 pixels are skipped (slow, not interesting).  Each input also
 * runs with every chunk CRC recomputed, so mutations reach libpng's chunk
 * and zlib handling instead of stopping at the CRC. */
#include <stdlib.h>
#include <string.h>

#include "codec/png_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t crc32_bytes(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

static void fix_crcs(uint8_t *b, size_t n)
{
    size_t p = 8;
    while (n >= 12 && p <= n - 12) {
        uint32_t len = (uint32_t)b[p] << 24 | (uint32_t)b[p + 1] << 16 | (uint32_t)b[p + 2] << 8 | b[p + 3];
        if (len > n - p - 12) break;
        uint32_t c = crc32_bytes(0, b + p + 4, 4 + (size_t)len);
        uint8_t *q = b + p + 8 + len;
        q[0] = (uint8_t)(c >> 24);
        q[1] = (uint8_t)(c >> 16);
        q[2] = (uint8_t)(c >> 8);
        q[3] = (uint8_t)c;
        p += 12 + (size_t)len;
    }
}

static int one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fix_crcs(copy, size);
    one(copy, size);
    free(copy);
    return 0;
}

static int one(const uint8_t *data, size_t size)
{
    if (size >= 24) {
        uint64_t w = (uint64_t)data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
        uint64_t h = (uint64_t)data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
        if (w * h > ((uint64_t)1 << 18)) return 0;
    }
    vdm_image *img = NULL;
    if (vdm_png_read_mem(data, size, &img) != VDM_OK) {
        if (img) abort();
        return 0;
    }
    if (vdm_image_validate(img) != VDM_OK) abort();
    uint8_t *out = NULL;
    size_t n = 0;
    if (vdm_png_write_mem(img, &out, &n) != VDM_OK) abort();
    vdm_image *back = NULL;
    if (vdm_png_read_mem(out, n, &back) != VDM_OK) abort();
    if (back->width != img->width || back->height != img->height || back->color_type != img->color_type ||
        back->bit_depth != img->bit_depth || back->interlace != img->interlace ||
        back->palette_size != img->palette_size || back->trns_count != img->trns_count ||
        back->nchunks != img->nchunks ||
        memcmp(back->data, img->data, (size_t)vdm_image_sample_bytes(img->width, img->height, img->channels, img->bit_depth)))
        abort();
    for (uint32_t i = 0; i < img->nchunks; i++)
        if (strcmp(back->chunks[i].name, img->chunks[i].name) || back->chunks[i].size != img->chunks[i].size ||
            (img->chunks[i].size && memcmp(back->chunks[i].data, img->chunks[i].data, img->chunks[i].size)))
            abort();
    free(out);
    vdm_image_free(back);
    vdm_image_free(img);
    return 0;
}
