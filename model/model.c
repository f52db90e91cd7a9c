/* model.c — a loaded model and the coding path (vdm_model.h).
 *
 * The constant table's operation order (part of the format, since .vdz
 * files depend on it; also in format-spec/weights.md):
 *   t_i   = (double)i / (double)T
 *   gamma = schedule(t_i)                      (schedule.c, float64 detmath)
 *   sp    = softplus(gamma),  sm = softplus(-gamma)
 *   alpha = exp(-0.5*sp),  sigma = exp(-0.5*sm),  noise_ratio = exp(0.5*gamma)
 *   gscaled = (float)((gamma - gs_lo) / (gs_hi - gs_lo))
 *   step i >= 1 (s = i-1, t = i):
 *     q_alpha = exp(0.5*(sp_s - sp_t))
 *     q_sigma = sqrt(-expm1(sp_s - sp_t))
 *     c       = -expm1(gamma_s - gamma_t)
 *     p_sigma = sigma_s * sqrt(c)
 *     p_a     = (float)exp(0.5*(sp_t - sp_s))
 *     p_k     = (float)(sigma_t * c)
 * exp/expm1/log1p are detmath's float64 functions, sqrt is IEEE sqrt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/device.h"
#include "model/model_internal.h"

struct vdm_model {
    vdm_model_config cfg;
    float *params;          /* net + schedule, the evaluation (EMA) weights */
    int borrowed;           /* params belong to another model (vdm_model_view) */
    uint8_t id[32];
    int steps_trained_T;
    /* caches for the coding path */
    int cT;
    vdm_time_consts *ctab;  /* cT + 1 entries */
    vdm_net_ws *ws;
    int wsN, wsH, wsW;
    float *gs;              /* wsN */
    float *out;             /* wsN*wsH*wsW*Ko: the net's output with learned variances */
    vdm_net_gpu *gpu;       /* non-NULL: the network runs there (vdm_model_set_device) */
};

void vdm_model_free(vdm_model *m)
{
    if (!m) return;
    if (!m->borrowed) free(m->params);
    free(m->ctab);
    vdm_net_ws_free(m->ws);
    free(m->gs);
    free(m->out);
    vdm_net_gpu_free(m->gpu);
    free(m);
}

static vdm_status params_check(const vdm_model_config *c, const float *p)
{
    size_t n = vdm_model_param_count(c);
    for (size_t k = 0; k < n; k++) {
        uint32_t bits;
        memcpy(&bits, &p[k], 4);
        VDM_RETURN_IF((bits & 0x7f800000u) == 0x7f800000u, VDM_ERR_CORRUPT);
    }
    return vdm_sched_check(&c->sched, p + vdm_net_param_count(&c->net));
}

vdm_status vdm_model_load_mem(const void *buf, size_t size, vdm_model **out)
{
    VDM_RETURN_IF(!buf || !out, VDM_ERR_ARG);
    *out = NULL;
    vdm_wfile *w = (vdm_wfile *)malloc(sizeof *w);
    VDM_RETURN_IF(!w, VDM_ERR_NOMEM);
    vdm_status st = vdm_wfile_parse((const uint8_t *)buf, size, w);
    if (st != VDM_OK) { free(w); return st; }
    size_t pn = vdm_net_param_count(&w->cfg.net), ps = vdm_sched_param_count(&w->cfg.sched);
    const vdm_tensor *tn = vdm_wfile_find(w, "net", VDM_DT_F32, pn);
    const vdm_tensor *ts = vdm_wfile_find(w, "schedule", VDM_DT_F32, ps);
    vdm_model *m = NULL;
    if (!tn || !ts) st = VDM_ERR_CORRUPT;
    else if (!(m = (vdm_model *)calloc(1, sizeof *m)) ||
             !(m->params = (float *)malloc((pn + ps) * sizeof(float))))
        st = VDM_ERR_NOMEM;
    if (st == VDM_OK) {
        m->cfg = w->cfg;
        vdm_tensor_get_f32(tn, m->params);
        vdm_tensor_get_f32(ts, m->params + pn);
        memcpy(m->id, w->sha256, 32);
        st = params_check(&m->cfg, m->params);
    }
    free(w);
    if (st != VDM_OK) { vdm_model_free(m); return st; }
    *out = m;
    return VDM_OK;
}

