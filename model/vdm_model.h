/* vdm_model.h — the model layer's public face for the codec: a trained VDM
 * loaded from a weights file, its per-step constants for T steps, and the
 * reverse conditional p(z_s | z_t) on a tile.
 *
 * Time grid: t_i = i/T, i = 0..T.  Step i (1..T) goes between s = t_{i-1}
 * and t = t_i.  z_{t_0} is the least noisy latent, z_{t_T} is coded with
 * the N(0, I) prior.
 *
 * The distributions (VDM App. A, with alpha^2 = sigmoid(-gamma),
 * sigma^2 = sigmoid(gamma), all Gaussians per element, independent):
 *   q(z_0 | x)      = N(alpha_0 x, sigma_0^2),     x = vdm_data_value(k)
 *   q(z_t | z_s)    = N(q_alpha z_s, q_sigma^2)
 *   p(z_s | z_t)    = N(p_a (z_t - p_k eps_hat(z_t; t)), p_sigma^2)
 *                     (learned variances: p_sigma^2 + (p_a p_k)^2 exp(v(z_t; t)) per element;
 *                      with channel coupling G and B means also move with R (and G))
 *   p(z_1)          = N(0, 1)
 *   p(x | z_0)      = softmax over k of  -1/2 ((z_0/alpha_0 - x_k) / noise_ratio_0)^2
 * with the constants of vdm_time_consts (index i for time t_i; the q_ and p_
 * fields of entry i belong to step i).
 *
 * DETERMINISM (these values feed the entropy coder, DESIGN.md):
 *   - every double in vdm_time_consts is computed in float64 with
 *     common/detmath.h and IEEE sqrt only, in the fixed order written in
 *     format-spec/weights.md, from the float32 parameters in the file;
 *   - eps_hat is the REF backend of the network (fixed order, no BLAS) or
 *     its bit-identical CUDA replay (vdm_model_set_device), so
 *     vdm_model_p_mean gives the same bits for any nthreads, machine and device;
 *   - p_mean = p_a * (z_t - p_k * eps_hat), each operation one rounded
 *     float32 operation in exactly that order (the build forbids FMA
 *     contraction).
 *
 * Threading: a vdm_model caches a network workspace and the constants of the
 * last T; do not call vdm_model_p_mean on one model from two threads at once
 * (load one model per thread; nthreads parallelises inside one call). */
#ifndef VDM_MODEL_H
#define VDM_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest step count accepted by the functions below (the constant table
 * has T+1 entries; a coder at T=16384 would already be far off our budget). */
#define VDM_MODEL_MAX_STEPS 16384
/* Largest tile one vdm_model_p_mean call takes (pixels in N*H*W); bounds the
 * network workspace (~ width * 4 bytes * a few * this). */
#define VDM_MODEL_MAX_TILE_PIXELS (1 << 22)

typedef struct vdm_model vdm_model;

/* The data value of 8-bit sample k (0..255): x_k = (2k - 255) / 255 in
 * float32 (the subtraction is exact, one rounded division). */
static inline float vdm_data_value(int k) { return ((float)(2 * k) - 255.0f) / 255.0f; }

/* Load a weights file (format-spec/weights.md).  A checkpoint loads too (its
 * EMA weights).  Errors: VDM_ERR_IO, VDM_ERR_FORMAT (not a weights file),
 * VDM_ERR_VERSION, VDM_ERR_TRUNCATED, VDM_ERR_CHECKSUM, VDM_ERR_CORRUPT
 * (inconsistent sizes, bad config, non-finite or non-monotone schedule),
 * VDM_ERR_NOMEM.  *out is freed with vdm_model_free. */
vdm_status vdm_model_load(const char *path, vdm_model **out);
vdm_status vdm_model_load_mem(const void *buf, size_t size, vdm_model **out);
void vdm_model_free(vdm_model *m);   /* NULL is fine */
/* A second model over base's weights (not copied: base must outlive it and
 * must not change) with its own caches, workspace and, when base runs on
 * the GPU, its own GPU context: one view per thread lets several threads
 * code with one set of weights at once (base itself is only read).  Freed
 * with vdm_model_free.  Errors: VDM_ERR_ARG, VDM_ERR_NOMEM, those of
 * vdm_model_set_device. */
vdm_status vdm_model_view(const vdm_model *base, vdm_model **out);

/* The model's identity: the SHA-256 stored in (and verified against) its
 * file, i.e. over every byte of the file before the 32-byte trailer.  A .vdz
 * records it so that decoding with another model fails clearly. */
void vdm_model_id(const vdm_model *m, uint8_t out[32]);
/* The step count the model was trained for (0: trained in continuous time). */
int vdm_model_default_steps(const vdm_model *m);

