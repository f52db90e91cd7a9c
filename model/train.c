/* train.c — the training loop: batch sampling, loss + backward, global-norm
 * clipping, Adam with decoupled weight decay, EMA, checkpoint and exact resume.
 *
 * Order of random draws per update (all from the one trainer RNG, so a
 * checkpoint's 4-word state replays it):
 *   u0; then per batch element: image index, crop y, crop x, flip bit;
 *   then eps [N,P,P,3], then eps0 [N,P,P,3].
 * Times: u_n = frac(u0 + n/N) (App. I.1 low-discrepancy sampler);
 *   discrete T: t_n = (floor(u_n T) + 1) / T;  continuous: t_n = u_n.
 *
 * Update (k = number of the update, from 1):
 *   g     <- grad * min(1, clip / |grad|)             (clip_norm > 0)
 *   m     <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
 *   p     <- p - lr_k (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps) - lr_k wd p
 *            (wd on network weights only, not biases nor the schedule;
 *             the linear schedule is frozen)
 *   ema   <- d ema + (1 - d) p,   d = min(ema_decay, (1 + k) / (10 + k))
 *   lr_k  = lr * min(1, k / warmup), then, with lr_decay_steps = K > warmup,
 *           for k > warmup: lr + (lr_final - lr) * min(1, (k - warmup) / (K - warmup)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/device.h"
#include "model/model_internal.h"

#define STATE_WORDS 8
#define TCFG_WORDS 16

struct vdm_trainer {
    vdm_train_config tc;
    vdm_model_config mc;
    int nthreads;
    size_t P, Pn;
    float *p, *ema, *m, *v, *g;
    uint8_t *decay;          /* [P] 1 where weight decay applies (network weights, not biases) */
    double b1pow, b2pow;
    uint64_t step;
    vdm_rng rng;
    vdm_rgb8 *imgs;
    int nimg;
    uint8_t data_sha[32];
    vdm_loss_ws *lws;
    vdm_backend be;          /* where lws runs the network (not saved: a run moves freely) */
    int tf32;
    float *x, *eps, *eps0;
    double *t;
};

void vdm_train_config_default(vdm_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->net.channels = 3;
    c->net.width = 32;
    c->net.blocks = 4;
    c->net.n_fourier = 2;
    c->net.fourier_exp[0] = 7;
    c->net.fourier_exp[1] = 8;
    c->net.emb_dim = 64;
    c->net.act = VDM_ACT_SILU;
    c->sched_kind = VDM_SCHED_LEARNED;
    c->sched_hidden = 1024;
    c->g0 = -13.3;
    c->g1 = 5.0;
    c->T = 16;
    c->batch = 8;
    c->crop = 32;
    c->lr = 2e-3;
    c->warmup = 200;
    c->beta1 = 0.9;
    c->beta2 = 0.99;
    c->adam_eps = 1e-8;
    c->weight_decay = 0.01;
    c->clip_norm = 1.0;
    c->ema_decay = 0.999;
    c->seed = 1;
}

static vdm_model_config model_config_of(const vdm_train_config *c)
{
    vdm_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.net = c->net;
    mc.sched.kind = c->sched_kind;
    mc.sched.hidden = c->sched_kind == VDM_SCHED_LEARNED ? c->sched_hidden : 0;
    /* The conditioning map is fixed at the initial endpoints, so gscaled
     * starts in [0,1] and stays near it while the endpoints move. */
    mc.gs_lo = c->g0;
    mc.gs_hi = c->g1;
    mc.default_T = c->T;
    return mc;
}

