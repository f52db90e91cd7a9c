/* cuda_api.h — the deterministic CUDA coding path: the network forward on a
 * GPU, bit for bit equal to the REF backend (kernels.h).
 *
 * Invariants (the determinism contract, DESIGN.md):
 *   - Every output is computed by ONE device thread in exactly the REF
 *     order: the 3x3 convolution of kernels.h (bias or 0, then ky, kx with
 *     outside taps skipped, ci ascending, acc = __fadd_rn(acc, __fmul_rn(in, w)),
 *     then out + acc when accumulating); no reduction is split between
 *     threads, no atomics, no cuBLAS/cuDNN on this path.
 *   - Activations, Fourier features and exp/sin/cos use the same source text
 *     as the host (common/detmath_hd.h), built with nvcc --fmad=false and
 *     without fast-math or flush-to-zero.
 *   - Results do not depend on launch geometry, the GPU model or the number
 *     of SMs (each output's arithmetic is fixed; only who computes it varies).
 *   - Declared in every build.  Without the CUDA backend (VDMZIP_HAVE_CUDA
 *     undefined) every function returns VDM_ERR_UNSUPPORTED (kernels/cuda_stub.c);
 *     with it but without a usable GPU, VDM_ERR_CUDA.  Nothing prints or exits.
 *   - All buffers in these signatures are HOST memory; device memory stays
 *     inside the context.  Device 0 is used.
 * tests/test_cuda.c checks each op and the whole network against REF. */
#ifndef VDM_KERNELS_CUDA_API_H
#define VDM_KERNELS_CUDA_API_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest Fourier exponent count the device kernels take (kernels.h's
 * vdm_fourier_forward takes up to 8). */
#define VDM_CUDA_MAX_FOURIER 8

/* ---- the network ----------------------------------------------------------
 * One description of the network serves both contexts below: its shape and
 * where each convolution tensor lies in the caller's ONE parameter block
 * (model/net.h's layout; model/net.c's vdm_net_cuda_desc fills it).  The
 * per-image conv1 biases (conv1.b + gamma embedding, tiny) come from the
 * caller, computed on the host:
 *   feat = fourier(z)                                   [P][F], F = K(1+2nf)
 *   h = conv(feat; in_w, in_b),  a = act(h)
 *   for b < B:  v = act(conv(a; blk_w1[b], blk_bias[b][n]))
 *               h = h + conv(v; blk_w2[b], blk_b2[b]),  a = act(h)
 *   out = conv(a; out_w, out_b)                         [P][Ko]
 * Weight layouts as kernels.h ([3][3][Cin][Cout]). */
typedef struct vdm_cuda_net_desc {
    int channels;       /* K: channels of z, 1..4 */
    int out_channels;   /* Ko: channels of the output conv */
    int width;          /* C: hidden channels */
    int blocks;         /* B >= 1 */
    int n_fourier;      /* 0..VDM_CUDA_MAX_FOURIER */
    int32_t fourier_exp[VDM_CUDA_MAX_FOURIER];
    int act;            /* VDM_KACT_SILU or VDM_KACT_RELU */
    size_t nparams;     /* floats in the parameter block */
    size_t in_w, in_b, out_w, out_b;               /* offsets into it */
    const size_t *blk_w1, *blk_w2, *blk_b2;        /* B offsets each (copied) */
} vdm_cuda_net_desc;

/* ---- the coding path's forward (deterministic) ---------------------------- */
typedef struct vdm_cuda_net vdm_cuda_net;

/* Upload params[d->nparams] once (read only during this call) and reserve
 * activations for max_pixels = N*H*W (the forward grows them when a larger
 * batch comes).  *out is freed with vdm_cuda_net_free.  VDM_ERR_ARG (bad
 * desc: sizes beyond VDM_KERNEL_MAX_CH, a tensor outside the block; NULL
 * params), VDM_ERR_NOMEM, VDM_ERR_CUDA (no device, a failed allocation or
 * copy), VDM_ERR_UNSUPPORTED (built without CUDA). */
vdm_status vdm_cuda_net_create(const vdm_cuda_net_desc *d, const float *params, size_t max_pixels,
                               vdm_cuda_net **out);
void vdm_cuda_net_free(vdm_cuda_net *g);   /* NULL is fine */

/* out[N*H*W*Ko] = the forward on z[N*H*W*K] with blk_bias[B][N][C] (host
 * buffers; returns when out is written).  One call at a time per context. */
