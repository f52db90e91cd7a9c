/* eval.c — the negative VLB of an image, in bits per sub-pixel.
 *
 * The image is cut into tiles of at most tile x tile pixels (row-major);
 * each tile is a separate "image" for the network (zero padding at its
 * borders), which is how the codec codes it.  Per tile and sample k:
 *   prior   exact closed form (independent of k)
 *   recon   one eps0 draw per sub-pixel
 *   diff    for every step i = 1..T: one eps draw, the exact KL term
 *           1/2 expm1(gamma_t - gamma_s) |eps - eps_hat|^2 of that step
 * RNG stream of (sample k, tile j): seeded from (seed, k, j); it draws eps0
 * first, then eps for i = 1..T in order.
 * Standard error: within one sample the recon term and the T step terms use
 * independent noise, so Var(total) = Var(recon) + sum_i Var(step i); each is
 * estimated from its K values (K - 1 degrees of freedom each), which gives a
 * far steadier estimate than the K totals alone. */
#include <stdlib.h>
#include <string.h>
#include "model/model_internal.h"

#define LN2 0.69314718055994530942
/* Pixels of one network call (steps are batched up to this). */
#define EVAL_BATCH_PIXELS (1 << 16)
#define WS_CACHE 4

typedef struct { vdm_loss_ws *ws; int N, H, W; } ws_slot;

static vdm_loss_ws *get_ws(ws_slot *cache, int *next, const vdm_model_config *c, vdm_backend b,
                           int N, int H, int W)
{
    for (int i = 0; i < WS_CACHE; i++)
        if (cache[i].ws && cache[i].N == N && cache[i].H == H && cache[i].W == W) return cache[i].ws;
    ws_slot *s = &cache[*next];
    *next = (*next + 1) % WS_CACHE;
    vdm_loss_ws_free(s->ws);
    s->ws = vdm_loss_ws_create(c, b, N, H, W, 0);
    s->N = N;
    s->H = H;
    s->W = W;
    return s->ws;
}

static uint64_t stream_seed(uint64_t seed, int k, size_t j)
{
    return seed ^ ((uint64_t)(k + 1) * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)(j + 1) * 0xD1B54A32D192ED03ull);
}