vdm_status vdm_train_config_check(const vdm_train_config *c)
{
    VDM_RETURN_IF(!c, VDM_ERR_ARG);
    vdm_model_config mc = model_config_of(c);
    VDM_RETURN_IF(vdm_model_config_check(&mc) != VDM_OK, VDM_ERR_ARG);
    VDM_RETURN_IF(!(c->g1 > c->g0) || !(c->g0 > -30.0) || !(c->g1 < 30.0), VDM_ERR_ARG);
    VDM_RETURN_IF(c->T < 0 || c->T > VDM_MODEL_MAX_STEPS, VDM_ERR_ARG);
    VDM_RETURN_IF(c->batch < 1 || c->batch > 4096 || c->crop < 4 || c->crop > 4096, VDM_ERR_ARG);
    VDM_RETURN_IF((uint64_t)c->batch * c->crop * c->crop > ((uint64_t)1 << 24), VDM_ERR_LIMIT);
    VDM_RETURN_IF(!(c->lr > 0.0 && c->lr < 1.0) || c->warmup < 0, VDM_ERR_ARG);
    VDM_RETURN_IF(c->lr_decay_steps < 0 || !(c->lr_final >= 0.0 && c->lr_final < 1.0), VDM_ERR_ARG);
    VDM_RETURN_IF(!(c->beta1 >= 0.0 && c->beta1 < 1.0) || !(c->beta2 >= 0.0 && c->beta2 < 1.0), VDM_ERR_ARG);
    VDM_RETURN_IF(!(c->adam_eps > 0.0 && c->adam_eps < 1.0), VDM_ERR_ARG);
    VDM_RETURN_IF(!(c->weight_decay >= 0.0 && c->weight_decay < 1.0), VDM_ERR_ARG);
    VDM_RETURN_IF(!(c->clip_norm >= 0.0 && c->clip_norm < 1e30), VDM_ERR_ARG);
    VDM_RETURN_IF(!(c->ema_decay >= 0.0 && c->ema_decay < 1.0), VDM_ERR_ARG);
    VDM_RETURN_IF(c->coded_from < 0 || (c->coded_from > 0 && c->coded_from >= c->T), VDM_ERR_ARG);
    return VDM_OK;
}

void vdm_trainer_free(vdm_trainer *t)
{
    if (!t) return;
    free(t->p);
    free(t->ema);
    free(t->m);
    free(t->v);
    free(t->g);
    free(t->decay);
    free(t->imgs);
    vdm_loss_ws_free(t->lws);
    free(t->x);
    free(t->eps);
    free(t->eps0);
    free(t->t);
    free(t);
}

static void data_hash(const vdm_rgb8 *imgs, int n, uint8_t out[32])
{
    vdm_sha256_ctx *h = vdm_sha256_begin();
    if (!h) { memset(out, 0, 32); return; }
    for (int i = 0; i < n; i++) {
        uint8_t d[8];
        vdm_put_le32(d, (uint32_t)imgs[i].width);
        vdm_put_le32(d + 4, (uint32_t)imgs[i].height);
        vdm_sha256_update(h, d, 8);
        vdm_sha256_update(h, imgs[i].px, (size_t)imgs[i].width * imgs[i].height * 3);
    }
    vdm_sha256_end(h, out);
}

static vdm_status batch_alloc(vdm_trainer *t, int32_t batch);

vdm_status vdm_trainer_create(const vdm_train_config *c, const vdm_rgb8 *imgs, int nimg,
                              int nthreads, vdm_trainer **out)
{
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    *out = NULL;
    VDM_RETURN_IF(!imgs || nimg < 1 || nthreads < 1, VDM_ERR_ARG);
    VDM_FORWARD(vdm_train_config_check(c));
    vdm_trainer *t = (vdm_trainer *)calloc(1, sizeof *t);
    VDM_RETURN_IF(!t, VDM_ERR_NOMEM);
    t->tc = *c;
    t->mc = model_config_of(c);
    t->nthreads = nthreads;
    t->imgs = (vdm_rgb8 *)malloc(sizeof(vdm_rgb8) * (size_t)nimg);
    if (!t->imgs) { vdm_trainer_free(t); return VDM_ERR_NOMEM; }
    for (int i = 0; i < nimg; i++) {
        if (!imgs[i].px || imgs[i].width < c->crop || imgs[i].height < c->crop) continue;
        t->imgs[t->nimg++] = imgs[i];
    }
    if (t->nimg == 0) { vdm_trainer_free(t); return VDM_ERR_ARG; }
    data_hash(t->imgs, t->nimg, t->data_sha);

    t->Pn = vdm_net_param_count(&t->mc.net);
    t->P = vdm_model_param_count(&t->mc);
    size_t P = t->P;
    t->p = (float *)malloc(P * sizeof(float));
    t->ema = (float *)malloc(P * sizeof(float));
    t->m = (float *)calloc(P, sizeof(float));
    t->v = (float *)calloc(P, sizeof(float));
    t->g = (float *)malloc(P * sizeof(float));
    t->decay = (uint8_t *)calloc(P, 1);
    t->be = VDM_BACKEND_CPU;
    if (!t->p || !t->ema || !t->m || !t->v || !t->g || !t->decay || batch_alloc(t, c->batch) != VDM_OK) {
        vdm_trainer_free(t);
        return VDM_ERR_NOMEM;
    }
    for (int i = 0; i < vdm_net_tensor_count(&t->mc.net); i++) {
        vdm_net_tensor ti;
        if (vdm_net_tensor_info(&t->mc.net, i, &ti) == VDM_OK && !ti.is_bias)
            memset(t->decay + ti.offset, 1, ti.count);
    }
    vdm_net_init(&t->mc.net, t->p, c->seed);
    vdm_sched_init(&t->mc.sched, t->p + t->Pn, c->g0, c->g1, c->seed);
    memcpy(t->ema, t->p, P * sizeof(float));
    t->b1pow = 1.0;
    t->b2pow = 1.0;
    vdm_rng_seed(&t->rng, c->seed ^ 0x7261696E5EEDull);
    *out = t;
    return VDM_OK;
}

