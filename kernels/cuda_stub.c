/* cuda_stub.c — the CUDA coding path in a build without the CUDA backend:
 * every entry point of cuda_api.h says VDM_ERR_UNSUPPORTED ("not compiled"),
 * so callers need no #ifdef.  With VDMZIP_HAVE_CUDA the real definitions in
 * the kernels/cuda/ sources are linked instead and this file compiles to nothing. */
#include "kernels/cuda_api.h"

#ifndef VDMZIP_HAVE_CUDA
vdm_status vdm_cuda_net_create(const vdm_cuda_net_desc *d, const float *params, size_t max_pixels,
                               vdm_cuda_net **out)
{
    (void)d;
    (void)params;
    (void)max_pixels;
    if (out) *out = NULL;
    return VDM_ERR_UNSUPPORTED;
}

void vdm_cuda_net_free(vdm_cuda_net *g) { (void)g; }

vdm_status vdm_cuda_net_forward(vdm_cuda_net *g, const float *z, const float *blk_bias,
                                int N, int H, int W, float *out)
{
    (void)g; (void)z; (void)blk_bias; (void)N; (void)H; (void)W; (void)out;
    return VDM_ERR_UNSUPPORTED;
}

vdm_status vdm_cuda_conv3x3(float *out, const float *in, const float *w, const float *bias,
                            size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                            int accumulate, float *act_out, int act)
{
    (void)out; (void)in; (void)w; (void)bias; (void)bias_nstride; (void)N; (void)H; (void)W;
    (void)Cin; (void)Cout; (void)accumulate; (void)act_out; (void)act;
    return VDM_ERR_UNSUPPORTED;
}

vdm_status vdm_cuda_act_forward(float *out, const float *in, size_t n, int act)
{
    (void)out; (void)in; (void)n; (void)act;
    return VDM_ERR_UNSUPPORTED;
}

vdm_status vdm_cuda_fourier_forward(float *feat, const float *z, size_t npix, int C,
                                    const int32_t *exps, int nf)
{
    (void)feat; (void)z; (void)npix; (void)C; (void)exps; (void)nf;
    return VDM_ERR_UNSUPPORTED;
}

vdm_status vdm_cuda_detmath(float *out, const float *in, size_t n, int fn)
{
    (void)out; (void)in; (void)n; (void)fn;
    return VDM_ERR_UNSUPPORTED;
}
vdm_status vdm_cuda_train_create(const vdm_cuda_net_desc *d, int N, int H, int W, vdm_cuda_train **out)
{
    (void)d; (void)N; (void)H; (void)W;
    if (out) *out = NULL;
    return VDM_ERR_UNSUPPORTED;
}

void vdm_cuda_train_free(vdm_cuda_train *g) { (void)g; }

vdm_status vdm_cuda_train_set_tf32(vdm_cuda_train *g, int on)
{
    (void)g; (void)on;
    return VDM_ERR_UNSUPPORTED;
}

vdm_status vdm_cuda_train_forward(vdm_cuda_train *g, const float *params, const float *z,
                                  const float *blk_bias, int N, int H, int W, float *out)
{
    (void)g; (void)params; (void)z; (void)blk_bias; (void)N; (void)H; (void)W; (void)out;
    return VDM_ERR_UNSUPPORTED;
}

vdm_status vdm_cuda_train_backward(vdm_cuda_train *g, const float *dout, float *dparams, float *bias_grad,
                                   float *dz)
{
    (void)g; (void)dout; (void)dparams; (void)bias_grad; (void)dz;
    return VDM_ERR_UNSUPPORTED;
}
#endif
