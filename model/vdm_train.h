/* vdm_train.h — training and bound evaluation of a VDM codec model (used by
 * `vdmzip train` / `vdmzip eval` and the benchmarks; the codec needs only
 * vdm_model.h).
 *
 * Invariants:
 *   - Images are 8-bit RGB arrays, row-major [height][width][3], owned by
 *     the caller and alive as long as the trainer that sees them.
 *   - A run is a pure function of (config, images, seed, nthreads): the same
 *     inputs give the same loss sequence bit for bit, and a checkpoint stores
 *     everything that changes (parameters, EMA, Adam moments, step, the RNG
 *     that drives crops, flips, times and noise), so a resumed run continues
 *     exactly as if it had never stopped.
 *   - Library code never prints: each step returns its numbers and the
 *     caller writes the progress line. */
#ifndef VDM_TRAIN_H
#define VDM_TRAIN_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"
#include "kernels/kernels.h"
#include "model/net.h"
#include "model/vdm_model.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { VDM_SCHED_LINEAR = 0, VDM_SCHED_LEARNED = 1 };

typedef struct vdm_rgb8 {
    const uint8_t *px;   /* [height][width][3] */
    int width, height;
} vdm_rgb8;

typedef struct vdm_train_config {
    vdm_net_config net;
    int32_t sched_kind;     /* VDM_SCHED_*: linear is fixed; learned trains shape and endpoints */
    int32_t sched_hidden;   /* learned: units of the sigmoid layer (VDM: 1024) */
    double g0, g1;          /* initial gamma(0), gamma(1) (VDM: -13.3, 5.0) */
    int32_t T;              /* discrete steps to train for; 0 = continuous time */
    int32_t batch, crop;    /* crops of crop x crop pixels per update */
    double lr;              /* Adam step size after warm-up */
    int32_t warmup;         /* updates of linear lr warm-up (0: none) */
    int32_t lr_decay_steps; /* > 0: after warm-up the step size falls linearly from lr
                               to lr_final, reached at this update count (then stays) */
    double lr_final;
    double beta1, beta2, adam_eps;
    double weight_decay;    /* decoupled (AdamW), network weights only (not biases) */
    double clip_norm;       /* global gradient-norm clip (0: off) */
    double ema_decay;       /* EMA of the weights (effective decay ramps up from 0.1) */
    uint64_t seed;
    int32_t coded_from;     /* 0: train every step.  K in 1..T-1 (discrete T only): train
                               only what a hybrid chain stopped at t* = K/T uses of the
                               network (VDM App. N's chain, then the CM coder given z_t*
                               and the denoised prediction at t*): the steps above K, coded
                               by the chain, and step K, whose network evaluation at t* is
                               that prediction; the noise schedule frozen, so z_t*'s noise
                               level stays as it is */
} vdm_train_config;

/* Defaults: width 32, 4 blocks, Fourier n = 7, 8, emb 64, SiLU, learned
 * schedule H = 1024 from [-13.3, 5], T = 16, batch 8 of 32x32, lr 2e-3 with
 * 200 warm-up steps, betas 0.9/0.99, wd 0.01, clip 1, EMA 0.999, seed 1. */
void vdm_train_config_default(vdm_train_config *c);
vdm_status vdm_train_config_check(const vdm_train_config *c);   /* VDM_OK or VDM_ERR_ARG */

typedef struct vdm_trainer vdm_trainer;

/* New run.  Images smaller than the crop are skipped; VDM_ERR_ARG if none
 * is left.  nthreads >= 1 (threads of the CPU backend).  Free with
 * vdm_trainer_free. */
vdm_status vdm_trainer_create(const vdm_train_config *c, const vdm_rgb8 *imgs, int nimg,
                              int nthreads, vdm_trainer **out);
/* Continue from a checkpoint (its config is used).  *data_changed is set to
 * 1 when the images differ from those the checkpoint was trained on (the run
 * then continues, but no longer replays the original one). */
vdm_status vdm_trainer_resume(const char *ckpt_path, const vdm_rgb8 *imgs, int nimg,
                              int nthreads, vdm_trainer **out, int *data_changed);
void vdm_trainer_free(vdm_trainer *t);   /* NULL is fine */

typedef struct vdm_train_stats {
    uint64_t step;                      /* updates done, after this one */
    double prior, recon, diff, total;   /* this batch's loss, bits per dimension */
    double grad_norm;                   /* before clipping */
    double lr;                          /* the step size used */
    double gamma0, gamma1;              /* current schedule endpoints */
} vdm_train_stats;

/* Start a fresh trainer (no update done yet) from the EMA weights of a
 * weights or checkpoint file whose network has the same shape except,
 * possibly, learned variances and more blocks: with t's var_out = 1 and the
 * file's 0, the eps outputs are copied and the v outputs keep their
 * initialisation; blocks beyond the file's start as the identity (so the
 * new network computes exactly what the file's did).  The
 * schedule and the gscaled map must match (VDM_ERR_ARG otherwise: the
 * trainer's --gamma-min/--gamma-max define that map).  Adam moments stay 0.
 * Errors of vdm_model_load, VDM_ERR_ARG for a mismatch or a trainer that
 * has already stepped. */
vdm_status vdm_trainer_init_from(vdm_trainer *t, const char *path);
/* Change the step-size decay of a run (e.g. a resumed one): decay_steps 0
 * turns it off.  VDM_ERR_ARG for bad values. */