/* A training loss workspace for batch crops on backend b. */
static vdm_status loss_ws_for(const vdm_trainer *t, vdm_backend b, int tf32, int batch, vdm_loss_ws **out)
{
    const int crop = t->tc.crop;
    vdm_loss_ws *w = vdm_loss_ws_create(&t->mc, b, batch, crop, crop, 1);
    VDM_RETURN_IF(!w, b == VDM_BACKEND_CUDA ? VDM_ERR_CUDA : VDM_ERR_NOMEM);
    if (b == VDM_BACKEND_CUDA) {
        vdm_status st = vdm_net_ws_set_tf32(vdm_loss_ws_net(w), tf32);
        if (st != VDM_OK) { vdm_loss_ws_free(w); return st; }
    }
    *out = w;
    return VDM_OK;
}

/* The batch buffers and the loss workspace for batch crops on t's backend,
 * swapped in only when all of them exist (t keeps its old ones otherwise). */
static vdm_status batch_alloc(vdm_trainer *t, int32_t batch)
{
    const size_t D = (size_t)batch * (size_t)t->tc.crop * (size_t)t->tc.crop * 3;
    vdm_loss_ws *w = NULL;
    VDM_FORWARD(loss_ws_for(t, t->be, t->tf32, batch, &w));
    float *x = (float *)malloc(D * sizeof(float)), *eps = (float *)malloc(D * sizeof(float));
    float *eps0 = (float *)malloc(D * sizeof(float));
    double *tt = (double *)malloc((size_t)batch * sizeof(double));
    if (!x || !eps || !eps0 || !tt) {
        free(x); free(eps); free(eps0); free(tt);
        vdm_loss_ws_free(w);
        return VDM_ERR_NOMEM;
    }
    free(t->x); free(t->eps); free(t->eps0); free(t->t);
    vdm_loss_ws_free(t->lws);
    t->x = x;
    t->eps = eps;
    t->eps0 = eps0;
    t->t = tt;
    t->lws = w;
    t->tc.batch = batch;
    return VDM_OK;
}

vdm_status vdm_trainer_set_backend(vdm_trainer *t, vdm_backend b, int tf32)
{
    VDM_RETURN_IF(!t || (b != VDM_BACKEND_CPU && b != VDM_BACKEND_CUDA), VDM_ERR_ARG);
    if (b == VDM_BACKEND_CUDA) {
        /* the workspace constructor only says NULL: name the cause first */
        VDM_RETURN_IF(!vdm_cuda_compiled(), VDM_ERR_UNSUPPORTED);
        VDM_RETURN_IF(vdm_cuda_device_count(NULL, 0) < 1, VDM_ERR_CUDA);
    }
    const vdm_train_config *c = &t->tc;
    vdm_loss_ws *w = NULL;
    VDM_FORWARD(loss_ws_for(t, b, tf32, c->batch, &w));
    vdm_loss_ws_free(t->lws);
    t->lws = w;
    t->be = b;
    t->tf32 = tf32 != 0;
    return VDM_OK;
}

