/* basic.c — growable buffers and classical methods 0 (stored) and 1
 * (PNG-filtered rows + zstd).  See classical.h and format-spec/vdz.md §5. */
#include "codec/cm/classical.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

vdm_status vdm_buf_reserve(vdm_buf *b, size_t extra)
{
    if (extra <= b->cap - b->size) return VDM_OK;
    if (extra > SIZE_MAX - b->size) return VDM_ERR_NOMEM;
    size_t need = b->size + extra, cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    uint8_t *nd = realloc(b->data, cap);
    if (!nd) return VDM_ERR_NOMEM;
    b->data = nd;
    b->cap = cap;
    return VDM_OK;
}

vdm_status vdm_buf_append(vdm_buf *b, const void *p, size_t n)
{
    if (n == 0) return VDM_OK;
    VDM_FORWARD(vdm_buf_reserve(b, n));
    memcpy(b->data + b->size, p, n);
    b->size += n;
    return VDM_OK;
}

void vdm_buf_free(vdm_buf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->size = b->cap = 0;
}

uint64_t vdm_sub_rowbytes(const vdm_subimage *g)
{
    return ((uint64_t)g->width * g->nch * g->bit_depth + 7) / 8;
}

/* Pack one row of samples as PNG does (MSB first below 8 bits, 16-bit big-endian). */
static void pack_row(const vdm_subimage *g, uint32_t y, uint8_t *out, size_t rowbytes)
{
    const unsigned bd = g->bit_depth, nch = g->nch;
    const size_t p0 = (size_t)y * g->width;
    if (bd < 8) memset(out, 0, rowbytes);
    size_t i = 0;
    for (uint32_t x = 0; x < g->width; x++) {
        for (unsigned c = 0; c < nch; c++, i++) {
            uint32_t v = vdm_sub_get(g, p0 + x, c);
            if (bd == 8) {
                out[i] = (uint8_t)v;
            } else if (bd == 16) {
                out[2 * i] = (uint8_t)(v >> 8);
                out[2 * i + 1] = (uint8_t)v;
            } else {
                size_t bit = i * bd;
                out[bit >> 3] |= (uint8_t)(v << (8 - bd - (bit & 7)));
            }
        }
    }
}

/* Unpack; returns 0 if a sample exceeds maxval or padding bits are set. */
static int unpack_row(const vdm_subimage *g, uint32_t y, const uint8_t *in, size_t rowbytes)
{
    const unsigned bd = g->bit_depth, nch = g->nch;
    const size_t p0 = (size_t)y * g->width;
    const unsigned mask = bd < 8 ? (1u << bd) - 1 : 0;
    unsigned bad = 0;
    size_t i = 0;
    for (uint32_t x = 0; x < g->width; x++) {
        for (unsigned c = 0; c < nch; c++, i++) {
            uint32_t v;
            if (bd == 8) v = in[i];
            else if (bd == 16) v = ((uint32_t)in[2 * i] << 8) | in[2 * i + 1];
            else {
                size_t bit = i * bd;
                v = (in[bit >> 3] >> (8 - bd - (bit & 7))) & mask;
            }
            bad |= v > g->maxval;
            vdm_sub_put(g, p0 + x, c, v);
        }
    }
    size_t used = i * bd;
    if (bd < 8 && (used & 7)) bad |= (in[rowbytes - 1] & ((1u << (8 - (used & 7))) - 1)) != 0;
    return !bad;
}

static vdm_status geom_ok(const vdm_subimage *g)
{
    if (!g || g->width == 0 || g->height == 0 || g->nch < 1 || g->nch > 4) return VDM_ERR_ARG;
    if (!(g->bit_depth == 1 || g->bit_depth == 2 || g->bit_depth == 4 || g->bit_depth == 8 ||
          g->bit_depth == 16))
        return VDM_ERR_ARG;
    if (g->maxval >= (1u << g->bit_depth) || !g->data || g->stride < 1 || g->stride > 4)
        return VDM_ERR_ARG;
    for (unsigned c = 0; c < g->nch; c++)
        if (g->chan[c] >= g->stride) return VDM_ERR_ARG;
    return VDM_OK;
}

vdm_status vdm_stored_encode(const vdm_subimage *g, vdm_buf *out)
{
    VDM_FORWARD(geom_ok(g));
    const size_t rb = (size_t)vdm_sub_rowbytes(g);
    VDM_FORWARD(vdm_buf_reserve(out, rb * g->height));
    for (uint32_t y = 0; y < g->height; y++) {
        pack_row(g, y, out->data + out->size, rb);
        out->size += rb;
    }
    return VDM_OK;
}

vdm_status vdm_stored_decode(const vdm_subimage *g, const uint8_t *in, size_t n)
{
    VDM_FORWARD(geom_ok(g));
    const size_t rb = (size_t)vdm_sub_rowbytes(g);
    if ((uint64_t)n != (uint64_t)rb * g->height) return VDM_ERR_CORRUPT;
    for (uint32_t y = 0; y < g->height; y++)
        if (!unpack_row(g, y, in + y * rb, rb)) return VDM_ERR_CORRUPT;
    return VDM_OK;
}

/* ---- PNG filters (PNG spec §9) ------------------------------------------ */

static inline uint8_t paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return (uint8_t)a;
    return (uint8_t)(pb <= pc ? b : c);
}