vdm_status vdm_cuda_net_forward(vdm_cuda_net *g, const float *z, const float *blk_bias,
                                int N, int H, int W, float *out);

/* ---- training (fast; NOT part of the determinism contract) -----------------
 * The network forward and backward of a training batch on the GPU (the same
 * layer sequence as above, every activation kept on the device between the
 * two).  The convolutions are im2col + cuBLAS sgemm: plain FP32 by default,
 * TF32 tensor cores when enabled; activations, Fourier features, residual
 * adds, bias fills and channel sums are own kernels (sums in a fixed order,
 * no atomics, so a run repeats on the same GPU and cuBLAS version).  Agrees
 * with the REF/CPU backends within float rounding (tests/test_cuda_train.c
 * states the tolerance), never bit for bit: training and bound evaluation
 * only, never the coding path.
 *
 * The weights are the caller's parameter block (vdm_cuda_net_desc), uploaded
 * by each forward (the caller may change it between steps).  The per-image
 * conv1 biases come from the host, as for the coding path; their gradient
 * goes back to the host as per-image channel sums. */
typedef struct vdm_cuda_train vdm_cuda_train;

/* A context for batches up to N x H x W (any N' <= N, W' <= W with
 * N'*H'*W' <= N*H*W).  *out is freed with vdm_cuda_train_free (NULL is fine).
 * VDM_ERR_ARG (bad desc or sizes), VDM_ERR_NOMEM, VDM_ERR_CUDA (no device,
 * out of device memory, a CUDA/cuBLAS failure), VDM_ERR_UNSUPPORTED (built
 * without CUDA). */
vdm_status vdm_cuda_train_create(const vdm_cuda_net_desc *d, int N, int H, int W, vdm_cuda_train **out);
void vdm_cuda_train_free(vdm_cuda_train *g);
/* TF32 tensor-core GEMMs on (1) or plain FP32 (0, the default). */
vdm_status vdm_cuda_train_set_tf32(vdm_cuda_train *g, int on);

/* out[N*H*W*Ko] = the network on z[N*H*W*K] with params[nparams] and
 * blk_bias[B][N][C]; host buffers, returns when out is written.  Keeps what
 * the backward needs. */
vdm_status vdm_cuda_train_forward(vdm_cuda_train *g, const float *params, const float *z,
                                  const float *blk_bias, int N, int H, int W, float *out);
/* After vdm_cuda_train_forward (else VDM_ERR_ARG), given dout = dL/dout
 * [N*H*W*Ko] (host):
 *   dparams[nparams] += dL/d(each convolution weight and bias of the desc;
 *                       conv1's bias excluded: its gradient is in bias_grad)
 *   bias_grad [B][N][C] = dL/dblk_bias (=, per-image channel sums)
 *   dz [N*H*W*K]        = dL/dz (=; may be NULL: not computed)
 * Host buffers; returns when they are written. */
vdm_status vdm_cuda_train_backward(vdm_cuda_train *g, const float *dout, float *dparams, float *bias_grad,
                                   float *dz);

/* ---- single ops (for tests and benchmarks) ------------------------------
 * Host in, host out; each call allocates, uploads, runs and downloads. */

/* vdm_conv3x3_ref over all rows (same arguments), plus an optional fused
 * activation: act_out (may be NULL, may equal out) = act(out) afterwards.
 * With accumulate, out's incoming contents are read. */
vdm_status vdm_cuda_conv3x3(float *out, const float *in, const float *w, const float *bias,
                            size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                            int accumulate, float *act_out, int act);
/* vdm_act_forward (out may equal in). */
vdm_status vdm_cuda_act_forward(float *out, const float *in, size_t n, int act);
/* vdm_fourier_forward (nf <= VDM_CUDA_MAX_FOURIER). */
vdm_status vdm_cuda_fourier_forward(float *feat, const float *z, size_t npix, int C,
                                    const int32_t *exps, int nf);
/* out[i] = f(in[i]) on the device for f = detmath's vdm_expf, vdm_sinf or
 * vdm_cosf (to compare with the host bit for bit). */
enum { VDM_CUDA_FN_EXPF = 0, VDM_CUDA_FN_SINF = 1, VDM_CUDA_FN_COSF = 2 };
vdm_status vdm_cuda_detmath(float *out, const float *in, size_t n, int fn);

#ifdef __cplusplus
}
#endif
#endif