vdm_status vdm_trainer_set_batch(vdm_trainer *t, int32_t batch)
{
    VDM_RETURN_IF(!t, VDM_ERR_ARG);
    vdm_train_config c = t->tc;
    c.batch = batch;
    VDM_FORWARD(vdm_train_config_check(&c));
    if (batch == t->tc.batch) return VDM_OK;
    return batch_alloc(t, batch);
}

static void sample_batch(vdm_trainer *t)
{
    const int N = t->tc.batch, P = t->tc.crop, T = t->tc.T;
    const size_t D = (size_t)P * P * 3;
    double u0 = vdm_rng_uniform(&t->rng);
    for (int n = 0; n < N; n++) {
        double u = u0 + (double)n / N;
        if (u >= 1.0) u -= 1.0;
        if (T > 0) {
            /* uniform over the trained steps lo..T: all of them, or with
             * coded_from = K the steps K..T (see vdm_train_config) */
            const int lo = t->tc.coded_from > 0 ? t->tc.coded_from : 1;
            int i = lo + (int)(u * (T - lo + 1));
            if (i > T) i = T;
            t->t[n] = (double)i / (double)T;
        } else {
            t->t[n] = u;
        }
        const vdm_rgb8 *im = &t->imgs[vdm_rng_below(&t->rng, (uint32_t)t->nimg)];
        int y0 = (int)vdm_rng_below(&t->rng, (uint32_t)(im->height - P + 1));
        int x0 = (int)vdm_rng_below(&t->rng, (uint32_t)(im->width - P + 1));
        int flip = (int)(vdm_rng_u64(&t->rng) >> 63);
        float *x = t->x + n * D;
        for (int y = 0; y < P; y++) {
            const uint8_t *row = im->px + ((size_t)(y0 + y) * im->width + x0) * 3;
            for (int xx = 0; xx < P; xx++) {
                int sx = flip ? P - 1 - xx : xx;
                for (int ch = 0; ch < 3; ch++)
                    x[((size_t)y * P + xx) * 3 + ch] = vdm_data_value(row[sx * 3 + ch]);
            }
        }
    }
    vdm_rng_normal(&t->rng, t->eps, (size_t)N * D);
    vdm_rng_normal(&t->rng, t->eps0, (size_t)N * D);
}

static int finite_f(float v) { uint32_t b; memcpy(&b, &v, 4); return (b & 0x7f800000u) != 0x7f800000u; }

