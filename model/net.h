/* net.h — the epsilon-network eps_hat(z_t; gamma_t) of the VDM.
 *
 * Fully convolutional at full resolution (no down-sampling), NHWC float32:
 *   input  z_t [N,H,W,3] plus Fourier features sin/cos(2^n * pi * z) per channel
 *          for each exponent n in fourier_exp (VDM App. C); the features are
 *          vdm_fourier_forward's layout: [z | sin_0 | cos_0 | sin_1 | cos_1 ...]
 *   h_0 = conv3x3 (3 + 6*n_fourier -> width)
 *   blocks x residual block:  h_{b+1} = h_b + conv3x3_2(act(conv3x3_1(act(h_b)) + emb_b(gamma)))
 *          where emb_b(gamma) is a per-channel bias from a small MLP of the
 *          rescaled gamma (one scalar per image), different per block
 *   eps_hat = conv3x3_out(act(h_B)) (width -> 3), zero-initialised
 *   With var_out = 1 the output conv has 6 channels per pixel: eps_hat[0..2]
 *   then v[0..2], v = log E[(eps - eps_hat)^2] per sub-pixel (model/ turns it
 *   into the variance of p(z_s|z_t)); the v channels start at weight 0 and
 *   bias VDM_NET_VAR_BIAS0.  With var_out = 2 it has 9: then c[0..2], the
 *   coefficients of p's channel-autoregressive means (model/vdm_model.h),
 *   starting at 0 (no coupling).
 * The activation is computable without libm (see kernels: SiLU with vdm_expf,
 * or a ReLU-family function; the choice is a config field).  Zero padding at
 * the borders, so a tile is processed exactly like a whole image of its size.
 *
 * Gamma embedding (one scalar g = gscaled per image, E = emb_dim, half = E/2):
 *   e0[k]        = sin(f_k g),  e0[half+k] = cos(f_k g),   k = 0..half-1,
 *                  f_k = 1000 * vdm_expf(-ln(10000) * k / (half-1))  (Ho et al.'s
 *                  timestep embedding of t*1000, with g in the role of t)
 *   e1           = act(e0 W1 + b1)                       W1 [E][E]
 *   emb          = e1 W2 + b2                            W2 [E][blocks*width]
 *   emb_b[c]     = emb[b*width + c]
 * The bias of conv3x3_1 in block b is then conv1.b[c] + emb_b[c] (one rounded
 * add per image, then the fixed-order convolution of kernels.h).
 *
 * Parameters live in ONE contiguous float block (llm.c style); gradients and
 * Adam moments mirror it.  vdm_net_layout() gives shaped views into it and
 * vdm_net_tensor_info() names them, in this order (C = width, F = 3+6*n_fourier,
 * E = emb_dim, B = blocks, K = channels):
 *   emb.w1 [E][E], emb.b1 [E], emb.w2 [E][B*C], emb.b2 [B*C],
 *   in.w [3][3][F][C], in.b [C],
 *   for b = 0..B-1: blk<b>.w1 [3][3][C][C], blk<b>.b1 [C], blk<b>.w2 [3][3][C][C], blk<b>.b2 [C],
 *   out.w [3][3][C][K], out.b [K]
 * Config and layout are stored in the weights file (model/).
 *
 * Backends: REF (coding path; deterministic, result independent of nthreads,
 * scalar and AVX2 give the same bits) and CPU (training; im2col + OpenBLAS).
 * CUDA (training only, kernels/cuda_api.h's vdm_cuda_train: forward and
 * backward of the pixels on the GPU with cuBLAS, the per-image gamma
 * embedding on the host; host buffers in and out, so callers do not change;
 * agrees with CPU within float rounding, never bit for bit).
 * The backward of a REF workspace uses the simple scalar REF kernels (a test
 * oracle, single-threaded); train with CPU. */
#ifndef VDM_MODEL_NET_H
#define VDM_MODEL_NET_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"
#include "kernels/cuda_api.h"
#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDM_NET_MAX_FOURIER 4
#define VDM_NET_MAX_BLOCKS 64
#define VDM_NET_MAX_WIDTH 512
#define VDM_NET_MAX_EMB 1024
#define VDM_NET_MAX_CHANNELS 4
#define VDM_NET_MIN_FOURIER_EXP (-8)   /* sin(2^n pi z) for n in [-8, 12]: the */
#define VDM_NET_MAX_FOURIER_EXP 12     /* argument stays in vdm_sinf's accurate range */

enum { VDM_ACT_SILU = 0, VDM_ACT_RELU = 1 };

