/* fuzz_codec_decode.c — the full .vdz decoder on arbitrary bytes.  Whatever
 * decodes must re-encode, decode again to the same image, and re-encode to
 * the same bytes (determinism), as zstd's fuzzers check.  Inputs that claim
 * more than 2^20 samples are skipped after the header check: decoding them
 * is legitimate but too slow for fuzzing throughput.  Each input is also
 * decoded once more with every section CRC recomputed, so that mutations
 * reach the payload decoders (CM, zstd, stored, META) instead of stopping
 * at the CRC check. */
#include <stdlib.h>
#include <string.h>

#include "codec/vdz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const vdm_image *a, const vdm_image *b)
{
    if (a->width != b->width || a->height != b->height || a->color_type != b->color_type ||
        a->bit_depth != b->bit_depth || a->interlace != b->interlace || a->nchunks != b->nchunks ||
        a->palette_size != b->palette_size || a->trns_count != b->trns_count)
        return 0;
    return !memcmp(a->data, b->data, (size_t)vdm_image_sample_bytes(a->width, a->height, a->channels, a->bit_depth));
}

/* CRC-32 (PNG/zlib polynomial), bitwise: fuzz inputs are small. */
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
    size_t p = 12;
    while (n >= 12 && p <= n - 12) {
        uint32_t len = vdm_get_le32(b + p);
        if (len > n - p - 12) break;
        vdm_put_le32(b + p + 8 + len, crc32_bytes(0, b + p + 4, 4 + (size_t)len));
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
    vdm_vdz_info h;
    if (vdm_vdz_probe_header(data, size, &h) == VDM_OK &&
        (uint64_t)h.width * h.height * h.channels > ((uint64_t)1 << 20))
        return 0;
    vdm_image *img = NULL;
    vdm_status st = vdm_vdz_decode(data, size, NULL, &img);
    if (st != VDM_OK) {
        if (img) abort();
        return 0;
    }
    if (vdm_image_validate(img) != VDM_OK) abort();
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    o.effort = 0;   /* keep the fuzzer fast: CM or stored */
    uint8_t *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    if (vdm_vdz_encode(img, &o, &a, &an, NULL) != VDM_OK) abort();
    vdm_image *back = NULL;
    if (vdm_vdz_decode(a, an, NULL, &back) != VDM_OK || !same(img, back)) abort();
    if (vdm_vdz_encode(back, &o, &b, &bn, NULL) != VDM_OK || an != bn || memcmp(a, b, an)) abort();
    free(a);
    free(b);
    vdm_image_free(back);
    vdm_image_free(img);
    return 0;
}
