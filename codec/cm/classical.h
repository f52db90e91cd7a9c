/* classical.h — the classical (non-model) lossless coders of the FBCK
 * ("classical") sections: methods 0 stored, 1 zstd, 2 CM, 3 CM3 declared
 * here, methods 4 CM4, 5 CM5, 6 CM6 and 7 CM7 in cm4.h.  They code whole images, what
 * the model does not cover, and the model file's CM tiles.  Internal to
 * codec/; format-spec/vdz.md §5 and §8 are the normative text.
 *
 * All coders work on a "sub-image": some channels (1..4) of a canonical
 * image, width x height pixels, each sample <= maxval, where
 * maxval = 2^bit_depth - 1 (or palette_size - 1 for palette indices: the CM
 * coder then codes indices, the others pack them at bit_depth).  The
 * coders read and write the image buffer in place (no copy: the largest
 * legal image is 1 GiB of samples).
 * Everything is integer arithmetic; the same input gives the same bytes on
 * every machine (for method 1 given the same libzstd version: zstd's format
 * is stable, its encoder's output is not promised across versions).
 *
 * Encoders append to a growable byte buffer; decoders write the coded
 * channels of g->data and check that they consume their whole payload and
 * that every sample is in range (VDM_ERR_CORRUPT otherwise). */
#ifndef VDM_CODEC_CM_CLASSICAL_H
#define VDM_CODEC_CM_CLASSICAL_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"
#include "codec/cm/cm_side.h"

typedef struct vdm_buf {
    uint8_t *data;   /* malloc; owner frees with free() (vdm_buf_free) */
    size_t size, cap;
} vdm_buf;

vdm_status vdm_buf_reserve(vdm_buf *b, size_t extra);
vdm_status vdm_buf_append(vdm_buf *b, const void *p, size_t n);
void vdm_buf_free(vdm_buf *b);

typedef struct vdm_subimage {
    uint32_t width, height;
    unsigned nch;        /* channels coded: 1..4 */
    unsigned bit_depth;  /* 1,2,4,8,16: how stored/zstd pack the samples */
    unsigned maxval;     /* every sample <= maxval (< 2^bit_depth) */
    int rgb;             /* coded channels 0,1,2 are R,G,B (CM codes G first
                            and predicts R and B from it) */
    int indexed;         /* samples are palette indices (method 1 then does
                            not filter: differences of indices mean nothing) */
    /* Where the samples live: a canonical image buffer (png_io.h layout:
     * one byte per sample, or host-order uint16_t when bit_depth == 16)
     * with `stride` samples per pixel; coded channel c is at offset chan[c].
     * Encoders only read it; decoders write exactly the coded channels. */
    uint8_t *data;
    unsigned stride;
    unsigned chan[4];
    /* Optional progress report (rows done / height), may be NULL; a
     * non-zero return cancels (the coder returns VDM_ERR_CANCELLED). */
    int (*progress)(void *user, double fraction);
    void *progress_user;
} vdm_subimage;

static inline uint32_t vdm_sub_get(const vdm_subimage *g, size_t pixel, unsigned c)
{
    size_t i = pixel * g->stride + g->chan[c];
    return g->bit_depth == 16 ? ((const uint16_t *)(const void *)g->data)[i] : g->data[i];
}

static inline void vdm_sub_put(const vdm_subimage *g, size_t pixel, unsigned c, uint32_t v)
{
    size_t i = pixel * g->stride + g->chan[c];
    if (g->bit_depth == 16) ((uint16_t *)(void *)g->data)[i] = (uint16_t)v;
    else g->data[i] = (uint8_t)v;
}

/* Classical methods: FBCK.method, and MODL.cm_method for the CM tiles (2..9). */
enum {
    VDM_CLASSICAL_STORED = 0,
    VDM_CLASSICAL_ZSTD = 1,
    VDM_CLASSICAL_CM2 = 2,
    VDM_CLASSICAL_CM3 = 3,
    VDM_CLASSICAL_CM4 = 4,   /* cm4.h */
    VDM_CLASSICAL_CM5 = 5,   /* cm4.h */
    VDM_CLASSICAL_CM6 = 6,   /* cm4.h */
    VDM_CLASSICAL_CM7 = 7,   /* cm4.h */
    VDM_CLASSICAL_CM8 = 8,   /* cm4.h */
    VDM_CLASSICAL_CM9 = 9,   /* cm4.h */
    VDM_CLASSICAL_MAX = VDM_CLASSICAL_CM9   /* the highest method a decoder knows */
};
/* The context-mixing method the encoder writes from effort 1 on (the whole
 * image's classical section and the model file's CM tiles), unless its
 * options ask for method 4 (vdm_encode_opts.cm_method; tests, benchmarks). */