typedef struct vdm_net_config {
    int32_t channels;                         /* image channels: 3 */
    int32_t width;                            /* hidden channels C, e.g. 32..64 */
    int32_t blocks;                           /* residual blocks, e.g. 4..8 */
    int32_t n_fourier;                        /* 0..VDM_NET_MAX_FOURIER */
    int32_t fourier_exp[VDM_NET_MAX_FOURIER]; /* n of sin/cos(2^n pi z) */
    int32_t emb_dim;                          /* hidden width of the gamma MLP */
    int32_t act;                              /* VDM_ACT_* */
    int32_t var_out;                          /* 0: eps_hat only.  1: the output conv
                                                 also gives, per sub-pixel, v = log of
                                                 the predicted variance of eps - eps_hat
                                                 (learned reverse variances).  2: also,
                                                 per pixel, 3 channel-coupling
                                                 coefficients (G on R, B on R, B on G) */
} vdm_net_config;

/* Check a config (from a file or the command line).  VDM_OK or VDM_ERR_ARG.
 * Accepted: channels 1..VDM_NET_MAX_CHANNELS, width 1..VDM_NET_MAX_WIDTH,
 * blocks 1..VDM_NET_MAX_BLOCKS, n_fourier 0..VDM_NET_MAX_FOURIER with
 * exponents in [VDM_NET_MIN_FOURIER_EXP, VDM_NET_MAX_FOURIER_EXP], emb_dim
 * even in 2..VDM_NET_MAX_EMB, act VDM_ACT_SILU or VDM_ACT_RELU, var_out 0, 1 or 2
 * (2 needs channels == 3). */
vdm_status vdm_net_config_check(const vdm_net_config *c);
/* Output channels per pixel: channels * (1 + var_out). */
static inline int vdm_net_out_channels(const vdm_net_config *c) { return c->channels * (1 + c->var_out); }
/* Initial bias of the v outputs (E[(eps - eps_hat)^2] = e^-1 at the start). */
#define VDM_NET_VAR_BIAS0 (-1.0f)

/* Number of floats in the parameter block. */
size_t vdm_net_param_count(const vdm_net_config *c);
/* Input channels of the first convolution: channels * (1 + 2*n_fourier). */
int vdm_net_in_features(const vdm_net_config *c);
/* Deterministic initialisation from a seed (same bits on every machine:
 * splitmix64 + Box-Muller on detmath).  Weights ~ N(0, s^2) with
 * s = sqrt(gain / fan_in): gain 2 (He) before an activation, 1 otherwise;
 * every bias zero; the second conv of each residual block and the output
 * conv are zero (each block starts as the identity, eps_hat starts at 0). */
void vdm_net_init(const vdm_net_config *c, float *params, uint64_t seed);
/* FLOPs per pixel of one forward pass, counting a multiply-add as 2 (the
 * convolutions only: activations, features and the per-image embedding are
 * small beside them).  For benchmarks and budgets. */
double vdm_net_flops_per_pixel(const vdm_net_config *c);

/* Shaped views into a parameter block (or a gradient / moment block of the
 * same layout).  Pointers into params; nothing is allocated. */
typedef struct vdm_net_params {
    float *emb_w1, *emb_b1, *emb_w2, *emb_b2;
    float *in_w, *in_b;
    float *blk_w1[VDM_NET_MAX_BLOCKS], *blk_b1[VDM_NET_MAX_BLOCKS];
    float *blk_w2[VDM_NET_MAX_BLOCKS], *blk_b2[VDM_NET_MAX_BLOCKS];
    float *out_w, *out_b;
} vdm_net_params;
void vdm_net_layout(const vdm_net_config *c, float *params, vdm_net_params *v);

/* The tensor table of the block, in layout order (for weights files, weight
 * decay masks, debugging).  Tensor i in 0..vdm_net_tensor_count()-1. */
typedef struct vdm_net_tensor {
    char name[24];      /* "emb.w1", "blk3.b2", "out.w", ... */
    int32_t ndim;
    int32_t shape[4];
    size_t offset;      /* floats from the start of the block */
    size_t count;       /* floats */
    int32_t is_bias;    /* 1 for biases (usually excluded from weight decay) */
} vdm_net_tensor;
int vdm_net_tensor_count(const vdm_net_config *c);
vdm_status vdm_net_tensor_info(const vdm_net_config *c, int i, vdm_net_tensor *t);

