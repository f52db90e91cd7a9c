/* net_cuda.c — the network's GPU coding path (net.h, vdm_net_gpu_*): maps a
 * net config and parameter block onto kernels/cuda_api.h.
 *
 * Split of the work (why it stays bit-exact): the gamma embedding is per
 * image and tiny, so it runs on the host through the very code REF uses
 * (vdm_net_block_bias); the device gets the resulting per-image conv1 biases
 * and replays every per-pixel operation in the REF order.  Plain C: it
 * compiles in every build; without CUDA the kernels' stub answers
 * VDM_ERR_UNSUPPORTED. */
#include <stdlib.h>
#include <string.h>
#include "kernels/cuda_api.h"
#include "model/net.h"

struct vdm_net_gpu {
    vdm_net_config c;
    float *params;      /* host copy: the embedding runs on the host */
    float *gb;          /* host block biases [B][capN][C] */
    size_t cap_gb;
    vdm_cuda_net *dev;
};

void vdm_net_gpu_free(vdm_net_gpu *g)
{
    if (!g) return;
    vdm_cuda_net_free(g->dev);
    free(g->params);
    free(g->gb);
    free(g);
}

vdm_status vdm_net_gpu_create(const vdm_net_config *c, const float *params, size_t max_pixels,
                              vdm_net_gpu **out)
{
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    *out = NULL;
    VDM_RETURN_IF(!c || !params || vdm_net_config_check(c) != VDM_OK, VDM_ERR_ARG);
    vdm_net_gpu *g = (vdm_net_gpu *)calloc(1, sizeof *g);
    VDM_RETURN_IF(!g, VDM_ERR_NOMEM);
    g->c = *c;
    const size_t np = vdm_net_param_count(c);
    g->params = (float *)malloc(sizeof(float) * np);
    if (!g->params) { vdm_net_gpu_free(g); return VDM_ERR_NOMEM; }
    memcpy(g->params, params, sizeof(float) * np);

    vdm_cuda_net_desc d;
    vdm_net_cuda_offsets o;
    vdm_status st = vdm_net_cuda_desc(c, &d, &o);
    if (st != VDM_OK) { vdm_net_gpu_free(g); return st; }
    st = vdm_cuda_net_create(&d, g->params, max_pixels, &g->dev);
    if (st != VDM_OK) { vdm_net_gpu_free(g); return st; }
    *out = g;
    return VDM_OK;
}

vdm_status vdm_net_gpu_forward(vdm_net_gpu *g, const float *z, const float *gscaled, int N, int H, int W,
                               float *eps_out)
{
    VDM_RETURN_IF(!g || !z || !gscaled || !eps_out || N < 1 || H < 1 || W < 1, VDM_ERR_ARG);
    const size_t ngb = (size_t)g->c.blocks * (size_t)N * (size_t)g->c.width;
    if (ngb > g->cap_gb) {
        float *p = (float *)realloc(g->gb, sizeof(float) * ngb);
        VDM_RETURN_IF(!p, VDM_ERR_NOMEM);
        g->gb = p;
        g->cap_gb = ngb;
    }
    VDM_FORWARD(vdm_net_block_bias(&g->c, g->params, gscaled, N, g->gb));
    return vdm_cuda_net_forward(g->dev, z, g->gb, N, H, W, eps_out);
}