#define VDM_CLASSICAL_CM_DEFAULT VDM_CLASSICAL_CM9
/* Method 3 keeps least-squares sums per column (about 2.7 KiB per column and
 * channel), so it is defined for sub-images up to this width only. */
#define VDM_CM3_MAX_WIDTH 16384u

/* Bytes of one packed row (as PNG packs the sub-image's samples). */
uint64_t vdm_sub_rowbytes(const vdm_subimage *g);

/* Method 0: packed rows.  Bytes = height * rowbytes. */
vdm_status vdm_stored_encode(const vdm_subimage *g, vdm_buf *out);
vdm_status vdm_stored_decode(const vdm_subimage *g, const uint8_t *in, size_t n);

/* Method 1: PNG-filtered packed rows in one zstd frame. */
vdm_status vdm_zstd_encode(const vdm_subimage *g, int level, vdm_buf *out);
vdm_status vdm_zstd_decode(const vdm_subimage *g, const uint8_t *in, size_t n);

/* Method 2: context-modelled prediction + binary range coding (§8). */
vdm_status vdm_cm2_encode(const vdm_subimage *g, vdm_buf *out);
vdm_status vdm_cm2_decode(const vdm_subimage *g, const uint8_t *in, size_t n);

/* Method 2 tile by tile, for the CM tiles of a MODL section (vdz.md §6.2).
 * One pass over the whole sub-image in raster order with ONE adaptive state
 * (the same rules as method 2, rgb order required), where the samples of
 * tile t (tiles of tw x th pixels in raster order, clipped) are coded into
 * tile t's own range-coder stream, stored without its first byte (always
 * 0).  Samples that a stream does not code still update the state exactly
 * as coding them would, so every tile's stream, and its length, depend on
 * the image alone and not on which other tiles are coded this way.
 *   encode: out[t] (ntiles buffers, appended to) receives every tile's stream.
 *   decode: in[t] / n[t] is tile t's stream, or in[t] == NULL when tile t's
 *           samples are already in g (they are read, never written).  Each
 *           stream must be consumed exactly (VDM_ERR_CORRUPT otherwise). */
vdm_status vdm_cm2_tiles_encode(const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *out);
vdm_status vdm_cm2_tiles_decode(const vdm_subimage *g, uint32_t tw, uint32_t th,
                                const uint8_t *const *in, const size_t *n);

/* Method 3: method 2's prediction plus NLMS and least-squares predictors,
 * bias correction, and a logistic mix of 7 context models with an APM per
 * binary decision (§8b).  Width <= VDM_CM3_MAX_WIDTH (VDM_ERR_ARG when
 * encoding, VDM_ERR_CORRUPT when decoding a wider one).  About 2 s per
 * megapixel of RGB on one core, each way.  The tiles variants are method 3's
 * tile mode, with the conventions of vdm_cm2_tiles_* above. */
vdm_status vdm_cm3_encode(const vdm_subimage *g, vdm_buf *out);
vdm_status vdm_cm3_decode(const vdm_subimage *g, const uint8_t *in, size_t n);
vdm_status vdm_cm3_tiles_encode(const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *out);
vdm_status vdm_cm3_tiles_decode(const vdm_subimage *g, uint32_t tw, uint32_t th,
                                const uint8_t *const *in, const size_t *n);
/* Method 3 given side information (cm_side.h; 8-bit RGB sub-images only,
 * VDM_ERR_ARG otherwise): z and xhat enter as predictors and least-squares
 * inputs, the posterior of each sample given its z and the causal
 * prediction as a mixer input for every binary decision, and the
 * disagreement of z with the prediction as a context.  side == NULL is
 * vdm_cm3_encode / _decode exactly.  The hybrid measurement's data term
 * (vdmzip eval --hybrid); not yet a container method. */
vdm_status vdm_cm3_encode_side(const vdm_subimage *g, const vdm_cm_side *side, vdm_buf *out);
vdm_status vdm_cm3_decode_side(const vdm_subimage *g, const vdm_cm_side *side,
                               const uint8_t *in, size_t n);

#endif
