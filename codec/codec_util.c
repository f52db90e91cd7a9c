/* codec_util.c — per-thread error detail and CRC-32 for codec/. */
#include "codec/codec_internal.h"
#include "codec/cm/classical.h"
#include "codec/png_io.h"
#include <string.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char g_err[256];

void vdm_codec_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
}

void vdm_codec_clear_error(void) { g_err[0] = 0; }
const char *vdm_codec_error_buf(void) { return g_err; }

/* Table for the reflected polynomial 0xEDB88320, built once (pthread_once). */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

uint32_t vdm_crc32(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

void vdm_subimage_of(vdm_subimage *g, const vdm_image *img, unsigned mask)
{
    memset(g, 0, sizeof *g);
    g->width = img->width;
    g->height = img->height;
    g->bit_depth = img->bit_depth;
    g->indexed = img->color_type == VDM_PNG_PALETTE;
    g->maxval = g->indexed ? (unsigned)(img->palette_size ? img->palette_size - 1 : 0)
                           : (1u << img->bit_depth) - 1u;
    g->data = img->data;
    g->stride = img->channels;
    for (unsigned c = 0; c < img->channels; c++)
        if (mask & (1u << c)) g->chan[g->nch++] = c;
    g->rgb = (img->color_type == VDM_PNG_RGB || img->color_type == VDM_PNG_RGBA) &&
             (mask & 7u) == 7u;
}
