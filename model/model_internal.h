/* model_internal.h — declarations shared by model/ sources and its tests.
 *
 * Invariants:
 *   - One parameter block per model: [ net params (vdm_net_param_count) |
 *     schedule params (vdm_sched_param_count) ], float32.  Gradients, Adam
 *     moments and the EMA mirror it exactly.
 *   - gamma(t) is increasing on [0,1]; gamma(0) = g0 and gamma(1) = g1 exactly.
 *   - alpha^2 = sigmoid(-gamma), sigma^2 = sigmoid(gamma) (variance preserving).
 *   - Every scalar of the schedule is computed in float64 with common/detmath
 *     functions in a fixed order (no libm), so training, evaluation and the
 *     coding path share one definition.
 *   - Data values: pixel k in 0..255 maps to x_k = (2k - 255) / 255 in float32
 *     (vdm_data_value in vdm_model.h).
 *   - Loss terms are in bits per dimension (sub-pixel) unless a name says nats. */
#ifndef VDM_MODEL_INTERNAL_H
#define VDM_MODEL_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"
#include "common/detmath.h"
#include "model/net.h"
#include "model/vdm_model.h"
#include "model/vdm_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* exact square roots: vdm_sqrt_d / vdm_sqrt_f (common/detmath.h) */

/* ---- random numbers (rng.c) -------------------------------------------
 * xoshiro256** seeded by splitmix64: small state (4 words) that a checkpoint
 * stores exactly.  Normals come in Box-Muller pairs, so filling an array uses
 * ceil(n/2) pairs and never caches a spare value outside the state. */
typedef struct vdm_rng { uint64_t s[4]; } vdm_rng;
void vdm_rng_seed(vdm_rng *r, uint64_t seed);
uint64_t vdm_rng_u64(vdm_rng *r);
double vdm_rng_uniform(vdm_rng *r);              /* [0, 1), 53 bits */
uint32_t vdm_rng_below(vdm_rng *r, uint32_t n);  /* uniform in [0, n), n >= 1 */
void vdm_rng_normal(vdm_rng *r, float *out, size_t n);

/* ---- noise schedule (schedule.c) ---------------------------------------
 * LINEAR:  gamma(t) = g0 + (g1 - g0) t.  params [g0, g1] (not trained).
 * LEARNED: VDM App. H with the endpoint rescaling of App. I.2 (eq. 59):
 *   gt(t)    = |w1| t + (1/H) sum_j |w3_j| (2 sigmoid(|w2_j| (2t-1) + b2_j) - 1)
 *   gamma(t) = g0 + (g1 - g0) (gt(t) - gt(0)) / (gt(1) - gt(0))
 *   params [g0, g1, w1, w2[H], b2[H], w3[H]].  |.| keeps every layer weight
 *   positive, so gt and gamma increase with t (for g1 > g0).  l1's bias
 *   cancels in the rescaling and is omitted; the sum over j is in ascending j. */
#define VDM_SCHED_MAX_HIDDEN 4096

typedef struct vdm_sched_config {
    int32_t kind;    /* VDM_SCHED_* */
    int32_t hidden;  /* H for LEARNED (1024 in VDM); 0 for LINEAR */
} vdm_sched_config;

vdm_status vdm_sched_config_check(const vdm_sched_config *c);
size_t vdm_sched_param_count(const vdm_sched_config *c);
/* Initial parameters: endpoints g0 < g1, a near-linear shape (VDM's init). */
void vdm_sched_init(const vdm_sched_config *c, float *p, double g0, double g1, uint64_t seed);
/* Check that p gives a valid increasing schedule (finite, g1 > g0, gt(1) > gt(0)).
 * VDM_OK or VDM_ERR_CORRUPT. */
vdm_status vdm_sched_check(const vdm_sched_config *c, const float *p);
/* gamma[k] = gamma(t[k]) and, if dgamma_dt != NULL, dgamma_dt[k] = gamma'(t[k]). */
void vdm_sched_eval(const vdm_sched_config *c, const float *p, int n, const double *t,
                    double *gamma, double *dgamma_dt);
/* dp += sum_k dgamma[k] * d gamma(t[k])/dp + ddgdt[k] * d gamma'(t[k])/dp.
 * ddgdt may be NULL.  Sums run in double in ascending k, added to dp once.
 * VDM_OK or VDM_ERR_NOMEM (dp untouched). */