vdm_status vdm_model_read_file(const char *path, uint8_t **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    VDM_RETURN_IF(!f, VDM_ERR_IO);
    vdm_status st = VDM_OK;
    long sz = -1;
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) st = VDM_ERR_IO;
    else if ((uint64_t)sz > ((uint64_t)1 << 34)) st = VDM_ERR_LIMIT;
    uint8_t *b = NULL;
    if (st == VDM_OK) {
        b = (uint8_t *)malloc(sz > 0 ? (size_t)sz : 1);
        if (!b) st = VDM_ERR_NOMEM;
        else if (fread(b, 1, (size_t)sz, f) != (size_t)sz) st = VDM_ERR_IO;
    }
    fclose(f);
    if (st != VDM_OK) { free(b); return st; }
    *buf = b;
    *size = (size_t)sz;
    return VDM_OK;
}

vdm_status vdm_model_load(const char *path, vdm_model **out)
{
    VDM_RETURN_IF(!path || !out, VDM_ERR_ARG);
    *out = NULL;
    uint8_t *buf = NULL;
    size_t sz = 0;
    vdm_status st = vdm_model_read_file(path, &buf, &sz);
    if (st == VDM_OK) st = vdm_model_load_mem(buf, sz, out);
    free(buf);
    return st;
}

vdm_status vdm_model_from_params(const vdm_model_config *c, const float *params,
                                 uint64_t train_steps, vdm_model **out)
{
    VDM_RETURN_IF(!c || !params || !out, VDM_ERR_ARG);
    *out = NULL;
    VDM_RETURN_IF(vdm_model_config_check(c) != VDM_OK, VDM_ERR_ARG);
    size_t n = vdm_model_param_count(c);
    vdm_model *m = (vdm_model *)calloc(1, sizeof *m);
    VDM_RETURN_IF(!m, VDM_ERR_NOMEM);
    m->cfg = *c;
    m->params = (float *)malloc(n * sizeof(float));
    if (!m->params) { vdm_model_free(m); return VDM_ERR_NOMEM; }
    memcpy(m->params, params, n * sizeof(float));
    vdm_status st = params_check(c, m->params);
    if (st != VDM_OK) { vdm_model_free(m); return st; }
    /* the id is the hash the exported weights file will carry */
    size_t pn = vdm_net_param_count(&c->net);
    vdm_wfile *w = (vdm_wfile *)calloc(1, sizeof *w);
    if (!w) { vdm_model_free(m); return VDM_ERR_NOMEM; }
    w->kind = VDM_WFILE_WEIGHTS;
    w->cfg = *c;
    w->train_steps = train_steps;
    w->ntensors = 2;
    strcpy(w->t[0].name, "net");
    w->t[0].dtype = VDM_DT_F32;
    w->t[0].count = pn;
    w->t[0].data = m->params;
    strcpy(w->t[1].name, "schedule");
    w->t[1].dtype = VDM_DT_F32;
    w->t[1].count = n - pn;
    w->t[1].data = m->params + pn;
    uint8_t *buf;
    size_t sz;
    st = vdm_wfile_write_mem(w, &buf, &sz);
    free(w);
    if (st != VDM_OK) { vdm_model_free(m); return st; }
    memcpy(m->id, buf + sz - 32, 32);
    free(buf);
    *out = m;
    return VDM_OK;
}

