/* png_io.h — PNG in and out of the canonical in-memory image.
 *
 * Invariants of a vdm_image (what every producer guarantees, every consumer
 * may assume):
 *   - 1 <= width, height <= VDM_IMAGE_MAX_DIM and the sample buffer is at most
 *     VDM_IMAGE_MAX_BYTES (see the limits below and their reasons);
 *   - (color_type, bit_depth) is a combination PNG allows:
 *       0 gray        1,2,4,8,16     channels 1
 *       2 RGB         8,16           channels 3
 *       3 palette     1,2,4,8        channels 1 (the index)
 *       4 gray+alpha  8,16           channels 2
 *       6 RGBA        8,16           channels 4
 *   - samples are unpacked, row-major, interleaved, never scaled:
 *       bit_depth <= 8: one byte per sample, value < 2^bit_depth
 *                      (palette: index < palette_size);
 *       bit_depth 16:   one uint16_t per sample in HOST byte order
 *                      (read it as (const uint16_t *)img->data);
 *   - interlace records the input's method (0 none, 1 Adam7); samples are
 *     always held de-interlaced, and vdm_png_write_mem writes the same method
 *     back, so an interlaced PNG comes back interlaced;
 *   - palette (PLTE) and tRNS are structured fields, because they change what
 *     the samples mean; every other ancillary chunk (tEXt, zTXt, iTXt, iCCP,
 *     gAMA, cHRM, sRGB, pHYs, bKGD, sBIT, tIME, eXIf, unknown safe/unsafe
 *     ancillary chunks, ...) is kept as raw bytes in file order with its
 *     position relative to PLTE and IDAT, and written back verbatim.
 *     Unknown CRITICAL chunks are rejected (VDM_ERR_UNSUPPORTED): their
 *     meaning for the pixels cannot be known.
 *
 * Errors: every function returns vdm_status and never prints.  For a short
 * human-readable reason (e.g. libpng's message) after a failure on this
 * thread, call vdm_png_last_error().
 *
 * Limits and why:
 *   VDM_IMAGE_MAX_DIM = 65535 per side: the container stores dimensions in
 *     16 bits' worth of range, and tile/row index arithmetic stays in int32
 *     with room to spare;
 *   VDM_IMAGE_MAX_BYTES = 1 GiB of unpacked samples: the encoder holds the
 *     samples, the PNG file and the coded output at once, so peak memory stays
 *     near 3 GiB on the largest legal input;
 *   VDM_PNG_MAX_META_BYTES = 64 MiB of ancillary chunk data in total and
 *     VDM_PNG_MAX_META_CHUNKS = 4096 chunks: big ICC profiles and EXIF fit, a
 *     hostile file cannot make us allocate without bound. */
#ifndef VDM_CODEC_PNG_IO_H
#define VDM_CODEC_PNG_IO_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDM_IMAGE_MAX_DIM 65535u
#define VDM_IMAGE_MAX_BYTES ((uint64_t)1 << 30)
#define VDM_PNG_MAX_META_BYTES ((uint32_t)64 << 20)
#define VDM_PNG_MAX_META_CHUNKS 4096u
/* Largest input file vdm_read_whole_file accepts (a PNG of the largest image
 * stored uncompressed is about VDM_IMAGE_MAX_BYTES plus filter bytes). */
#define VDM_MAX_INPUT_FILE_BYTES (((uint64_t)3 << 30) / 2)

enum { VDM_PNG_GRAY = 0, VDM_PNG_RGB = 2, VDM_PNG_PALETTE = 3,
       VDM_PNG_GRAY_ALPHA = 4, VDM_PNG_RGBA = 6 };

/* Where an ancillary chunk sat in the PNG (the PNG rules on order need it). */
enum { VDM_CHUNK_BEFORE_PLTE = 0, VDM_CHUNK_BEFORE_IDAT = 1, VDM_CHUNK_AFTER_IDAT = 2 };

typedef struct vdm_png_chunk {
    char name[5];        /* 4 ASCII letters + NUL */
    uint8_t location;    /* VDM_CHUNK_* */
    uint32_t size;       /* bytes of data */
    uint8_t *data;       /* owned by the image; NULL when size == 0 */
} vdm_png_chunk;