vdm_status vdm_sched_backward(const vdm_sched_config *c, const float *p, int n, const double *t,
                              const double *dgamma, const double *ddgdt, float *dp);

/* Stable scalar functions of gamma in float64 (detmath only). */
double vdm_softplus_d(double x);                 /* log(1 + e^x) */
static inline double vdm_alpha2_d(double g) { return vdm_exp(-vdm_softplus_d(g)); }  /* sigmoid(-g) */
static inline double vdm_sigma2_d(double g) { return vdm_exp(-vdm_softplus_d(-g)); }  /* sigmoid(g) */
static inline double vdm_alpha_d(double g) { return vdm_exp(-0.5 * vdm_softplus_d(g)); }  /* sqrt(sigmoid(-g)) */
static inline double vdm_sigma_d(double g) { return vdm_exp(-0.5 * vdm_softplus_d(-g)); } /* sqrt(sigmoid(g)) */

/* ---- learned reverse variances (net var_out = 1) --------------------------
 * The net's v output (log of the predicted E[(eps - eps_hat)^2]) is clamped
 * to [VDM_VAR_MIN, VDM_VAR_MAX] (float64) wherever it is used: in the loss
 * (zero gradient outside) and in the coding path's standard deviations
 * (format-spec/weights.md section 6). */
#define VDM_VAR_MIN (-24.0)
#define VDM_VAR_MAX 6.0
static inline double vdm_var_clamp(double v) { return v < VDM_VAR_MIN ? VDM_VAR_MIN : (v > VDM_VAR_MAX ? VDM_VAR_MAX : v); }
/* Channel-coupling coefficients (var_out = 2) are clamped to [-VDM_COUPLE_MAX,
 * VDM_COUPLE_MAX] (float32 in the coding path, zero gradient outside). */
#define VDM_COUPLE_MAX 4.0f
static inline float vdm_couple_clamp(float a) { return a < -VDM_COUPLE_MAX ? -VDM_COUPLE_MAX : (a > VDM_COUPLE_MAX ? VDM_COUPLE_MAX : a); }

/* ---- model configuration ----------------------------------------------- */
typedef struct vdm_model_config {
    vdm_net_config net;
    vdm_sched_config sched;
    double gs_lo, gs_hi;   /* gscaled = (gamma - gs_lo) / (gs_hi - gs_lo), fixed */
    int32_t default_T;     /* steps the model was trained for; 0 = continuous time */
} vdm_model_config;

vdm_status vdm_model_config_check(const vdm_model_config *c);
/* Read a whole weights/checkpoint file (at most 16 GiB) into *buf (malloc,
 * caller frees).  VDM_ERR_IO, VDM_ERR_LIMIT or VDM_ERR_NOMEM; then *buf is NULL. */
vdm_status vdm_model_read_file(const char *path, uint8_t **buf, size_t *size);
size_t vdm_model_param_count(const vdm_model_config *c);  /* net + schedule */
/* The network input for a gamma: float32 of the float64 affine map. */
static inline float vdm_gscaled(const vdm_model_config *c, double gamma)
{
    return (float)((gamma - c->gs_lo) / (c->gs_hi - c->gs_lo));
}

/* ---- loss (loss.c) ------------------------------------------------------
 * One minibatch of N crops [H,W,3] with all randomness given explicitly, so
 * tests can replay it.  t: discrete T >= 1 needs t = i/T with i in 1..T
 * (s = t - 1/T); T == 0 is continuous time, t in [0,1]. */
typedef struct vdm_batch {
    int N, H, W;
    const float *x;      /* [N,H,W,3] data values in [-1, 1] */
    const float *eps;    /* [N,H,W,3] noise of z_t = alpha_t x + sigma_t eps */
    const float *eps0;   /* [N,H,W,3] noise of z_0 for the reconstruction term */
    const double *t;     /* [N] */
    double diff_weight;  /* the diffusion term's estimator weight: 0 means T (t uniform over
                            all T steps); T - K + 1 when t is uniform over the steps K..T */
} vdm_batch;

typedef struct vdm_loss_terms {
    double prior, recon, diff, total;   /* batch means, bits per dimension */
} vdm_loss_terms;

/* Loss workspace for batches up to [N,H,W] (owns the net workspace). */
typedef struct vdm_loss_ws vdm_loss_ws;
vdm_loss_ws *vdm_loss_ws_create(const vdm_model_config *c, vdm_backend b, int N, int H, int W,
                                int for_training);