vdm_status vdm_trainer_step(vdm_trainer *t, vdm_train_stats *st)
{
    VDM_RETURN_IF(!t, VDM_ERR_ARG);
    const vdm_train_config *c = &t->tc;
    sample_batch(t);
    vdm_batch b = { c->batch, c->crop, c->crop, t->x, t->eps, t->eps0, t->t,
                    c->coded_from > 0 ? (double)(c->T - c->coded_from + 1) : 0.0 };
    memset(t->g, 0, t->P * sizeof(float));
    vdm_loss_terms lt;
    VDM_FORWARD(vdm_loss(&t->mc, t->p, t->lws, t->nthreads, c->T, &b, &lt, t->g, NULL));
    const int sched_fixed = t->mc.sched.kind == VDM_SCHED_LINEAR || c->coded_from > 0;
    if (sched_fixed)
        memset(t->g + t->Pn, 0, (t->P - t->Pn) * sizeof(float));
    double n2 = 0.0;
    for (size_t k = 0; k < t->P; k++) n2 += (double)t->g[k] * t->g[k];
    double gnorm = vdm_sqrt_d(n2);
    /* A non-finite loss or gradient would poison the weights and the EMA:
     * refuse the update and let the caller stop (the last checkpoint stays). */
    VDM_RETURN_IF(!(gnorm < 1e30) || !(lt.total < 1e30), VDM_ERR_INTERNAL);

    uint64_t k = t->step + 1;
    double lr = c->lr;
    if (c->warmup > 0 && k < (uint64_t)c->warmup) lr = c->lr * (double)k / (double)c->warmup;
    else if (c->lr_decay_steps > c->warmup) {
        double f = (double)(k - (uint64_t)c->warmup) / (double)(c->lr_decay_steps - c->warmup);
        lr = c->lr + (c->lr_final - c->lr) * (f < 1.0 ? f : 1.0);
    }
    double clip = (c->clip_norm > 0.0 && gnorm > c->clip_norm) ? c->clip_norm / gnorm : 1.0;
    t->b1pow *= c->beta1;
    t->b2pow *= c->beta2;
    const float fclip = (float)clip, b1 = (float)c->beta1, b2 = (float)c->beta2;
    const float omb1 = (float)(1.0 - c->beta1), omb2 = (float)(1.0 - c->beta2);
    const float bc1 = (float)(1.0 / (1.0 - t->b1pow)), bc2 = (float)(1.0 / (1.0 - t->b2pow));
    const float flr = (float)lr, fwd = (float)(lr * c->weight_decay), feps = (float)c->adam_eps;
    const size_t Ptrain = sched_fixed ? t->Pn : t->P;
    for (size_t j = 0; j < Ptrain; j++) {
        float g = t->g[j] * fclip;
        float m = b1 * t->m[j] + omb1 * g;
        float v = b2 * t->v[j] + omb2 * (g * g);
        t->m[j] = m;
        t->v[j] = v;
        float upd = (m * bc1) / (vdm_sqrt_f(v * bc2) + feps);
        float p = t->p[j];
        if (t->decay[j]) p = p - fwd * p;
        t->p[j] = p - flr * upd;
    }
    /* keep the learned schedule valid (g1 > g0); Adam steps are tiny, so this
     * only guards against a pathological run */
    float *sp = t->p + t->Pn;
    if (!(sp[1] > sp[0] + 0.5f)) sp[1] = sp[0] + 0.5f;
    for (size_t j = 0; j < t->P; j++)
        if (!finite_f(t->p[j])) return VDM_ERR_INTERNAL;
    double d = (1.0 + (double)k) / (10.0 + (double)k);
    if (d > c->ema_decay) d = c->ema_decay;
    const float fd = (float)d, omd = (float)(1.0 - d);
    for (size_t j = 0; j < t->P; j++) t->ema[j] = fd * t->ema[j] + omd * t->p[j];
    t->step = k;
    if (st) {
        st->step = k;
        st->prior = lt.prior;
        st->recon = lt.recon;
        st->diff = lt.diff;
        st->total = lt.total;
        st->grad_norm = gnorm;
        st->lr = lr;
        st->gamma0 = sp[0];
        st->gamma1 = sp[1];
    }
    return VDM_OK;
}

/* ---- files ---------------------------------------------------------------- */

static uint64_t dbits(double v) { uint64_t u; memcpy(&u, &v, 8); return u; }
static double bitsd(uint64_t u) { double v; memcpy(&v, &u, 8); return v; }

static void tcfg_pack(const vdm_train_config *c, uint64_t w[TCFG_WORDS])
{
    memset(w, 0, sizeof(uint64_t) * TCFG_WORDS);
    w[0] = (uint64_t)(uint32_t)c->sched_kind;
    w[1] = (uint64_t)(uint32_t)c->sched_hidden;
    w[2] = dbits(c->g0);
    w[3] = dbits(c->g1);
    w[4] = (uint64_t)(uint32_t)c->T;
    w[5] = (uint64_t)(uint32_t)c->batch;
    w[6] = (uint64_t)(uint32_t)c->crop;
    w[7] = dbits(c->lr);
    w[8] = (uint64_t)(uint32_t)c->warmup;
    w[9] = dbits(c->beta1);
    w[10] = dbits(c->beta2);
    w[11] = dbits(c->adam_eps);
    w[12] = dbits(c->weight_decay);
    w[13] = dbits(c->clip_norm);
    w[14] = dbits(c->ema_decay);
    w[15] = c->seed;
}