vdm_status vdm_eval_image(vdm_model *m, const uint8_t *rgb, int width, int height,
                          const vdm_eval_options *o, vdm_bound *out)
{
    VDM_RETURN_IF(!m || !rgb || !o || !out || width < 1 || height < 1, VDM_ERR_ARG);
    VDM_RETURN_IF(o->T < 1 || o->T > VDM_MODEL_MAX_STEPS || o->samples < 1 || o->samples > 1000 ||
                  o->tile < 1 || o->nthreads < 1, VDM_ERR_ARG);
    VDM_RETURN_IF(o->backend != VDM_BACKEND_CPU && o->backend != VDM_BACKEND_REF, VDM_ERR_ARG);
    const vdm_model_config *c = vdm_model_cfg(m);
    const float *params = vdm_model_params(m);
    const int T = o->T, K = o->samples;
    const int tile = o->tile > 4096 ? 4096 : o->tile;
    const int tw_max = tile < width ? tile : width, th_max = tile < height ? tile : height;
    const size_t tpx_max = (size_t)tw_max * th_max;
    /* steps per network call: the largest divisor of T within the budget */
    int B = (int)(EVAL_BATCH_PIXELS / tpx_max);
    if (B < 1) B = 1;
    if (B > T) B = T;
    while (T % B) B--;

    double ends[2] = { 0.0, 1.0 }, gends[2];
    vdm_sched_eval(&c->sched, params + vdm_net_param_count(&c->net), 2, ends, gends, NULL);

    const size_t D_max = tpx_max * 3;
    float *x = (float *)malloc(sizeof(float) * D_max * (size_t)B);
    float *eps = (float *)malloc(sizeof(float) * D_max * (size_t)B);
    double *acc = (double *)calloc((size_t)K * (T + 1), sizeof(double)); /* [k][0]=recon, [k][i]=step i */
    double *tt = (double *)malloc(sizeof(double) * (size_t)B);
    double *dn = (double *)malloc(sizeof(double) * (size_t)B);
    ws_slot cache[WS_CACHE];
    memset(cache, 0, sizeof cache);
    int next = 0;
    vdm_status st = VDM_OK;
    if (!x || !eps || !acc || !tt || !dn) st = VDM_ERR_NOMEM;

    double prior_nats = 0.0;
    size_t j = 0;
    for (int ty = 0; ty < height && st == VDM_OK; ty += tile) {
        for (int tx = 0; tx < width && st == VDM_OK; tx += tile, j++) {
            const int th = height - ty < tile ? height - ty : tile;
            const int tw = width - tx < tile ? width - tx : tile;
            const size_t D = (size_t)th * tw * 3;
            for (int y = 0; y < th; y++) {
                const uint8_t *row = rgb + ((size_t)(ty + y) * width + tx) * 3;
                for (size_t q = 0; q < (size_t)tw * 3; q++) x[(size_t)y * tw * 3 + q] = vdm_data_value(row[q]);
            }
            for (int bb = 1; bb < B; bb++) memcpy(x + bb * D, x, D * sizeof(float));
            prior_nats += vdm_prior_nats(x, D, gends[1], NULL);
            vdm_loss_ws *ws = get_ws(cache, &next, c, o->backend, B, th, tw);
            if (!ws) { st = VDM_ERR_NOMEM; break; }
            for (int k = 0; k < K && st == VDM_OK; k++) {
                vdm_rng r;
                vdm_rng_seed(&r, stream_seed(o->seed, k, j));
                vdm_rng_normal(&r, eps, D);   /* eps0 */
                acc[(size_t)k * (T + 1)] += vdm_recon_nats(x, eps, D, gends[0], NULL);
                for (int i0 = 1; i0 <= T && st == VDM_OK; i0 += B) {
                    for (int bb = 0; bb < B; bb++) {
                        tt[bb] = (double)(i0 + bb) / (double)T;
                        vdm_rng_normal(&r, eps + bb * D, D);
                    }
                    vdm_batch b = { B, th, tw, x, eps, NULL, tt, 0.0 };
                    vdm_loss_terms lt;
                    st = vdm_loss(c, params, ws, o->nthreads, T, &b, &lt, NULL, dn);
                    for (int bb = 0; bb < B && st == VDM_OK; bb++)
                        acc[(size_t)k * (T + 1) + i0 + bb] += dn[bb];
                }
            }
        }
    }
    if (st == VDM_OK) {
        const double dims = (double)width * height * 3.0, conv = 1.0 / (dims * LN2);
        double mr = 0.0, md = 0.0, vr = 0.0, vd = 0.0;
        for (int i = 0; i <= T; i++) {
            double mean = 0.0, var = 0.0;
            for (int k = 0; k < K; k++) mean += acc[(size_t)k * (T + 1) + i];
            mean /= K;
            for (int k = 0; k < K; k++) {
                double d = acc[(size_t)k * (T + 1) + i] - mean;
                var += d * d;
            }
            var = K > 1 ? var / (K - 1) : 0.0;
            if (i == 0) { mr = mean; vr = var; }
            else {
                md += mean;
                vd += var;
                if (o->step_bits) o->step_bits[i - 1] = mean * conv;
                if (o->step_se) o->step_se[i - 1] = K > 1 ? vdm_sqrt_d(var / K) * conv : __builtin_nan("");
            }
        }
        out->dims = dims;
        out->prior = prior_nats * conv;
        out->recon = mr * conv;
        out->diff = md * conv;
        out->total = out->prior + out->recon + out->diff;
        if (K > 1) {
            out->se_recon = vdm_sqrt_d(vr / K) * conv;
            out->se_diff = vdm_sqrt_d(vd / K) * conv;
            out->se_total = vdm_sqrt_d((vr + vd) / K) * conv;
        } else {
            out->se_recon = out->se_diff = out->se_total = __builtin_nan("");
        }
    }
    for (int i = 0; i < WS_CACHE; i++) vdm_loss_ws_free(cache[i].ws);
    free(x);
    free(eps);
    free(acc);
    free(tt);
    free(dn);
    return st;
}

