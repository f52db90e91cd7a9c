/* cm_common.h — what the context-modelling methods 2 (cm2.c), 3 (cm3.c)
 * and 4 (cm4.c) share: integer helpers of their contexts, and the
 * framing of their range-coder streams — the whole-sub-image payload
 * (vdz.md §8.1: flags byte, 3 zero bytes, the coder's bytes) and the tile
 * mode's per-tile streams (§6.2: one coder per tile, stored without the
 * first byte, each consumed exactly).  Internal to codec/. */
#ifndef VDM_CODEC_CM_CM_COMMON_H
#define VDM_CODEC_CM_CM_COMMON_H
#include <stdint.h>
#include <stdlib.h>
#include "codec/cm/classical.h"
#include "codec/cm/rangecoder.h"

static inline unsigned vdm_cm_bitlen(uint32_t v) { return v ? 32u - (unsigned)__builtin_clz(v) : 0u; }

/* Activity bucket: 0 for 0, then two buckets per octave, capped at 39. */
static inline unsigned vdm_cm_quant_activity(uint32_t a)
{
    if (a == 0) return 0;
    const unsigned b = vdm_cm_bitlen(a);
    const unsigned half = b >= 2 ? (a >> (b - 2)) & 1u : 0u;
    const unsigned q = 2 * b - 1 + half;
    return q < 40 ? q : 39;
}

static inline int32_t vdm_cm_clampi(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

/* floor(a / b) for b > 0 */
static inline int64_t vdm_cm_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && a < 0) q--;
    return q;
}

/* ---- whole sub-image payload -------------------------------------------- */

/* After the last sample: flush enc and append the payload to out (when rc
 * is still VDM_OK); frees the coder's buffer either way. */
static inline vdm_status vdm_cm_payload_done(const vdm_subimage *g, vdm_rc_enc *enc, vdm_buf *out, vdm_status rc)
{
    if (rc == VDM_OK) {
        vdm_rc_enc_finish(enc);
        if (enc->oom) rc = VDM_ERR_NOMEM;
    }
    if (rc == VDM_OK) {
        const uint8_t hdr[4] = { (uint8_t)(g->rgb ? 1 : 0), 0, 0, 0 };
        rc = vdm_buf_append(out, hdr, 4);
        if (rc == VDM_OK) rc = vdm_buf_append(out, enc->buf, enc->size);
    }
    free(enc->buf);
    return rc;
}

/* Check the payload's header, give the sub-image its coding order (*g, from
 * g0) and start the decoder on the coder's bytes. */
static inline vdm_status vdm_cm_payload_open(const vdm_subimage *g0, const uint8_t *in, size_t n,
                                             vdm_subimage *g, vdm_rc_dec *dec)
{
    if (n < 4 || (in[0] & ~1u) || in[1] || in[2] || in[3]) return VDM_ERR_CORRUPT;
    *g = *g0;
    g->rgb = in[0] & 1;
    if (g->rgb && g->nch < 3) return VDM_ERR_CORRUPT;
    vdm_rc_dec_init(dec, in + 4, n - 4);
    return VDM_OK;
}

/* After the last sample: the payload must have been consumed exactly. */
static inline vdm_status vdm_cm_payload_check(const vdm_rc_dec *dec, vdm_status rc)
{
    return rc == VDM_OK && (dec->overrun || dec->pos != dec->size) ? VDM_ERR_CORRUPT : rc;
}

/* ---- tile mode -------------------------------------------------------------- */

/* Tiles of tw x th over g (raster order, clipped); the tile mode codes R,G,B. */
static inline vdm_status vdm_cm_tiles_count(const vdm_subimage *g, uint32_t tw, uint32_t th, uint64_t *nt)
{
    if (!g || !g->rgb || g->nch != 3 || tw == 0 || th == 0) return VDM_ERR_ARG;
    *nt = (uint64_t)((g->width + tw - 1) / tw) * ((g->height + th - 1) / th);
    return VDM_OK;
}

/* One started encoder per tile (NULL: out of memory). */
static inline vdm_rc_enc *vdm_cm_tiles_enc_new(uint64_t nt)
{
    vdm_rc_enc *enc = (vdm_rc_enc *)calloc((size_t)nt, sizeof *enc);
    for (uint64_t t = 0; enc && t < nt; t++) vdm_rc_enc_init(&enc[t]);
    return enc;
}

/* Flush every tile's encoder and append its stream, less the first byte
 * (always 0), to out[t] (when rc is still VDM_OK); frees the encoders. */
static inline vdm_status vdm_cm_tiles_enc_done(vdm_rc_enc *enc, uint64_t nt, vdm_buf *out, vdm_status rc)
{
    for (uint64_t t = 0; enc && t < nt; t++) {
        if (rc == VDM_OK) {
            vdm_rc_enc_finish(&enc[t]);
            if (enc[t].oom) rc = VDM_ERR_NOMEM;
            else if (enc[t].size < 5 || enc[t].buf[0] != 0) rc = VDM_ERR_INTERNAL;
            else rc = vdm_buf_append(&out[t], enc[t].buf + 1, enc[t].size - 1);
        }
        free(enc[t].buf);
    }
    free(enc);
    return rc;
}

/* One decoder per tile with a stream (in[t] != NULL; use[t] = 1), started
 * on it; the other tiles' samples are observed.  *dec and *use: free(). */
static inline vdm_status vdm_cm_tiles_dec_new(const uint8_t *const *in, const size_t *n, uint64_t nt,
                                              vdm_rc_dec **dec, uint8_t **use)
{
    *dec = (vdm_rc_dec *)calloc((size_t)nt, sizeof **dec);
    *use = (uint8_t *)calloc((size_t)nt, 1);
    if (!*dec || !*use) return VDM_ERR_NOMEM;
    for (uint64_t t = 0; t < nt; t++) {
        (*use)[t] = in[t] != NULL;
        if ((*use)[t]) vdm_rc_dec_init_stripped(&(*dec)[t], in[t], n[t]);
    }
    return VDM_OK;
}

/* After the pass: every stream consumed exactly; frees dec and use. */
static inline vdm_status vdm_cm_tiles_dec_done(vdm_rc_dec *dec, uint8_t *use, uint64_t nt, vdm_status rc)
{
    for (uint64_t t = 0; rc == VDM_OK && t < nt; t++)
        if (use[t] && (dec[t].overrun || dec[t].pos != dec[t].size)) rc = VDM_ERR_CORRUPT;
    free(dec);
    free(use);
    return rc;
}

#endif