static void tcfg_unpack(const uint64_t w[TCFG_WORDS], const vdm_net_config *net, vdm_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->net = *net;
    c->sched_kind = (int32_t)(uint32_t)w[0];
    c->sched_hidden = (int32_t)(uint32_t)w[1];
    c->g0 = bitsd(w[2]);
    c->g1 = bitsd(w[3]);
    c->T = (int32_t)(uint32_t)w[4];
    c->batch = (int32_t)(uint32_t)w[5];
    c->crop = (int32_t)(uint32_t)w[6];
    c->lr = bitsd(w[7]);
    c->warmup = (int32_t)(uint32_t)w[8];
    c->beta1 = bitsd(w[9]);
    c->beta2 = bitsd(w[10]);
    c->adam_eps = bitsd(w[11]);
    c->weight_decay = bitsd(w[12]);
    c->clip_norm = bitsd(w[13]);
    c->ema_decay = bitsd(w[14]);
    c->seed = w[15];
}

static void add_tensor(vdm_wfile *w, const char *name, uint32_t dt, uint64_t count, const void *data)
{
    vdm_tensor *t = &w->t[w->ntensors++];
    memset(t->name, 0, sizeof t->name);
    strncpy(t->name, name, VDM_WFILE_NAME_LEN - 1);
    t->dtype = dt;
    t->count = count;
    t->data = data;
}

static vdm_status write_file(const vdm_trainer *t, const char *path, int checkpoint)
{
    VDM_RETURN_IF(!t || !path, VDM_ERR_ARG);
    vdm_wfile *w = (vdm_wfile *)calloc(1, sizeof *w);
    VDM_RETURN_IF(!w, VDM_ERR_NOMEM);
    w->kind = checkpoint ? VDM_WFILE_CHECKPOINT : VDM_WFILE_WEIGHTS;
    w->cfg = t->mc;
    w->train_steps = t->step;
    add_tensor(w, "net", VDM_DT_F32, t->Pn, t->ema);
    add_tensor(w, "schedule", VDM_DT_F32, t->P - t->Pn, t->ema + t->Pn);
    uint64_t state[STATE_WORDS] = { t->step, t->rng.s[0], t->rng.s[1], t->rng.s[2], t->rng.s[3],
                                    dbits(t->b1pow), dbits(t->b2pow), 0 };
    uint64_t tcw[TCFG_WORDS];
    tcfg_pack(&t->tc, tcw);
    const uint64_t lrd[2] = { (uint64_t)(uint32_t)t->tc.lr_decay_steps, dbits(t->tc.lr_final) };
    const uint64_t cfw = (uint64_t)(uint32_t)t->tc.coded_from;
    if (checkpoint) {
        add_tensor(w, "train.params", VDM_DT_F32, t->P, t->p);
        add_tensor(w, "adam.m", VDM_DT_F32, t->P, t->m);
        add_tensor(w, "adam.v", VDM_DT_F32, t->P, t->v);
        add_tensor(w, "train.state", VDM_DT_U64, STATE_WORDS, state);
        add_tensor(w, "train.config", VDM_DT_U64, TCFG_WORDS, tcw);
        add_tensor(w, "train.data_sha256", VDM_DT_U8, 32, t->data_sha);
        if (t->tc.lr_decay_steps > 0) add_tensor(w, "train.lr_decay", VDM_DT_U64, 2, lrd);
        if (t->tc.coded_from > 0) add_tensor(w, "train.coded_from", VDM_DT_U64, 1, &cfw);
    }
    vdm_status st = vdm_wfile_write(w, path);
    free(w);
    return st;
}

vdm_status vdm_trainer_save(const vdm_trainer *t, const char *path) { return write_file(t, path, 1); }
vdm_status vdm_trainer_export(const vdm_trainer *t, const char *path) { return write_file(t, path, 0); }

static int same_model_config(const vdm_model_config *a, const vdm_model_config *b)
{
    if (memcmp(&a->net, &b->net, sizeof a->net) != 0) return 0;   /* all int32: no padding */
    return a->sched.kind == b->sched.kind && a->sched.hidden == b->sched.hidden &&
           a->gs_lo == b->gs_lo && a->gs_hi == b->gs_hi && a->default_T == b->default_T;
}