void vdm_loss_ws_free(vdm_loss_ws *ws);
/* The network workspace inside (for backend settings such as TF32). */
vdm_net_ws *vdm_loss_ws_net(vdm_loss_ws *ws);

/* The VLB estimate of one batch (App. E/F, expm1 form):
 *   prior  = KL(q(z1|x) || N(0,I))                              (exact)
 *   recon  = -log p(x | z0),  z0/alpha0 = x + exp(gamma0/2) eps0 (one sample)
 *   diff   = T/2 expm1(gamma_t - gamma_s) ||eps - eps_hat||^2   (discrete)
 *          = 1/2 gamma'(t) ||eps - eps_hat||^2                    (T = 0)
 * each divided by D ln 2 (D = H*W*3) and averaged over the batch.
 * b->eps0 == NULL skips the prior and reconstruction terms (reported as 0;
 * the bound evaluation computes them on its own).
 * If grad != NULL: grad += d(total)/d(params) over the whole block (net and
 * schedule).  diff_nats (optional, [N]) receives each element's
 * 1/2 expm1(gamma_t - gamma_s) ||eps - eps_hat||^2 in nats WITHOUT the factor T
 * (the exact KL term of its step for that eps; continuous: the estimator). */
vdm_status vdm_loss(const vdm_model_config *c, const float *params, vdm_loss_ws *ws,
                    int nthreads, int T, const vdm_batch *b, vdm_loss_terms *out,
                    float *grad, double *diff_nats);

/* Exact prior KL in nats summed over n values; *dg1 += its derivative wrt gamma1. */
double vdm_prior_nats(const float *x, size_t n, double g1, double *dg1);
/* -log p(x|z0) in nats summed over n values; *dg0 += derivative wrt gamma0. */
double vdm_recon_nats(const float *x, const float *eps0, size_t n, double g0, double *dg0);

/* ---- weights file (weights.c), see format-spec/weights.md --------------- */
enum { VDM_WFILE_WEIGHTS = 0, VDM_WFILE_CHECKPOINT = 1 };
enum { VDM_DT_F32 = 0, VDM_DT_U64 = 1, VDM_DT_U8 = 2 };
#define VDM_WFILE_MAX_TENSORS 64
#define VDM_WFILE_NAME_LEN 32

typedef struct vdm_tensor {
    char name[VDM_WFILE_NAME_LEN];   /* NUL-terminated, at most 31 chars */
    uint32_t dtype;                  /* VDM_DT_* */
    uint64_t count;                  /* elements */
    const void *data;                /* writer: host-order source; reader: the
                                        little-endian bytes inside the file buffer */
} vdm_tensor;

typedef struct vdm_wfile {
    uint32_t kind;                   /* VDM_WFILE_* */
    vdm_model_config cfg;
    uint64_t train_steps;            /* informational */
    uint32_t ntensors;
    vdm_tensor t[VDM_WFILE_MAX_TENSORS];
    uint8_t sha256[32];              /* reader: the stored (verified) hash */
} vdm_wfile;

/* Serialise to a malloc'd buffer (*out, caller frees with free()). */
vdm_status vdm_wfile_write_mem(const vdm_wfile *w, uint8_t **out, size_t *out_size);
/* Write atomically-ish: to path.tmp, then rename. */
vdm_status vdm_wfile_write(const vdm_wfile *w, const char *path);
/* Parse and verify buf (which must outlive w: tensors point into it). */
vdm_status vdm_wfile_parse(const uint8_t *buf, size_t size, vdm_wfile *w);
/* Find a tensor by name with the given dtype and count; NULL if absent or
 * different. */
const vdm_tensor *vdm_wfile_find(const vdm_wfile *w, const char *name, uint32_t dtype,
                                 uint64_t count);
/* Copy a tensor's little-endian elements to host order (dst holds count). */
void vdm_tensor_get_f32(const vdm_tensor *t, float *dst);
void vdm_tensor_get_u64(const vdm_tensor *t, uint64_t *dst);

/* ---- the loaded model (model.c) ----------------------------------------- */
/* Wrap a parameter block (copied) as a model, e.g. the trainer's EMA.  Its
 * id is that of the weights file exported with this train_steps. */
vdm_status vdm_model_from_params(const vdm_model_config *c, const float *params,
                                 uint64_t train_steps, vdm_model **out);
const vdm_model_config *vdm_model_cfg(const vdm_model *m);
const float *vdm_model_params(const vdm_model *m);

#ifdef __cplusplus
}
#endif
#endif