vdm_status vdm_eval_latent(vdm_model *m, const uint8_t *rgb, int width, int height, int T, int k,
                           int tile, int nthreads, vdm_backend backend, uint64_t seed,
                           float *z, float *xhat, float *alpha, float *sigma)
{
    VDM_RETURN_IF(!m || !rgb || !z || !alpha || !sigma || width < 1 || height < 1, VDM_ERR_ARG);
    VDM_RETURN_IF(T < 1 || T > VDM_MODEL_MAX_STEPS || k < 0 || k > T || tile < 1 || nthreads < 1, VDM_ERR_ARG);
    VDM_RETURN_IF(backend != VDM_BACKEND_CPU && backend != VDM_BACKEND_REF, VDM_ERR_ARG);
    const vdm_model_config *c = vdm_model_cfg(m);
    const float *params = vdm_model_params(m);
    if (tile > 4096) tile = 4096;
    const int tw_max = tile < width ? tile : width, th_max = tile < height ? tile : height;
    double tk = (double)k / (double)T, gk;
    vdm_sched_eval(&c->sched, params + vdm_net_param_count(&c->net), 1, &tk, &gk, NULL);
    const float af = (float)vdm_alpha_d(gk), sf = (float)vdm_sigma_d(gk);
    *alpha = af;
    *sigma = sf;
    const int Ko = vdm_net_out_channels(&c->net);
    const int use_net = xhat && k > 0;
    const size_t D_max = (size_t)tw_max * th_max * 3;
    float *eps = (float *)malloc(sizeof(float) * D_max * 2);
    float *eh = use_net ? (float *)malloc(sizeof(float) * (size_t)tw_max * th_max * (size_t)Ko) : NULL;
    vdm_net_ws *ws = use_net ? vdm_net_ws_create(&c->net, backend, 1, th_max, tw_max, 0) : NULL;
    vdm_status st = VDM_OK;
    if (!eps || (use_net && (!eh || !ws))) st = VDM_ERR_NOMEM;
    float *zt = eps ? eps + D_max : NULL;
    const float gs = vdm_gscaled(c, gk);
    size_t j = 0;
    for (int ty = 0; ty < height && st == VDM_OK; ty += tile) {
        for (int tx = 0; tx < width && st == VDM_OK; tx += tile, j++) {
            const int th = height - ty < tile ? height - ty : tile;
            const int tw = width - tx < tile ? width - tx : tile;
            const size_t D = (size_t)th * tw * 3;
            vdm_rng r;
            vdm_rng_seed(&r, stream_seed(seed, -1, j));
            vdm_rng_normal(&r, eps, D);
            for (int y = 0; y < th; y++) {
                const size_t o = ((size_t)(ty + y) * width + tx) * 3;
                for (size_t q = 0; q < (size_t)tw * 3; q++) {
                    const float a = af * vdm_data_value(rgb[o + q]);
                    const float b = sf * eps[(size_t)y * tw * 3 + q];
                    zt[(size_t)y * tw * 3 + q] = z[o + q] = a + b;
                }
            }
            if (!xhat) continue;
            if (use_net) st = vdm_net_forward(&c->net, params, ws, nthreads, zt, &gs, 1, th, tw, eh);
            for (int y = 0; y < th && st == VDM_OK; y++) {
                const size_t o = ((size_t)(ty + y) * width + tx) * 3;
                for (size_t q = 0; q < (size_t)tw * 3; q++) {
                    const size_t pq = (size_t)y * tw + q / 3;
                    float v = use_net ? (zt[(size_t)y * tw * 3 + q] - sf * eh[pq * (size_t)Ko + q % 3]) / af
                                      : zt[(size_t)y * tw * 3 + q] / af;
                    xhat[o + q] = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
                }
            }
        }
    }
    vdm_net_ws_free(ws);
    free(eh);
    free(eps);
    return st;
}

void vdm_bound_combine(const vdm_bound *b, int n, vdm_bound *out)
{
    memset(out, 0, sizeof *out);
    double v[3] = { 0, 0, 0 };
    for (int i = 0; i < n; i++) {
        const double d = b[i].dims;
        out->dims += d;
        out->prior += b[i].prior * d;
        out->recon += b[i].recon * d;
        out->diff += b[i].diff * d;
        out->total += b[i].total * d;
        v[0] += (b[i].se_recon * d) * (b[i].se_recon * d);
        v[1] += (b[i].se_diff * d) * (b[i].se_diff * d);
        v[2] += (b[i].se_total * d) * (b[i].se_total * d);
    }
    if (out->dims <= 0.0) return;
    out->prior /= out->dims;
    out->recon /= out->dims;
    out->diff /= out->dims;
    out->total /= out->dims;
    out->se_recon = vdm_sqrt_d(v[0]) / out->dims;   /* NaN stays NaN */
    out->se_diff = vdm_sqrt_d(v[1]) / out->dims;
    out->se_total = vdm_sqrt_d(v[2]) / out->dims;
}