vdm_status vdm_trainer_resume(const char *ckpt_path, const vdm_rgb8 *imgs, int nimg,
                              int nthreads, vdm_trainer **out, int *data_changed)
{
    VDM_RETURN_IF(!ckpt_path || !out, VDM_ERR_ARG);
    *out = NULL;
    uint8_t *buf = NULL;
    size_t sz = 0;
    vdm_status st = vdm_model_read_file(ckpt_path, &buf, &sz);
    vdm_wfile *w = NULL;
    if (st == VDM_OK && !(w = (vdm_wfile *)malloc(sizeof *w))) st = VDM_ERR_NOMEM;
    if (st == VDM_OK) st = vdm_wfile_parse(buf, sz, w);
    /* a weights file is valid but cannot be resumed: it lacks the optimiser */
    if (st == VDM_OK && w->kind != VDM_WFILE_CHECKPOINT) st = VDM_ERR_UNSUPPORTED;
    const vdm_tensor *ttc = NULL, *tst = NULL, *tp = NULL, *tm = NULL, *tv = NULL, *te = NULL,
                     *tes = NULL, *tds = NULL;
    vdm_train_config tc;
    size_t P = 0, Pn = 0;
    if (st == VDM_OK) {
        ttc = vdm_wfile_find(w, "train.config", VDM_DT_U64, TCFG_WORDS);
        tst = vdm_wfile_find(w, "train.state", VDM_DT_U64, STATE_WORDS);
        tds = vdm_wfile_find(w, "train.data_sha256", VDM_DT_U8, 32);
        if (!ttc || !tst || !tds) st = VDM_ERR_CORRUPT;
    }
    if (st == VDM_OK) {
        uint64_t tcw[TCFG_WORDS];
        vdm_tensor_get_u64(ttc, tcw);
        tcfg_unpack(tcw, &w->cfg.net, &tc);
        /* optional (added later; absent: no decay) */
        const vdm_tensor *tld = vdm_wfile_find(w, "train.lr_decay", VDM_DT_U64, 2);
        if (tld) {
            uint64_t ld[2];
            vdm_tensor_get_u64(tld, ld);
            tc.lr_decay_steps = ld[0] > 0x7fffffffu ? -1 : (int32_t)ld[0];
            tc.lr_final = bitsd(ld[1]);
        }
        /* optional (absent: every step trained) */
        const vdm_tensor *tcf = vdm_wfile_find(w, "train.coded_from", VDM_DT_U64, 1);
        if (tcf) {
            uint64_t cf;
            vdm_tensor_get_u64(tcf, &cf);
            tc.coded_from = cf > 0x7fffffffu ? -1 : (int32_t)cf;
        }
        vdm_model_config mc = model_config_of(&tc);
        if (vdm_train_config_check(&tc) != VDM_OK || !same_model_config(&mc, &w->cfg))
            st = VDM_ERR_CORRUPT;
        P = vdm_model_param_count(&w->cfg);
        Pn = vdm_net_param_count(&w->cfg.net);
    }
    if (st == VDM_OK) {
        tp = vdm_wfile_find(w, "train.params", VDM_DT_F32, P);
        tm = vdm_wfile_find(w, "adam.m", VDM_DT_F32, P);
        tv = vdm_wfile_find(w, "adam.v", VDM_DT_F32, P);
        te = vdm_wfile_find(w, "net", VDM_DT_F32, Pn);
        tes = vdm_wfile_find(w, "schedule", VDM_DT_F32, P - Pn);
        if (!tp || !tm || !tv || !te || !tes) st = VDM_ERR_CORRUPT;
    }
    vdm_trainer *t = NULL;
    if (st == VDM_OK) st = vdm_trainer_create(&tc, imgs, nimg, nthreads, &t);
    if (st == VDM_OK) {
        vdm_tensor_get_f32(tp, t->p);
        vdm_tensor_get_f32(tm, t->m);
        vdm_tensor_get_f32(tv, t->v);
        vdm_tensor_get_f32(te, t->ema);
        vdm_tensor_get_f32(tes, t->ema + Pn);
        uint64_t s[STATE_WORDS];
        vdm_tensor_get_u64(tst, s);
        t->step = s[0];
        for (int i = 0; i < 4; i++) t->rng.s[i] = s[1 + i];
        t->b1pow = bitsd(s[5]);
        t->b2pow = bitsd(s[6]);
        if (data_changed) *data_changed = memcmp(tds->data, t->data_sha, 32) != 0;
        for (size_t j = 0; j < P && st == VDM_OK; j++)
            if (!finite_f(t->p[j]) || !finite_f(t->ema[j]) || !finite_f(t->m[j]) || !finite_f(t->v[j]))
                st = VDM_ERR_CORRUPT;
        if (st == VDM_OK && (vdm_sched_check(&t->mc.sched, t->p + Pn) != VDM_OK ||
                             vdm_sched_check(&t->mc.sched, t->ema + Pn) != VDM_OK))
            st = VDM_ERR_CORRUPT;
    }
    free(w);
    free(buf);
    if (st != VDM_OK) { vdm_trainer_free(t); return st; }
    *out = t;
    return VDM_OK;
}