typedef struct vdm_image {
    uint32_t width, height;
    uint8_t color_type;      /* VDM_PNG_* */
    uint8_t bit_depth;       /* 1, 2, 4, 8, 16 */
    uint8_t interlace;       /* 0 none, 1 Adam7 (how it is written back) */
    uint8_t channels;        /* samples per pixel, implied by color_type */
    uint8_t *data;           /* width*height*channels samples, see above; owned */
    uint16_t palette_size;   /* 0..256 PLTE entries (colour type 3 needs >= 1;
                                types 2 and 6 may carry a suggested palette) */
    uint8_t palette[256][3];
    uint16_t trns_count;     /* palette: number of alpha entries (0..palette_size);
                                gray/RGB: 1 when a transparent key is present */
    uint8_t trns_alpha[256]; /* palette alpha, first trns_count used */
    uint16_t trns_key[3];    /* gray: [0]; RGB: [0..2]; in sample units */
    uint32_t nchunks;        /* ancillary chunks kept, in file order */
    vdm_png_chunk *chunks;   /* owned */
} vdm_image;

/* Samples per pixel for a PNG colour type (0 if the type is invalid). */
unsigned vdm_png_channels(unsigned color_type);
/* VDM_OK when (color_type, bit_depth) is legal PNG, else VDM_ERR_CORRUPT. */
vdm_status vdm_png_check_type(unsigned color_type, unsigned bit_depth);
/* Bytes of the sample buffer for these dimensions (no limit check). */
uint64_t vdm_image_sample_bytes(uint32_t width, uint32_t height, unsigned channels,
                                unsigned bit_depth);

/* A new image with a zeroed sample buffer and no palette/tRNS/chunks.
 * Checks the type and the limits (VDM_ERR_CORRUPT / VDM_ERR_LIMIT).
 * *out is freed with vdm_image_free. */
vdm_status vdm_image_create(uint32_t width, uint32_t height, unsigned color_type,
                            unsigned bit_depth, vdm_image **out);
void vdm_image_free(vdm_image *img);   /* accepts NULL */
/* Append a copy of one ancillary chunk (name must be 4 letters, ancillary). */
vdm_status vdm_image_add_chunk(vdm_image *img, const char name[4], unsigned location,
                               const uint8_t *data, uint32_t size);
/* Full structural check of an image (types, limits, palette indices < palette
 * size, sample ranges for low bit depths, tRNS consistent, chunk names).
 * Writers and the container decoder call it so that no caller can hand
 * libpng something it would reject half-way. */
vdm_status vdm_image_validate(const vdm_image *img);

/* Decode a PNG held in memory into a canonical image with its metadata.
 * Errors: VDM_ERR_FORMAT (not a PNG signature), VDM_ERR_TRUNCATED,
 * VDM_ERR_PNG (libpng rejected the data: CRC, zlib, bad header...),
 * VDM_ERR_UNSUPPORTED (unknown critical chunk), VDM_ERR_LIMIT, VDM_ERR_NOMEM.
 * *out is freed with vdm_image_free. */
vdm_status vdm_png_read_mem(const uint8_t *buf, size_t size, vdm_image **out);
/* Same, from a file path. */
vdm_status vdm_png_read_file(const char *path, vdm_image **out);

/* Encode an image as PNG with its colour type, bit depth, interlace method,
 * palette, tRNS and ancillary chunks.  *out (malloc) is freed by the caller
 * with free(); *out_size is its length. */
vdm_status vdm_png_write_mem(const vdm_image *img, uint8_t **out, size_t *out_size);

/* Any image -> 8-bit RGB, 3 bytes per pixel, row-major, for training and bound
 * evaluation: palette expanded, gray replicated, low bit depths scaled to
 * 0..255 exactly (v * 255 / (2^d - 1)), 16-bit rounded to nearest
 * (v * 255 / 65535), alpha and tRNS ignored (the colour is kept as stored,
 * not composited).  *rgb (malloc) is freed by the caller with free(). */
vdm_status vdm_image_to_rgb8(const vdm_image *img, uint8_t **rgb);

/* Load any PNG file as 8-bit RGB (vdm_png_read_file + vdm_image_to_rgb8,
 * metadata dropped).  *rgb (malloc) is freed by the caller with free(). */
vdm_status vdm_png_load_rgb8(const char *path, uint8_t **rgb, uint32_t *width,
                             uint32_t *height);

/* Read a whole file ("-" is NOT special here) into memory, up to max_bytes
 * (VDM_ERR_LIMIT beyond).  *buf (malloc) is freed by the caller with free(). */
vdm_status vdm_read_whole_file(const char *path, uint64_t max_bytes, uint8_t **buf,
                               size_t *size);

/* Short reason for the last failure of a png_io function on this thread
 * ("" if none recorded).  Valid until the next png_io call on this thread. */
const char *vdm_png_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
