/* hybrid.h — the hybrid chain's data term, measured (DESIGN.md, "The hybrid
 * chain"): the diffusion chain codes the image down to step k (t* = k/T),
 * then the context-mixing coder codes x given the latent z_{t_k}.  Its bound
 *   -ELBO(k) = KL(q(z_1|x) || p(z_1)) + sum_{i > k} L_i + E_q[-log p_CM(x | z_{t_k})]
 * needs the chain's terms (vdm_eval_image with step_bits) and the data term,
 * which these functions measure as the real code length of CM3 given z
 * (one draw of z; every byte of the coder's stream counted).  Not yet a
 * container layout: this is the measurement that decides it. */
#ifndef VDM_CODEC_HYBRID_H
#define VDM_CODEC_HYBRID_H
#include <stdint.h>
#include "common/vdm_common.h"
#include "model/vdm_model.h"

typedef struct vdm_hybrid_data {
    double bits;        /* CM3-given-z stream of the whole image, bits */
    double alpha, sigma;/* of the latent at t_k */
    double noise_px;    /* sigma / alpha in 8-bit sample units (x 127.5) */
} vdm_hybrid_data;

/* Code the 8-bit RGB image rgb (width*height*3) with CM `method` given z_{t_k} (and,
 * with use_xhat, the network's denoised prediction at t_k; tiles of `tile`
 * as the codec cuts them), decode it back when verify is set (VDM_ERR_INTERNAL
 * on a mismatch), and report the stream's length.  k in 0..T. */
vdm_status vdm_hybrid_data_term(vdm_model *m, const uint8_t *rgb, int width, int height, int T, int k,
                                int tile, int nthreads, uint64_t seed, int use_xhat, int verify,
                                int method, vdm_hybrid_data *out);
/* The classical coder alone on the same image (no side information): bits.
 * method: 3 (CM3) or 4 (CM4) to 9 (CM9; all take side information),
 * VDM_ERR_ARG otherwise. */
vdm_status vdm_hybrid_cm_alone(const uint8_t *rgb, int width, int height, int method, double *bits);

#endif
