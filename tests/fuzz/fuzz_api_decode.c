/* fuzz_api_decode.c — the public API's decoder (vdmzip_decode_png,
 * vdmzip_decode_pixels, vdmzip_get_info) on arbitrary bytes, with a decoder
 * that has no model: no crash, no leak, no UB; outputs set only on success;
 * whatever decodes is described by get_info (needing no model), decodes the
 * same way as pixels, and round-trips through the encoder to the same PNG.
 * Inputs that claim more than 2^20 samples are only described (decoding them
 * is legitimate but too slow for fuzzing throughput). */
#include <stdlib.h>
#include <string.h>

#include "vdmzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vdmzip_info info;
    const vdmzip_error ie = vdmzip_get_info(data, size, &info);
    if (ie == VDMZIP_OK && (uint64_t)info.width * info.height * (uint64_t)info.channels > ((uint64_t)1 << 20))
        return 0;
    vdmzip_decoder *dec = NULL;
    if (vdmzip_decoder_create(NULL, NULL, &dec) != VDMZIP_OK) abort();
    void *png = NULL;
    size_t pn = 0;
    const vdmzip_error e = vdmzip_decode_png(dec, data, size, &png, &pn);
    if (e != VDMZIP_OK) {
        if (png || !vdmzip_decoder_error_detail(dec)[0]) abort();
        /* a file that needs a model fails as such once its structure is sound */
        if (ie == VDMZIP_OK && info.needs_model && e != VDMZIP_ERROR_MODEL_MISMATCH) abort();
        vdmzip_decoder_free(dec);
        return 0;
    }
    if (ie != VDMZIP_OK || info.needs_model) abort();
    vdmzip_pixels *px = NULL;
    if (vdmzip_decode_pixels(dec, data, size, &px) != VDMZIP_OK) abort();
    if (px->width != info.width || px->height != info.height || px->color_type != info.color_type ||
        px->bit_depth != info.bit_depth || px->channels != info.channels)
        abort();
    vdmzip_pixels_free(px);
    /* PNG -> .vdz -> PNG gives the same PNG bytes */
    vdmzip_options o;
    vdmzip_options_init(&o);
    o.mode = VDMZIP_MODE_CLASSICAL;
    o.effort = 0;   /* keep the fuzzer fast */
    vdmzip_encoder *enc = NULL;
    if (vdmzip_encoder_create(NULL, &o, &enc) != VDMZIP_OK) abort();
    void *vdz = NULL, *back = NULL;
    size_t vn = 0, bn = 0;
    if (vdmzip_encode_png(enc, png, pn, &vdz, &vn) != VDMZIP_OK) abort();
    if (vdmzip_decode_png(dec, vdz, vn, &back, &bn) != VDMZIP_OK) abort();
    if (bn != pn || memcmp(back, png, pn)) abort();
    vdmzip_free(back);
    vdmzip_free(vdz);
    vdmzip_free(png);
    vdmzip_encoder_free(enc);
    vdmzip_decoder_free(dec);
    return 0;
}
