/* hybrid.c — the hybrid chain's data term (hybrid.h). */
#include <stdlib.h>
#include <string.h>
#include "codec/hybrid.h"
#include "codec/cm/classical.h"
#include "codec/cm/cm4.h"
#include "model/vdm_train.h"

static vdm_subimage rgb_subimage(uint8_t *rgb, int width, int height)
{
    vdm_subimage g;
    memset(&g, 0, sizeof g);
    g.width = (uint32_t)width;
    g.height = (uint32_t)height;
    g.nch = 3;
    g.bit_depth = 8;
    g.maxval = 255;
    g.rgb = 1;
    g.data = rgb;
    g.stride = 3;
    g.chan[0] = 0;
    g.chan[1] = 1;
    g.chan[2] = 2;
    return g;
}

static vdm_status cm_encode(int method, const vdm_subimage *g, const vdm_cm_side *side, vdm_buf *out)
{
    return method >= 4 ? vdm_cm_encode((unsigned)method, g, side, out) : vdm_cm3_encode_side(g, side, out);
}

static vdm_status cm_decode(int method, const vdm_subimage *g, const vdm_cm_side *side, const vdm_buf *in)
{
    return method >= 4 ? vdm_cm_decode((unsigned)method, g, side, in->data, in->size)
                       : vdm_cm3_decode_side(g, side, in->data, in->size);
}

vdm_status vdm_hybrid_cm_alone(const uint8_t *rgb, int width, int height, int method, double *bits)
{
    VDM_RETURN_IF(!rgb || !bits || width < 1 || height < 1 || method < VDM_CLASSICAL_CM3 || method > VDM_CLASSICAL_MAX, VDM_ERR_ARG);
    vdm_subimage g = rgb_subimage((uint8_t *)(uintptr_t)rgb, width, height);  /* encoders only read */
    vdm_buf out = { 0 };
    vdm_status st = cm_encode(method, &g, NULL, &out);
    *bits = 8.0 * (double)out.size;
    vdm_buf_free(&out);
    return st;
}

vdm_status vdm_hybrid_data_term(vdm_model *m, const uint8_t *rgb, int width, int height, int T, int k,
                                int tile, int nthreads, uint64_t seed, int use_xhat, int verify,
                                int method, vdm_hybrid_data *out)
{
    VDM_RETURN_IF(!m || !rgb || !out || width < 1 || height < 1 || method < VDM_CLASSICAL_CM3 || method > VDM_CLASSICAL_MAX, VDM_ERR_ARG);
    const size_t n = (size_t)width * height * 3;
    float *z = (float *)malloc(sizeof(float) * n);
    float *xh = use_xhat ? (float *)malloc(sizeof(float) * n) : NULL;
    uint8_t *back = verify ? (uint8_t *)calloc(n, 1) : NULL;
    vdm_status st = VDM_OK;
    if (!z || (use_xhat && !xh) || (verify && !back)) st = VDM_ERR_NOMEM;
    float af = 0, sf = 0;
    if (st == VDM_OK)
        st = vdm_eval_latent(m, rgb, width, height, T, k, tile, nthreads, VDM_BACKEND_CPU, seed, z, xh, &af, &sf);
    vdm_buf buf = { 0 };
    vdm_cm_side side = { z, af, sf, xh };
    if (st == VDM_OK) {
        vdm_subimage g = rgb_subimage((uint8_t *)(uintptr_t)rgb, width, height);
        st = cm_encode(method, &g, &side, &buf);
    }
    if (st == VDM_OK && verify) {
        vdm_subimage g = rgb_subimage(back, width, height);
        st = cm_decode(method, &g, &side, &buf);
        if (st == VDM_OK && memcmp(back, rgb, n)) st = VDM_ERR_INTERNAL;
    }
    if (st == VDM_OK) {
        out->bits = 8.0 * (double)buf.size;
        out->alpha = af;
        out->sigma = sf;
        out->noise_px = (double)sf / (double)af * 127.5;
    }
    vdm_buf_free(&buf);
    free(z);
    free(xh);
    free(back);
    return st;
}