vdm_status vdm_model_view(const vdm_model *base, vdm_model **out)
{
    VDM_RETURN_IF(!base || !out, VDM_ERR_ARG);
    *out = NULL;
    vdm_model *m = (vdm_model *)calloc(1, sizeof *m);
    VDM_RETURN_IF(!m, VDM_ERR_NOMEM);
    m->cfg = base->cfg;
    m->params = base->params;
    m->borrowed = 1;
    memcpy(m->id, base->id, 32);
    m->steps_trained_T = base->steps_trained_T;
    if (base->gpu) {
        /* its own device buffers and stream: views run concurrently */
        vdm_status st = vdm_net_gpu_create(&m->cfg.net, m->params, 64 * 64, &m->gpu);
        if (st != VDM_OK) { vdm_model_free(m); return st; }
    }
    *out = m;
    return VDM_OK;
}

const vdm_model_config *vdm_model_cfg(const vdm_model *m) { return &m->cfg; }
const float *vdm_model_params(const vdm_model *m) { return m->params; }
void vdm_model_id(const vdm_model *m, uint8_t out[32]) { memcpy(out, m->id, 32); }
int vdm_model_default_steps(const vdm_model *m) { return m->cfg.default_T; }
int vdm_model_coupled(const vdm_model *m) { return m && m->cfg.net.var_out == 2; }

vdm_status vdm_model_consts(const vdm_model *m, int T, vdm_time_consts *out)
{
    VDM_RETURN_IF(!m || !out || T < 1 || T > VDM_MODEL_MAX_STEPS, VDM_ERR_ARG);
    const float *sp_params = m->params + vdm_net_param_count(&m->cfg.net);
    double sp_prev = 0.0, gam_prev = 0.0, sig_prev = 0.0;
    for (int i = 0; i <= T; i++) {
        double t = (double)i / (double)T, g;
        vdm_sched_eval(&m->cfg.sched, sp_params, 1, &t, &g, NULL);
        double sp = vdm_softplus_d(g), sm = vdm_softplus_d(-g);
        vdm_time_consts *c = &out[i];
        memset(c, 0, sizeof *c);
        c->gamma = g;
        c->alpha = vdm_exp(-0.5 * sp);
        c->sigma = vdm_exp(-0.5 * sm);
        c->noise_ratio = vdm_exp(0.5 * g);
        c->gscaled = vdm_gscaled(&m->cfg, g);
        if (i > 0) {
            c->q_alpha = vdm_exp(0.5 * (sp_prev - sp));
            c->q_sigma = vdm_sqrt_d(-vdm_expm1(sp_prev - sp));
            double cc = -vdm_expm1(gam_prev - g);
            c->p_sigma = sig_prev * vdm_sqrt_d(cc);
            c->p_a = (float)vdm_exp(0.5 * (sp - sp_prev));
            c->p_k = (float)(c->sigma * cc);
        }
        sp_prev = sp;
        gam_prev = g;
        sig_prev = c->sigma;
    }
    return VDM_OK;
}

/* The GPU context is made here, not lazily in p_mean, so that "no GPU" or a
 * failed upload is reported where the device is chosen.  It starts with room
 * for one default 64x64 tile and grows with the first larger call. */
vdm_status vdm_model_set_device(vdm_model *m, vdm_device dev)
{
    VDM_RETURN_IF(!m || (dev != VDM_DEVICE_CPU && dev != VDM_DEVICE_CUDA), VDM_ERR_ARG);
    if (dev == VDM_DEVICE_CPU) {
        vdm_net_gpu_free(m->gpu);
        m->gpu = NULL;
        return VDM_OK;
    }
    if (m->gpu) return VDM_OK;
    VDM_RETURN_IF(!vdm_cuda_compiled(), VDM_ERR_UNSUPPORTED);
    VDM_RETURN_IF(vdm_cuda_device_count(NULL, 0) < 1, VDM_ERR_CUDA);
    return vdm_net_gpu_create(&m->cfg.net, m->params, 64 * 64, &m->gpu);
}

vdm_device vdm_model_device(const vdm_model *m) { return m && m->gpu ? VDM_DEVICE_CUDA : VDM_DEVICE_CPU; }

