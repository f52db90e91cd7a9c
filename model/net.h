/* net.h — the epsilon-network eps_hat(z_t; gamma_t) of the VDM.
 *
 * Fully convolutional at full resolution (no down-sampling), NHWC float32:
 *   input  z_t [N,H,W,3] plus Fourier features sin/cos(2^n * pi * z) per channel
 *          for each exponent n in fourier_exp (VDM App. C)
 *   conv3x3 (3 + 6*n_fourier -> width)
 *   blocks x residual block:  h += conv3x3(act(conv3x3(act(h)) + emb_b(gamma)))
 *          where emb_b(gamma) is a per-channel bias from a small MLP of the
 *          rescaled gamma (one scalar per image), different per block
 *   act, conv3x3 (width -> 3), zero-initialised: eps_hat
 * The activation is computable without libm (see kernels: SiLU with vdm_expf,
 * or a ReLU-family function; the choice is a config field).  Zero padding at
 * the borders, so a tile is processed exactly like a whole image of its size.
 *
 * Parameters live in ONE contiguous float block (llm.c style); gradients and
 * Adam moments mirror it.  vdm_net_layout() gives shaped views into it.
 * Config and layout are stored in the weights file (model/). */
#ifndef VDM_MODEL_NET_H
#define VDM_MODEL_NET_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"
#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDM_NET_MAX_FOURIER 4

enum { VDM_ACT_SILU = 0, VDM_ACT_RELU = 1 };

typedef struct vdm_net_config {
    int32_t channels;                         /* image channels: 3 */
    int32_t width;                            /* hidden channels C, e.g. 32..64 */
    int32_t blocks;                           /* residual blocks, e.g. 4..8 */
    int32_t n_fourier;                        /* 0..VDM_NET_MAX_FOURIER */
    int32_t fourier_exp[VDM_NET_MAX_FOURIER]; /* n of sin/cos(2^n pi z) */
    int32_t emb_dim;                          /* hidden width of the gamma MLP */
    int32_t act;                              /* VDM_ACT_* */
} vdm_net_config;

/* Check a config (from a file or the command line).  VDM_OK or VDM_ERR_ARG. */
vdm_status vdm_net_config_check(const vdm_net_config *c);
/* Number of floats in the parameter block. */
size_t vdm_net_param_count(const vdm_net_config *c);
/* Deterministic initialisation from a seed; the output conv is zero. */
void vdm_net_init(const vdm_net_config *c, float *params, uint64_t seed);
/* Multiply-adds per pixel of one forward pass (for benchmarks and budgets). */
double vdm_net_flops_per_pixel(const vdm_net_config *c);

/* Workspace for activations of an [N,H,W] batch (opaque; caller frees).
 * With for_training, the forward keeps what the backward needs. */
typedef struct vdm_net_ws vdm_net_ws;
vdm_net_ws *vdm_net_ws_create(const vdm_net_config *c, vdm_backend b, int N, int H, int W, int for_training);
void vdm_net_ws_free(vdm_net_ws *ws); /* NULL is fine */

/* eps_out[N*H*W*3] = eps_hat(z[N*H*W*3]; gscaled[N]).  gscaled is gamma_t
 * rescaled to about [0,1] by the caller (model/ owns that map).  nthreads >= 1;
 * with VDM_BACKEND_REF the result does not depend on nthreads. */
vdm_status vdm_net_forward(const vdm_net_config *c, const float *params, vdm_net_ws *ws,
                           int nthreads, const float *z, const float *gscaled,
                           int N, int H, int W, float *eps_out);

/* After vdm_net_forward on the same ws (for_training=1):
 *   dparams  += dL/dparams                      (accumulates)
 *   dz        = dL/dz       [N*H*W*3]  (may be NULL: not computed)
 *   dgscaled  = dL/dgscaled [N]        (may be NULL)
 * given deps = dL/deps_out [N*H*W*3]. */
vdm_status vdm_net_backward(const vdm_net_config *c, const float *params, vdm_net_ws *ws,
                            int nthreads, const float *deps, float *dparams,
                            float *dz, float *dgscaled);

#ifdef __cplusplus
}
#endif
#endif
