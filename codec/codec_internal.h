/* codec_internal.h — helpers shared inside codec/ only.
 *
 * Error detail: library functions return a vdm_status and, on failure, may
 * leave a short human-readable reason in a per-thread buffer (like errno),
 * read back with vdm_codec_last_error() (vdz.h) / vdm_png_last_error(). */
#ifndef VDM_CODEC_INTERNAL_H
#define VDM_CODEC_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"

void vdm_codec_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vdm_codec_clear_error(void);
const char *vdm_codec_error_buf(void);

/* The channels `mask` of img as a sub-image for the classical coders (their
 * canonical order; "rgb" when the mask holds R, G and B of an RGB(A) image). */
struct vdm_subimage;
struct vdm_image;
void vdm_subimage_of(struct vdm_subimage *g, const struct vdm_image *img, unsigned mask);

/* CRC-32 (ISO-HDLC, as PNG/zlib): start with crc = 0, feed pieces. */
uint32_t vdm_crc32(uint32_t crc, const void *data, size_t n);

#endif