vdm_status vdm_model_p_mean(vdm_model *m, int T, int i, const float *z_t, int N, int H, int W,
                            int nthreads, float *mean, float *sigma, float *coef)
{
    VDM_RETURN_IF(!m || !z_t || !mean || !sigma || (m->cfg.net.var_out == 2 && !coef), VDM_ERR_ARG);
    VDM_RETURN_IF(T < 1 || T > VDM_MODEL_MAX_STEPS || i < 1 || i > T, VDM_ERR_ARG);
    VDM_RETURN_IF(N < 1 || H < 1 || W < 1 || nthreads < 1, VDM_ERR_ARG);
    VDM_RETURN_IF((uint64_t)N * H * W > VDM_MODEL_MAX_TILE_PIXELS, VDM_ERR_LIMIT);
    if (m->cT != T) {
        vdm_time_consts *tab = (vdm_time_consts *)malloc(sizeof *tab * ((size_t)T + 1));
        VDM_RETURN_IF(!tab, VDM_ERR_NOMEM);
        vdm_status st = vdm_model_consts(m, T, tab);
        if (st != VDM_OK) { free(tab); return st; }
        free(m->ctab);
        m->ctab = tab;
        m->cT = T;
    }
    const int var = m->cfg.net.var_out != 0, Ko = vdm_net_out_channels(&m->cfg.net);
    /* The workspace serves any batch that fits it (vdm_net_forward takes
     * N <= N0, W <= W0, N*H*W <= N0*H0*W0), so edge tiles and sub-tiles reuse
     * the full tile's instead of reallocating it (and its threads). */
    if (!m->ws || N > m->wsN || W > m->wsW || (size_t)N * H * W > (size_t)m->wsN * m->wsH * m->wsW) {
        vdm_net_ws_free(m->ws);
        free(m->gs);
        free(m->out);
        m->ws = vdm_net_ws_create(&m->cfg.net, VDM_BACKEND_REF, N, H, W, 0);
        m->gs = (float *)malloc(sizeof(float) * (size_t)N);
        m->out = var ? (float *)malloc(sizeof(float) * (size_t)Ko * N * H * W) : NULL;
        if (!m->ws || !m->gs || (var && !m->out)) {
            vdm_net_ws_free(m->ws);
            free(m->gs);
            free(m->out);
            m->ws = NULL;
            m->gs = NULL;
            m->out = NULL;
            return VDM_ERR_NOMEM;
        }
        m->wsN = N;
        m->wsH = H;
        m->wsW = W;
    }
    const vdm_time_consts *c = &m->ctab[i];
    for (int n = 0; n < N; n++) m->gs[n] = c->gscaled;
    const size_t np = (size_t)N * H * W;
    float *eps = var ? m->out : mean;
    if (m->gpu) VDM_FORWARD(vdm_net_gpu_forward(m->gpu, z_t, m->gs, N, H, W, eps));
    else VDM_FORWARD(vdm_net_forward(&m->cfg.net, m->params, m->ws, nthreads, z_t, m->gs, N, H, W, eps));
    /* out = [eps_hat 0..2 (| v 0..2 (| coupling 0..2))] per pixel; without
     * learned variances it is mean itself (Ko = 3), overwritten in place:
     * each element is read before it is written. */
    const float a = c->p_a, k = c->p_k, s = (float)c->p_sigma;
    const double ak = (double)a * (double)k, ak2 = ak * ak, ps2 = c->p_sigma * c->p_sigma;
    for (size_t p = 0; p < np; p++) {
        const float *o = eps + (size_t)Ko * p;
        if (Ko == 9)
            for (int ch = 0; ch < 3; ch++) coef[3 * p + (size_t)ch] = vdm_couple_clamp(o[6 + ch]);
        for (int ch = 0; ch < 3; ch++) {
            const size_t j = 3 * p + (size_t)ch;
            float kt = k * o[ch];
            float d = z_t[j] - kt;
            sigma[j] = var ? (float)vdm_sqrt_d(ps2 + ak2 * vdm_exp(vdm_var_clamp((double)o[3 + ch]))) : s;
            mean[j] = a * d;
        }
    }
    return VDM_OK;
}