vdm_status vdm_trainer_set_lr_decay(vdm_trainer *t, int32_t decay_steps, double lr_final)
{
    VDM_RETURN_IF(!t || decay_steps < 0 || !(lr_final >= 0.0 && lr_final < 1.0), VDM_ERR_ARG);
    t->tc.lr_decay_steps = decay_steps;
    t->tc.lr_final = lr_final;
    return VDM_OK;
}

vdm_status vdm_trainer_init_from(vdm_trainer *t, const char *path)
{
    VDM_RETURN_IF(!t || !path || t->step != 0, VDM_ERR_ARG);
    vdm_model *m = NULL;
    VDM_FORWARD(vdm_model_load(path, &m));
    const vdm_model_config *sc = vdm_model_cfg(m);
    vdm_net_config a = sc->net, b = t->mc.net;
    a.var_out = b.var_out = 0;
    a.blocks = b.blocks = 0;
    vdm_status st = VDM_OK;
    if (memcmp(&a, &b, sizeof a) != 0 || sc->net.var_out > t->mc.net.var_out ||
        sc->net.blocks > t->mc.net.blocks || sc->sched.kind != t->mc.sched.kind ||
        sc->sched.hidden != t->mc.sched.hidden || sc->gs_lo != t->mc.gs_lo || sc->gs_hi != t->mc.gs_hi)
        st = VDM_ERR_ARG;
    if (st == VDM_OK) {
        /* Tensors are matched by name.  A tensor that grew only in its last
         * dimension (out.w/out.b with learned variances, emb.w2/emb.b2 with
         * more blocks) gets the source's values as the prefix of each row;
         * what has no source (the new outputs, blocks beyond the source's)
         * keeps its initialisation: a new block's second conv is zero, so it
         * starts as the identity and the network computes what the source did. */
        const float *src = vdm_model_params(m);
        const int nt = vdm_net_tensor_count(&t->mc.net), ns = vdm_net_tensor_count(&sc->net);
        for (int i = 0; i < nt; i++) {
            vdm_net_tensor td, ts;
            vdm_net_tensor_info(&t->mc.net, i, &td);
            int j = 0;
            for (; j < ns; j++) {
                vdm_net_tensor_info(&sc->net, j, &ts);
                if (!strcmp(ts.name, td.name)) break;
            }
            if (j == ns) continue;
            const size_t ks = (size_t)ts.shape[ts.ndim - 1], kd = (size_t)td.shape[td.ndim - 1];
            for (size_t r = 0; r < ts.count / ks; r++)
                memcpy(t->p + td.offset + r * kd, src + ts.offset + r * ks, ks * sizeof(float));
        }
        memcpy(t->p + t->Pn, src + vdm_net_param_count(&sc->net), (t->P - t->Pn) * sizeof(float));
        memcpy(t->ema, t->p, t->P * sizeof(float));
    }
    vdm_model_free(m);
    return st;
}

vdm_status vdm_trainer_ema_model(const vdm_trainer *t, vdm_model **out)
{
    VDM_RETURN_IF(!t, VDM_ERR_ARG);
    return vdm_model_from_params(&t->mc, t->ema, t->step, out);
}

const vdm_train_config *vdm_trainer_config(const vdm_trainer *t) { return &t->tc; }
uint64_t vdm_trainer_steps(const vdm_trainer *t) { return t->step; }
size_t vdm_trainer_param_count(const vdm_trainer *t) { return t->P; }