static void filter_row(int f, const uint8_t *cur, const uint8_t *prev, uint8_t *out, size_t rb,
                       size_t bpp)
{
    for (size_t i = 0; i < rb; i++) {
        int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
        int p = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) >> 1 : paeth(a, b, c);
        out[i] = (uint8_t)(cur[i] - p);
    }
}

static void unfilter_row(int f, uint8_t *cur, const uint8_t *prev, size_t rb, size_t bpp)
{
    for (size_t i = 0; i < rb; i++) {
        int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
        int p = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) >> 1 : paeth(a, b, c);
        cur[i] = (uint8_t)(cur[i] + p);
    }
}

/* Payload: u32 raw_size, then one zstd frame of the filtered rows.  Filter
 * choice: None below 8 bits and for palette indices (PNG's own advice),
 * else per row the filter with the smallest sum of |signed residual byte|. */
vdm_status vdm_zstd_encode(const vdm_subimage *g, int level, vdm_buf *out)
{
    VDM_FORWARD(geom_ok(g));
    const size_t rb = (size_t)vdm_sub_rowbytes(g);
    const size_t bpp = ((size_t)g->nch * g->bit_depth + 7) / 8;
    const uint64_t raw64 = (uint64_t)g->height * (rb + 1);
    if (raw64 > 0xFFFFFFFFu) return VDM_ERR_LIMIT;
    const size_t raw = (size_t)raw64;
    uint8_t *flt = malloc(raw);
    uint8_t *rows = calloc(2 * rb, 1);
    uint8_t *tmp = malloc(rb);
    if (!flt || !rows || !tmp) { free(flt); free(rows); free(tmp); return VDM_ERR_NOMEM; }
    const int adaptive = g->bit_depth >= 8 && !g->indexed;
    for (uint32_t y = 0; y < g->height; y++) {
        uint8_t *cur = rows + (y & 1) * rb, *prev = rows + ((y + 1) & 1) * rb;
        if (y == 0) memset(prev, 0, rb);
        pack_row(g, y, cur, rb);
        uint8_t *dst = flt + (size_t)y * (rb + 1);
        int best = 0;
        if (adaptive) {
            uint64_t bestcost = UINT64_MAX;
            for (int f = 0; f < 5; f++) {
                filter_row(f, cur, prev, tmp, rb, bpp);
                uint64_t cost = 0;
                for (size_t i = 0; i < rb; i++) cost += (uint64_t)abs((int8_t)tmp[i]);
                if (cost < bestcost) { bestcost = cost; best = f; }
            }
        }
        dst[0] = (uint8_t)best;
        filter_row(best, cur, prev, dst + 1, rb, bpp);
    }
    free(rows);
    free(tmp);
    size_t bound = ZSTD_compressBound(raw);
    vdm_status st = vdm_buf_reserve(out, 4 + bound);
    if (st == VDM_OK) {
        uint8_t *p = out->data + out->size;
        vdm_put_le32(p, (uint32_t)raw);
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        if (!cc) st = VDM_ERR_NOMEM;
        else {
            /* Fixed parameters so the output depends only on the zstd version. */
            ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
            ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 0);
            ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
            size_t z = ZSTD_compress2(cc, p + 4, bound, flt, raw);
            ZSTD_freeCCtx(cc);
            if (ZSTD_isError(z)) st = VDM_ERR_INTERNAL;
            else out->size += 4 + z;
        }
    }
    free(flt);
    return st;
}

vdm_status vdm_zstd_decode(const vdm_subimage *g, const uint8_t *in, size_t n)
{
    VDM_FORWARD(geom_ok(g));
    const size_t rb = (size_t)vdm_sub_rowbytes(g);
    const size_t bpp = ((size_t)g->nch * g->bit_depth + 7) / 8;
    if (n < 4) return VDM_ERR_CORRUPT;
    const uint64_t raw64 = (uint64_t)g->height * (rb + 1);
    if (vdm_get_le32(in) != raw64) return VDM_ERR_CORRUPT;
    const uint8_t *z = in + 4;
    size_t zn = n - 4;
    size_t fs = ZSTD_findFrameCompressedSize(z, zn);
    if (ZSTD_isError(fs) || fs != zn) return VDM_ERR_CORRUPT;
    unsigned long long cs = ZSTD_getFrameContentSize(z, zn);
    if (cs != ZSTD_CONTENTSIZE_UNKNOWN && cs != raw64) return VDM_ERR_CORRUPT;
    const size_t raw = (size_t)raw64;
    uint8_t *flt = malloc(raw ? raw : 1);
    if (!flt) return VDM_ERR_NOMEM;
    size_t got = ZSTD_decompress(flt, raw, z, zn);
    vdm_status st = VDM_OK;
    if (ZSTD_isError(got) || got != raw) st = VDM_ERR_CORRUPT;
    uint8_t *zero = st == VDM_OK ? calloc(rb, 1) : NULL;
    if (st == VDM_OK && !zero) st = VDM_ERR_NOMEM;
    for (uint32_t y = 0; st == VDM_OK && y < g->height; y++) {
        uint8_t *row = flt + (size_t)y * (rb + 1);
        const uint8_t *prev = y ? flt + (size_t)(y - 1) * (rb + 1) + 1 : zero;
        if (row[0] > 4) { st = VDM_ERR_CORRUPT; break; }
        unfilter_row(row[0], row + 1, prev, rb, bpp);
        if (!unpack_row(g, y, row + 1, rb)) st = VDM_ERR_CORRUPT;
    }
    free(zero);
    free(flt);
    return st;
}