/* Workspace for activations of batches up to [N,H,W] (opaque; caller frees
 * with vdm_net_ws_free).  NULL on a bad config/size, out of memory, or (CUDA)
 * without a usable GPU or CUDA build.  A forward may use any N' <= N, W' <= W
 * with N'*H'*W' <= N*H*W.  With for_training, the forward keeps what the
 * backward needs (about (4*blocks + 2) * width floats per pixel; without it,
 * about 3 * width).  A workspace serves one call at a time; with nthreads > 1
 * it keeps nthreads-1 worker threads asleep between calls (freed with it). */
typedef struct vdm_net_ws vdm_net_ws;
vdm_net_ws *vdm_net_ws_create(const vdm_net_config *c, vdm_backend b, int N, int H, int W, int for_training);
void vdm_net_ws_free(vdm_net_ws *ws); /* NULL is fine */
/* CUDA workspaces: TF32 tensor-core convolutions on (1) or plain FP32 (0, the
 * default).  VDM_ERR_UNSUPPORTED for other backends, VDM_ERR_CUDA. */
vdm_status vdm_net_ws_set_tf32(vdm_net_ws *ws, int on);

/* eps_out[N*H*W*Ko] = eps_hat(z[N*H*W*3]; gscaled[N]), Ko = vdm_net_out_channels.  gscaled is gamma_t
 * rescaled to about [0,1] by the caller (model/ owns that map).  nthreads >= 1;
 * with VDM_BACKEND_REF the result does not depend on nthreads.
 * VDM_ERR_ARG for NULL pointers or sizes beyond the workspace. */
vdm_status vdm_net_forward(const vdm_net_config *c, const float *params, vdm_net_ws *ws,
                           int nthreads, const float *z, const float *gscaled,
                           int N, int H, int W, float *eps_out);

/* The per-image biases of every block's first convolution, exactly as
 * vdm_net_forward forms them (REF dense layers and activation, host):
 *   gb[(b*N + n)*C + c] = blk<b>.b1[c] + emb_b(gscaled[n])[c],   gb [B][N][C]
 * For backends that run the convolutions elsewhere.  VDM_ERR_ARG, VDM_ERR_NOMEM. */
vdm_status vdm_net_block_bias(const vdm_net_config *c, const float *params, const float *gscaled, int N,
                              float *gb);

/* The CUDA description of network c (kernels/cuda_api.h): its shape and each
 * convolution tensor's offset in the parameter block.  d's block offsets
 * point into *o (caller-owned; keep it alive while d is used). */
typedef struct vdm_net_cuda_offsets {
    size_t w1[VDM_NET_MAX_BLOCKS], w2[VDM_NET_MAX_BLOCKS], b2[VDM_NET_MAX_BLOCKS];
} vdm_net_cuda_offsets;
vdm_status vdm_net_cuda_desc(const vdm_net_config *c, vdm_cuda_net_desc *d, vdm_net_cuda_offsets *o);

/* ---- the GPU coding path (model/net_cuda.c over kernels/cuda_api.h) -------
 * The inference forward on a CUDA device, bit for bit equal to vdm_net_forward
 * with VDM_BACKEND_REF (any nthreads): the gamma embedding is computed on the
 * host by vdm_net_block_bias, everything per pixel on the device.
 * create copies config and params and uploads the weights; free accepts NULL.
 * Errors: VDM_ERR_ARG, VDM_ERR_NOMEM, VDM_ERR_CUDA (no usable GPU or a CUDA
 * failure), VDM_ERR_UNSUPPORTED (built without CUDA). */
typedef struct vdm_net_gpu vdm_net_gpu;
vdm_status vdm_net_gpu_create(const vdm_net_config *c, const float *params, size_t max_pixels,
                              vdm_net_gpu **out);
void vdm_net_gpu_free(vdm_net_gpu *g);
/* eps_out[N*H*W*Ko] as vdm_net_forward; host buffers.  One call at a time. */
vdm_status vdm_net_gpu_forward(vdm_net_gpu *g, const float *z, const float *gscaled, int N, int H, int W,
                               float *eps_out);

/* After vdm_net_forward on the same ws (for_training=1; else VDM_ERR_ARG):
 *   dparams  += dL/dparams                      (accumulates)
 *   dz        = dL/dz       [N*H*W*3]  (may be NULL: not computed)
 *   dgscaled  = dL/dgscaled [N]        (may be NULL)
 * given deps = dL/deps_out [N*H*W*Ko]. */
vdm_status vdm_net_backward(const vdm_net_config *c, const float *params, vdm_net_ws *ws,
                            int nthreads, const float *deps, float *dparams,
                            float *dz, float *dgscaled);

#ifdef __cplusplus
}
#endif
#endif