typedef struct vdm_time_consts {
    /* at time t_i = i/T */
    double gamma;        /* gamma(t_i) */
    double alpha;        /* sqrt(sigmoid(-gamma)) */
    double sigma;        /* sqrt(sigmoid(gamma)) */
    double noise_ratio;  /* sigma / alpha = exp(gamma / 2) */
    float gscaled;       /* the network's conditioning input for t_i */
    /* step i: s = t_{i-1} -> t = t_i (all zero in entry 0) */
    double q_alpha;      /* alpha_{t|s} = alpha_t / alpha_s */
    double q_sigma;      /* sigma_{t|s} = sqrt(-expm1(softplus(gamma_s) - softplus(gamma_t))) */
    double p_sigma;      /* sigma_s sqrt(-expm1(gamma_s - gamma_t)) */
    float p_a;           /* (float) alpha_s / alpha_t */
    float p_k;           /* (float) sigma_t * (-expm1(gamma_s - gamma_t)) */
} vdm_time_consts;

/* Fill out[0..T] (caller-owned, T+1 entries) for 1 <= T <= VDM_MODEL_MAX_STEPS.
 * Deterministic (see above).  VDM_ERR_ARG for a bad T. */
vdm_status vdm_model_consts(const vdm_model *m, int T, vdm_time_consts *out);

/* Where vdm_model_p_mean runs the network: VDM_DEVICE_CPU (the REF kernels;
 * the default) or VDM_DEVICE_CUDA (the deterministic CUDA kernels on GPU 0,
 * kernels/cuda_api.h).  Both give the same bits, so files coded on either
 * decode on the other; everything but the network stays on the host.
 * Errors (the device is then unchanged): VDM_ERR_UNSUPPORTED (this build has
 * no CUDA backend), VDM_ERR_CUDA (no usable GPU, or uploading the weights
 * failed), VDM_ERR_NOMEM, VDM_ERR_ARG. */
typedef enum { VDM_DEVICE_CPU = 0, VDM_DEVICE_CUDA = 1 } vdm_device;
vdm_status vdm_model_set_device(vdm_model *m, vdm_device dev);
vdm_device vdm_model_device(const vdm_model *m);

/* p(z_s | z_t) for step i (1..T) of T on N tiles z_t [N,H,W,3] (float32,
 * already on their grid): per element its mean[N*H*W*3] and standard
 * deviation sigma[N*H*W*3] (both caller-owned).  Without learned variances
 * sigma is (float)p_sigma everywhere; with them (net var_out >= 1)
 *   sigma = (float) sqrt(p_sigma^2 + (p_a p_k)^2 exp(clamp(v)))
 * in float64 (format-spec/weights.md section 6), always >= p_sigma.
 * With channel coupling (var_out = 2, vdm_model_coupled) coef[N*H*W*3]
 * receives per pixel (a_GR, a_BR, a_BG), clamped to +-VDM_COUPLE_MAX, and
 * p is channel-autoregressive within each pixel: R ~ N(mean_R, sigma_R^2),
 * G | R ~ N(vdm_couple_mean_g(...), sigma_G^2), B | R, G ~
 * N(vdm_couple_mean_b(...), sigma_B^2) (coef may be NULL otherwise).
 * Each tile is processed on its own with zero padding at its borders.
 * nthreads >= 1 does not change the result.  mean, sigma and coef must not
 * overlap z_t.  Errors: VDM_ERR_ARG (bad T/i/sizes, coef missing),
 * VDM_ERR_LIMIT (N*H*W > VDM_MODEL_MAX_TILE_PIXELS), VDM_ERR_NOMEM. */
vdm_status vdm_model_p_mean(vdm_model *m, int T, int i, const float *z_t, int N, int H, int W,
                            int nthreads, float *mean, float *sigma, float *coef);
/* 1 when p_mean gives channel-coupling coefficients (net var_out = 2). */
int vdm_model_coupled(const vdm_model *m);

/* The coupled means of one pixel (mean, coef: that pixel's 3 values from
 * vdm_model_p_mean; zr, zg: the values of z_s's R and G on their grid), each
 * float32 operation rounded in the order written (no FMA): part of the
 * format (format-spec/vdz.md 6.1). */
static inline float vdm_couple_mean_g(const float *mean, const float *coef, float zr)
{
    const float dr = zr - mean[0];
    const float t = coef[0] * dr;
    return mean[1] + t;
}
static inline float vdm_couple_mean_b(const float *mean, const float *coef, float zr, float zg)
{
    const float dr = zr - mean[0], dg = zg - mean[1];
    const float t1 = coef[1] * dr, t2 = coef[2] * dg;
    const float t = t1 + t2;
    return mean[2] + t;
}

#ifdef __cplusplus
}
#endif
#endif