vdm_status vdm_trainer_set_lr_decay(vdm_trainer *t, int32_t decay_steps, double lr_final);

/* Where the network's forward and backward run: VDM_BACKEND_CPU (the
 * default; the trainer's nthreads) or VDM_BACKEND_CUDA (GPU 0, cuBLAS; tf32
 * = 1 lets the convolutions use TF32 tensor cores, 0 keeps plain FP32).  The
 * loss terms, clipping, Adam and EMA stay on the host and a checkpoint holds
 * only parameters, moments and the RNG, so a run moves between devices
 * through a checkpoint (results then agree within float rounding, not bit
 * for bit).  Errors leave the previous backend in place: VDM_ERR_UNSUPPORTED
 * (built without CUDA), VDM_ERR_CUDA (no usable GPU, out of device memory or
 * a CUDA failure), VDM_ERR_ARG. */
vdm_status vdm_trainer_set_backend(vdm_trainer *t, vdm_backend b, int tf32);
/* Change the batch size of a run (e.g. a CPU run resumed on a GPU, which
 * wants far larger batches); saved in later checkpoints.  The crop size and
 * everything else stay.  VDM_ERR_ARG, VDM_ERR_LIMIT (batch * crop^2 too
 * large), VDM_ERR_NOMEM, VDM_ERR_CUDA; the trainer is unchanged on error. */
vdm_status vdm_trainer_set_batch(vdm_trainer *t, int32_t batch);
/* One update (sample a batch, loss, backward, clip, Adam, EMA). */
vdm_status vdm_trainer_step(vdm_trainer *t, vdm_train_stats *st);
/* Checkpoint: everything needed to resume; also loadable as a model (EMA). */
vdm_status vdm_trainer_save(const vdm_trainer *t, const char *path);
/* Weights file with the EMA weights (what the codec uses). */
vdm_status vdm_trainer_export(const vdm_trainer *t, const char *path);
/* The EMA weights as a model (caller frees with vdm_model_free). */
vdm_status vdm_trainer_ema_model(const vdm_trainer *t, vdm_model **out);
const vdm_train_config *vdm_trainer_config(const vdm_trainer *t);
uint64_t vdm_trainer_steps(const vdm_trainer *t);
/* Parameters in the model (network + schedule). */
size_t vdm_trainer_param_count(const vdm_trainer *t);

/* ---- bound evaluation --------------------------------------------------- */
typedef struct vdm_eval_options {
    int T;               /* steps of the discrete bound (>= 1) */
    int samples;         /* independent eps draws K (>= 1; >= 2 gives a standard error) */
    int tile;            /* tiles of tile x tile pixels, each on its own (zero padding) */
    int nthreads;
    vdm_backend backend; /* VDM_BACKEND_CPU (fast) or VDM_BACKEND_REF */
    uint64_t seed;
    /* Optional outputs (caller-owned, T entries each, may be NULL): step i's
     * diffusion term (i = 1..T at index i-1) in bits per sub-pixel, and its
     * Monte-Carlo standard error (NaN if samples = 1).  They sum to diff. */
    double *step_bits, *step_se;
} vdm_eval_options;

/* Terms in bits per sub-pixel, means over the K samples.  The prior is
 * exact; the T diffusion terms are all summed (one eps per step, tile and
 * sample); se_* are Monte-Carlo standard errors of the means (NaN if K = 1). */
typedef struct vdm_bound {
    double prior, recon, diff, total;
    double se_recon, se_diff, se_total;
    double dims;         /* sub-pixels: width * height * 3 */
} vdm_bound;

/* Negative VLB of one image under model m.  Memory is bounded by the tile
 * (never the image): each tile is evaluated for all T steps and K samples,
 * then dropped.  Each (sample, tile) pair draws from its own RNG stream, so
 * the result does not depend on nthreads or processing order (with the REF
 * backend it is bit-exact across thread counts). */
vdm_status vdm_eval_image(vdm_model *m, const uint8_t *rgb, int width, int height,
                          const vdm_eval_options *o, vdm_bound *out);
/* The latent of step k (0..T) of an image, as the hybrid chain codes it:
 * z = alpha_k x + sigma_k eps (float32 operations in that order; one eps
 * draw per tile from a stream of (seed, tile)), and the network's denoised
 * prediction xhat = clamp((z - sigma_k eps_hat(z; t_k)) / alpha_k, -1, 1)
 * (NULL: not wanted; for k = 0, where the network is not trained, z / alpha_0).
 * Tiles of tile x tile pixels as the codec cuts them, the network on each
 * tile alone.  z, xhat: width * height * 3 floats (caller-owned), R,G,B per
 * pixel.  *alpha, *sigma receive alpha_k and sigma_k (float32 values of the
 * float64 schedule).  Errors: VDM_ERR_ARG, VDM_ERR_NOMEM. */
vdm_status vdm_eval_latent(vdm_model *m, const uint8_t *rgb, int width, int height, int T, int k,
                           int tile, int nthreads, vdm_backend backend, uint64_t seed,
                           float *z, float *xhat, float *alpha, float *sigma);

/* The bound of n images together (per sub-pixel over all of them; their
 * noise is independent, so variances add).  n = 0 gives zeros. */
void vdm_bound_combine(const vdm_bound *b, int n, vdm_bound *out);

#ifdef __cplusplus
}
#endif
#endif
