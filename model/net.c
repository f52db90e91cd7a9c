/* net.c — the epsilon-network of net.h: configuration, parameter layout,
 * deterministic initialisation, workspace, forward and backward.
 *
 * One code path serves both backends: the layers are called in the same
 * order, and only the convolution changes (REF: fixed-order kernels split
 * over image rows; CPU: im2col + sgemm).  Activations, Fourier features and
 * the gamma embedding use the shared kernels in every backend, so they are
 * bit-identical between REF and CPU.
 *
 * Activation storage (P = N*H*W pixels of the current batch, C = width):
 *   training:   feat [P][F], h_b [P][C] b=0..B, a_b = act(h_b) b=0..B,
 *               u_b = conv1_b(a_b)+bias [P][C], v_b = act(u_b) b=0..B-1
 *   inference:  feat, one h (updated in place by the residual add), one a,
 *               one v (conv1 output, activated in place). */
#include <stdlib.h>
#include <string.h>
#include "common/detmath.h"
#include "kernels/cuda_api.h"
#include "model/net.h"

#if defined(__SSE2__)
#include <emmintrin.h>
/* IEEE sqrt is correctly rounded everywhere; the library layers do not link
 * libm, so use the instruction directly. */
static inline float net_sqrtf(float x) { return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x))); }
#else
static inline float net_sqrtf(float x) { return __builtin_sqrtf(x); }
#endif

/* ---------------------------------------------------------------- config */

vdm_status vdm_net_config_check(const vdm_net_config *c)
{
    VDM_RETURN_IF(!c, VDM_ERR_ARG);
    VDM_RETURN_IF(c->channels < 1 || c->channels > VDM_NET_MAX_CHANNELS, VDM_ERR_ARG);
    VDM_RETURN_IF(c->width < 1 || c->width > VDM_NET_MAX_WIDTH, VDM_ERR_ARG);
    VDM_RETURN_IF(c->blocks < 1 || c->blocks > VDM_NET_MAX_BLOCKS, VDM_ERR_ARG);
    VDM_RETURN_IF(c->n_fourier < 0 || c->n_fourier > VDM_NET_MAX_FOURIER, VDM_ERR_ARG);
    for (int k = 0; k < c->n_fourier; k++)
        VDM_RETURN_IF(c->fourier_exp[k] < VDM_NET_MIN_FOURIER_EXP ||
                          c->fourier_exp[k] > VDM_NET_MAX_FOURIER_EXP, VDM_ERR_ARG);
    VDM_RETURN_IF(c->emb_dim < 2 || c->emb_dim > VDM_NET_MAX_EMB || (c->emb_dim & 1), VDM_ERR_ARG);
    VDM_RETURN_IF(c->act != VDM_ACT_SILU && c->act != VDM_ACT_RELU, VDM_ERR_ARG);
    VDM_RETURN_IF(c->var_out < 0 || c->var_out > 2 || (c->var_out == 2 && c->channels != 3), VDM_ERR_ARG);
    return VDM_OK;
}

int vdm_net_in_features(const vdm_net_config *c) { return c->channels * (1 + 2 * c->n_fourier); }

static int kact(const vdm_net_config *c) { return c->act == VDM_ACT_RELU ? VDM_KACT_RELU : VDM_KACT_SILU; }

/* ---------------------------------------------------------- tensor table */

int vdm_net_tensor_count(const vdm_net_config *c) { return 8 + 4 * c->blocks; }

static void set_name(char *dst, const char *prefix, int b, const char *suffix)
{
    /* "blk<b>.<suffix>" without snprintf's locale and format machinery. */
    size_t k = 0;
    for (const char *p = prefix; *p; p++) dst[k++] = *p;
    if (b >= 0) {
        char d[4];
        int nd = 0;
        do { d[nd++] = (char)('0' + b % 10); b /= 10; } while (b && nd < 4);
        while (nd) dst[k++] = d[--nd];
    }
    for (const char *p = suffix; *p; p++) dst[k++] = *p;
    dst[k] = 0;
}

/* Tensor i without its offset.  Index scheme: 0..3 embedding, 4..5 input
 * conv, 6+4b+{0,1,2,3} block b, 6+4B and 7+4B the output conv. */
static void tensor_shape(const vdm_net_config *c, int i, vdm_net_tensor *t)
{
    const int E = c->emb_dim, C = c->width, B = c->blocks, F = vdm_net_in_features(c), K = vdm_net_out_channels(c);
    memset(t, 0, sizeof *t);
    int s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    if (i < 6) {
        static const char *nm[6] = {"emb.w1", "emb.b1", "emb.w2", "emb.b2", "in.w", "in.b"};
        set_name(t->name, nm[i], -1, "");
        switch (i) {
        case 0: t->ndim = 2; s0 = E; s1 = E; break;
        case 1: t->ndim = 1; s0 = E; break;
        case 2: t->ndim = 2; s0 = E; s1 = B * C; break;
        case 3: t->ndim = 1; s0 = B * C; break;
        case 4: t->ndim = 4; s0 = 3; s1 = 3; s2 = F; s3 = C; break;
        default: t->ndim = 1; s0 = C; break;
        }
    } else if (i < 6 + 4 * B) {
        const int b = (i - 6) / 4, j = (i - 6) % 4;
        static const char *sf[4] = {".w1", ".b1", ".w2", ".b2"};
        set_name(t->name, "blk", b, sf[j]);
        if (j == 0 || j == 2) { t->ndim = 4; s0 = 3; s1 = 3; s2 = C; s3 = C; }
        else { t->ndim = 1; s0 = C; }
    } else if (i == 6 + 4 * B) {
        set_name(t->name, "out.w", -1, "");
        t->ndim = 4; s0 = 3; s1 = 3; s2 = C; s3 = K;
    } else {
        set_name(t->name, "out.b", -1, "");
        t->ndim = 1; s0 = K;
    }
    t->shape[0] = s0; t->shape[1] = s1; t->shape[2] = s2; t->shape[3] = s3;
    t->count = 1;
    for (int d = 0; d < t->ndim; d++) t->count *= (size_t)t->shape[d];
    t->is_bias = t->ndim == 1;
}

vdm_status vdm_net_tensor_info(const vdm_net_config *c, int i, vdm_net_tensor *t)
{
    VDM_RETURN_IF(!c || !t || vdm_net_config_check(c) != VDM_OK, VDM_ERR_ARG);
    VDM_RETURN_IF(i < 0 || i >= vdm_net_tensor_count(c), VDM_ERR_ARG);
    size_t off = 0;
    for (int j = 0; j < i; j++) {
        tensor_shape(c, j, t);
        off += t->count;
    }
    tensor_shape(c, i, t);
    t->offset = off;
    return VDM_OK;
}

size_t vdm_net_param_count(const vdm_net_config *c)
{
    if (!c || vdm_net_config_check(c) != VDM_OK) return 0;
    size_t n = 0;
    vdm_net_tensor t;
    for (int i = 0; i < vdm_net_tensor_count(c); i++) {
        tensor_shape(c, i, &t);
        n += t.count;
    }
    return n;
}

void vdm_net_layout(const vdm_net_config *c, float *params, vdm_net_params *v)
{
    memset(v, 0, sizeof *v);
    const int B = c->blocks;
    float *p = params;
    vdm_net_tensor t;
    for (int i = 0; i < vdm_net_tensor_count(c); i++) {
        tensor_shape(c, i, &t);
        float **dst;
        if (i < 6) {
            float **head[6] = {&v->emb_w1, &v->emb_b1, &v->emb_w2, &v->emb_b2, &v->in_w, &v->in_b};
            dst = head[i];
        } else if (i < 6 + 4 * B) {
            const int b = (i - 6) / 4, j = (i - 6) % 4;
            dst = j == 0 ? &v->blk_w1[b] : j == 1 ? &v->blk_b1[b] : j == 2 ? &v->blk_w2[b] : &v->blk_b2[b];
        } else {
            dst = i == 6 + 4 * B ? &v->out_w : &v->out_b;
        }
        *dst = p;
        p += t.count;
    }
}

double vdm_net_flops_per_pixel(const vdm_net_config *c)
{
    const double C = c->width, F = vdm_net_in_features(c), K = vdm_net_out_channels(c);
    return 2.0 * 9.0 * (F * C + 2.0 * c->blocks * C * C + C * K);
}

/* ------------------------------------------------------------------ init */

typedef struct { uint64_t s; } net_rng;

static uint64_t splitmix64(net_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Box-Muller pairs on detmath; u1 in (0, 1] so the log is finite. */
static void fill_normal(net_rng *r, float *out, size_t n, float stddev)
{
    const float two_pi = 6.28318530717958647692f;
    for (size_t i = 0; i < n; i += 2) {
        const float u1 = (float)((splitmix64(r) >> 40) + 1) * 0x1.0p-24f;
        const float u2 = (float)(splitmix64(r) >> 40) * 0x1.0p-24f;
        const float rad = net_sqrtf(-2.0f * vdm_logf(u1));
        const float th = two_pi * u2;
        out[i] = stddev * (rad * vdm_cosf(th));
        if (i + 1 < n) out[i + 1] = stddev * (rad * vdm_sinf(th));
    }
}

void vdm_net_init(const vdm_net_config *c, float *params, uint64_t seed)
{
    if (!c || !params || vdm_net_config_check(c) != VDM_OK) return;
    net_rng r = {seed};
    const int B = c->blocks;
    float *p = params;
    vdm_net_tensor t;
    for (int i = 0; i < vdm_net_tensor_count(c); i++) {
        tensor_shape(c, i, &t);
        const int blk = i >= 6 && i < 6 + 4 * B ? (i - 6) % 4 : -1;
        const int zero = t.is_bias || blk == 2 || i == 6 + 4 * B;
        if (zero) {
            memset(p, 0, sizeof(float) * t.count);
        } else {
            /* fan_in: all dims but the last; gain 2 where an activation follows */
            const size_t fan_in = t.count / (size_t)t.shape[t.ndim - 1];
            const float gain = (i == 0 || blk == 0) ? 2.0f : 1.0f;
            fill_normal(&r, p, t.count, net_sqrtf(gain / (float)fan_in));
        }
        /* out.b: the v channels start at VDM_NET_VAR_BIAS0 */
        if (i == 7 + 4 * B && c->var_out)
            for (int k = c->channels; k < 2 * c->channels; k++) p[k] = VDM_NET_VAR_BIAS0;
        p += t.count;
    }
}

/* -------------------------------------------------------------- workspace */

struct vdm_net_ws {
    vdm_net_config c;
    vdm_backend be;
    int capN, capW;
    size_t cap_pix;
    int train;
    int N, H, W, fwd_done;   /* the last forward (for the backward) */
    float *feat;             /* [P][F] */
    float *h, *a, *u, *v;    /* see the file comment */
    float *gb;               /* [B][N][C] conv1 bias + embedding */
    float *e0, *pre1, *e1;   /* [N][E] */
    float *emb;              /* [N][B*C] */
    float *z, *g;            /* training: copies of the inputs */
    float *dh, *dt1, *dt2;   /* training: [P][C] */
    float *dfeat;            /* training: [P][F] */
    float *demb, *de1, *de0, *csum;
    float *scratch;          /* CPU backend: im2col, per-thread gradients */
    vdm_cuda_train *cu;      /* CUDA backend: activations live on the device */
    float *bsum;             /* CUDA training: [B][N][C] dL/d(conv1 bias + emb) */
    int scratch_threads;     /* threads the scratch is sized for */
    vdm_pool *pool;          /* workers kept between calls (nthreads > 1) */
};

void vdm_net_ws_free(vdm_net_ws *ws)
{
    if (!ws) return;
    float *bufs[] = {ws->feat, ws->h, ws->a, ws->u, ws->v, ws->gb, ws->e0, ws->pre1, ws->e1,
                     ws->emb, ws->z, ws->g, ws->dh, ws->dt1, ws->dt2, ws->dfeat, ws->demb,
                     ws->de1, ws->de0, ws->csum, ws->scratch, ws->bsum};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    vdm_cuda_train_free(ws->cu);
    vdm_pool_free(ws->pool);
    free(ws);
}

/* n floats, or NULL (n == 0 yields a valid 1-float buffer so that NULL
 * always means failure). */
static float *falloc(size_t n, int *fail)
{
    float *p = (float *)malloc(sizeof(float) * (n ? n : 1));
    if (!p) *fail = 1;
    return p;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }
static vdm_status ensure_scratch(vdm_net_ws *ws, int nthreads);

vdm_status vdm_net_cuda_desc(const vdm_net_config *c, vdm_cuda_net_desc *d, vdm_net_cuda_offsets *o)
{
    VDM_RETURN_IF(!c || !d || !o || vdm_net_config_check(c) != VDM_OK, VDM_ERR_ARG);
    memset(d, 0, sizeof *d);
    d->channels = c->channels;
    d->out_channels = vdm_net_out_channels(c);
    d->width = c->width;
    d->blocks = c->blocks;
    d->n_fourier = c->n_fourier;
    for (int k = 0; k < c->n_fourier; k++) d->fourier_exp[k] = c->fourier_exp[k];
    d->act = kact(c);
    d->nparams = vdm_net_param_count(c);
    /* tensor indices: net.h's order (4, 5 input conv; 6+4b+j block b; 6+4B, 7+4B output) */
    vdm_net_tensor t;
    vdm_net_tensor_info(c, 4, &t); d->in_w = t.offset;
    vdm_net_tensor_info(c, 5, &t); d->in_b = t.offset;
    for (int b = 0; b < c->blocks; b++) {
        vdm_net_tensor_info(c, 6 + 4 * b, &t); o->w1[b] = t.offset;
        vdm_net_tensor_info(c, 8 + 4 * b, &t); o->w2[b] = t.offset;
        vdm_net_tensor_info(c, 9 + 4 * b, &t); o->b2[b] = t.offset;
    }
    vdm_net_tensor_info(c, 6 + 4 * c->blocks, &t); d->out_w = t.offset;
    vdm_net_tensor_info(c, 7 + 4 * c->blocks, &t); d->out_b = t.offset;
    d->blk_w1 = o->w1;
    d->blk_w2 = o->w2;
    d->blk_b2 = o->b2;
    return VDM_OK;
}

/* The CUDA backend: host buffers only for the per-image embedding (the
 * pixels' activations stay on the device, kernels/cuda_api.h); the device
 * context reads the convolution tensors from the parameter block by offset. */
static vdm_status cuda_ws_init(vdm_net_ws *ws)
{
    const vdm_net_config *c = &ws->c;
    const size_t N = (size_t)ws->capN, C = (size_t)c->width, B = (size_t)c->blocks, E = (size_t)c->emb_dim;
    int fail = 0;
    ws->gb = falloc(B * N * C, &fail);
    ws->e0 = falloc(N * E, &fail);
    ws->pre1 = falloc(N * E, &fail);
    ws->e1 = falloc(N * E, &fail);
    ws->emb = falloc(N * B * C, &fail);
    ws->demb = falloc(N * B * C, &fail);
    ws->de1 = falloc(N * E, &fail);
    ws->de0 = falloc(N * E, &fail);
    ws->bsum = falloc(B * N * C, &fail);
    VDM_RETURN_IF(fail, VDM_ERR_NOMEM);
    vdm_cuda_net_desc d;
    vdm_net_cuda_offsets o;
    VDM_FORWARD(vdm_net_cuda_desc(c, &d, &o));
    return vdm_cuda_train_create(&d, ws->capN, (int)(ws->cap_pix / ((size_t)ws->capN * (size_t)ws->capW)),
                                 ws->capW, &ws->cu);
}

vdm_status vdm_net_ws_set_tf32(vdm_net_ws *ws, int on)
{
    VDM_RETURN_IF(!ws, VDM_ERR_ARG);
    VDM_RETURN_IF(ws->be != VDM_BACKEND_CUDA, VDM_ERR_UNSUPPORTED);
    return vdm_cuda_train_set_tf32(ws->cu, on);
}

vdm_net_ws *vdm_net_ws_create(const vdm_net_config *c, vdm_backend b, int N, int H, int W, int for_training)
{
    if (!c || vdm_net_config_check(c) != VDM_OK) return NULL;
    if (b != VDM_BACKEND_REF && b != VDM_BACKEND_CPU && b != VDM_BACKEND_CUDA) return NULL;
    if (N < 1 || H < 1 || W < 1) return NULL;
    /* Rows index as int (r = n*H + y) and pixels as size_t. */
    if ((long long)N * H > (1LL << 30) || (long long)N * H * W > (1LL << 34)) return NULL;
    vdm_net_ws *ws = (vdm_net_ws *)calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->c = *c;
    ws->be = b;
    ws->capN = N;
    ws->capW = W;
    ws->cap_pix = (size_t)N * (size_t)H * (size_t)W;
    ws->train = for_training != 0;
    const size_t P = ws->cap_pix, C = (size_t)c->width, B = (size_t)c->blocks, E = (size_t)c->emb_dim;
    const size_t F = (size_t)vdm_net_in_features(c), K = (size_t)c->channels;
    int fail = 0;
    if (b == VDM_BACKEND_CUDA) {
        if (cuda_ws_init(ws) != VDM_OK) {
            vdm_net_ws_free(ws);
            return NULL;
        }
        return ws;
    }
    ws->feat = falloc(P * F, &fail);
    ws->gb = falloc(B * (size_t)N * C, &fail);
    ws->e0 = falloc((size_t)N * E, &fail);
    ws->pre1 = falloc((size_t)N * E, &fail);
    ws->e1 = falloc((size_t)N * E, &fail);
    ws->emb = falloc((size_t)N * B * C, &fail);
    if (ws->train) {
        ws->h = falloc((B + 1) * P * C, &fail);
        ws->a = falloc((B + 1) * P * C, &fail);
        ws->u = falloc(B * P * C, &fail);
        ws->v = falloc(B * P * C, &fail);
        ws->z = falloc(P * K, &fail);
        ws->g = falloc((size_t)N, &fail);
        ws->dh = falloc(P * C, &fail);
        ws->dt1 = falloc(P * C, &fail);
        ws->dt2 = falloc(P * C, &fail);
        ws->dfeat = falloc(P * F, &fail);
        ws->demb = falloc((size_t)N * B * C, &fail);
        ws->de1 = falloc((size_t)N * E, &fail);
        ws->de0 = falloc((size_t)N * E, &fail);
        ws->csum = falloc((size_t)N * C, &fail);
    } else {
        ws->h = falloc(P * C, &fail);
        ws->a = falloc(P * C, &fail);
        ws->v = falloc(P * C, &fail);
    }
    if (fail || (b == VDM_BACKEND_CPU && ensure_scratch(ws, 2) != VDM_OK)) {
        vdm_net_ws_free(ws);
        return NULL;
    }
    return ws;
}

/* The CPU backend's scratch grows to the largest thread count asked for. */
static vdm_status ensure_scratch(vdm_net_ws *ws, int nthreads)
{
    if (ws->be != VDM_BACKEND_CPU || (ws->scratch && nthreads <= ws->scratch_threads)) return VDM_OK;
    const int C = ws->c.width, F = vdm_net_in_features(&ws->c), K = vdm_net_out_channels(&ws->c), W = ws->capW;
    size_t s = vdm_conv3x3_cpu_scratch_floats(W, F, C, nthreads);
    s = max_sz(s, vdm_conv3x3_cpu_scratch_floats(W, C, C, nthreads));
    s = max_sz(s, vdm_conv3x3_cpu_scratch_floats(W, C, K, nthreads));
    float *p = (float *)malloc(sizeof(float) * s);
    VDM_RETURN_IF(!p, VDM_ERR_NOMEM);
    free(ws->scratch);
    ws->scratch = p;
    ws->scratch_threads = nthreads;
    return VDM_OK;
}

/* Keep a pool of nthreads workers in the workspace and bind it for this
 * call (returns the previous binding).  Without a pool (creation failed)
 * vdm_parallel_for starts threads per call: slower, same results. */
static vdm_pool *bind_pool(vdm_net_ws *ws, int nthreads)
{
    if (nthreads > 1 && vdm_pool_threads(ws->pool) != nthreads) {
        vdm_pool_free(ws->pool);
        ws->pool = vdm_pool_create(nthreads);
    }
    return vdm_pool_bind(nthreads > 1 ? ws->pool : NULL);
}

static int same_config(const vdm_net_config *a, const vdm_net_config *b)
{
    if (a->channels != b->channels || a->width != b->width || a->blocks != b->blocks ||
        a->n_fourier != b->n_fourier || a->emb_dim != b->emb_dim || a->act != b->act ||
        a->var_out != b->var_out)
        return 0;
    for (int k = 0; k < a->n_fourier; k++)
        if (a->fourier_exp[k] != b->fourier_exp[k]) return 0;
    return 1;
}

/* ------------------------------------------------------- layer helpers */

static void conv_bwd(const vdm_net_ws *ws, int nthreads, float *din, float *dw, float *db,
                     const float *dout, const float *in, const float *w, int Cin, int Cout)
{
    if (ws->be == VDM_BACKEND_REF)
        vdm_conv3x3_backward_ref(din, dw, db, dout, in, w, ws->N, ws->H, ws->W, Cin, Cout);
    else
        vdm_conv3x3_backward_cpu(din, dw, db, dout, in, w, ws->N, ws->H, ws->W, Cin, Cout,
                                 ws->scratch, nthreads);
}

/* Elementwise work over n floats split into fixed chunks (each element is
 * computed the same way whoever computes it). */
enum { EW_ACT, EW_ACT_BWD, EW_ADD, EW_COPY };
#define EW_CHUNK 8192

typedef struct {
    int op, act;
    float *out;
    const float *x, *y;
    size_t n;
} ew_job;

static void ew_range(void *ctx, int i0, int i1)
{
    const ew_job *j = (const ew_job *)ctx;
    const size_t lo = (size_t)i0 * EW_CHUNK, hi0 = (size_t)i1 * EW_CHUNK;
    const size_t hi = hi0 < j->n ? hi0 : j->n, m = hi - lo;
    switch (j->op) {
    case EW_ACT: vdm_act_forward(j->out + lo, j->x + lo, m, j->act); break;
    case EW_ACT_BWD: vdm_act_backward(j->out + lo, j->x + lo, j->y + lo, m, j->act); break;
    case EW_ADD:
        for (size_t i = lo; i < hi; i++) j->out[i] = j->out[i] + j->x[i];
        break;
    default: memcpy(j->out + lo, j->x + lo, sizeof(float) * m); break;
    }
}

static void ew(int nthreads, int op, int act, float *out, const float *x, const float *y, size_t n)
{
    ew_job j = {op, act, out, x, y, n};
    (void)vdm_parallel_for(nthreads, (int)((n + EW_CHUNK - 1) / EW_CHUNK), ew_range, &j);
}

/* out = conv(in) (+ out when acc; out first set to copy_from when given),
 * then, if act_out, act_out = act(out); all per row range, so the activation
 * reads rows its own thread just wrote (cache-hot, no extra pass).  The REF
 * result does not depend on how rows are split. */
typedef struct {
    const vdm_net_ws *ws;
    float *out, *act_out;
    const float *in, *w, *bias, *copy_from;
    size_t nstride;
    int Cin, Cout, acc, act;
} convact_job;

static void convact_rows(void *ctx, int r0, int r1)
{
    const convact_job *j = (const convact_job *)ctx;
    const vdm_net_ws *ws = j->ws;
    const size_t off = (size_t)r0 * (size_t)ws->W * (size_t)j->Cout;
    const size_t len = (size_t)(r1 - r0) * (size_t)ws->W * (size_t)j->Cout;
    if (j->copy_from) memcpy(j->out + off, j->copy_from + off, sizeof(float) * len);
    vdm_conv3x3_ref(j->out, j->in, j->w, j->bias, j->nstride, ws->N, ws->H, ws->W, j->Cin, j->Cout, j->acc,
                    r0, r1);
    if (j->act_out) vdm_act_forward(j->act_out + off, j->out + off, len, j->act);
}

static void conv_fwd(const vdm_net_ws *ws, int nthreads, float *out, const float *in, const float *w,
                     const float *bias, size_t nstride, int Cin, int Cout, int acc, const float *copy_from,
                     float *act_out, int act)
{
    if (ws->be == VDM_BACKEND_REF) {
        convact_job j = {ws, out, act_out, in, w, bias, copy_from, nstride, Cin, Cout, acc, act};
        (void)vdm_parallel_for(nthreads, ws->N * ws->H, convact_rows, &j);
        return;
    }
    const size_t n = (size_t)ws->N * (size_t)ws->H * (size_t)ws->W * (size_t)Cout;
    if (copy_from) ew(nthreads, EW_COPY, 0, out, copy_from, NULL, n);
    vdm_conv3x3_cpu(out, in, w, bias, nstride, ws->N, ws->H, ws->W, Cin, Cout, acc, ws->scratch, nthreads);
    if (act_out) ew(nthreads, EW_ACT, act, act_out, out, NULL, n);
}

typedef struct {
    float *out;
    const float *z, *dfeat;
    int K, nf, W;
    const int32_t *exps;
    int backward;
} four_job;

static void four_range(void *ctx, int r0, int r1)
{
    const four_job *j = (const four_job *)ctx;
    const size_t p0 = (size_t)r0 * (size_t)j->W, np = (size_t)(r1 - r0) * (size_t)j->W;
    const size_t F = (size_t)j->K * (size_t)(1 + 2 * j->nf);
    if (j->backward)
        vdm_fourier_backward(j->out + p0 * (size_t)j->K, j->z + p0 * (size_t)j->K, j->dfeat + p0 * F,
                             np, j->K, j->exps, j->nf);
    else
        vdm_fourier_forward(j->out + p0 * F, j->z + p0 * (size_t)j->K, np, j->K, j->exps, j->nf);
}

/* Embedding frequencies f_k = 1000 exp(-ln(10000) k / (half-1)). */
static float emb_freq(int k, int half)
{
    if (half <= 1) return 1000.0f;
    const float x = -(9.21034037198f * (float)k) / (float)(half - 1);
    return 1000.0f * vdm_expf(x);
}

/* e0, pre1, e1 [N][E], emb [N][B*C] (kept for the backward) and the block
 * biases gb [B][N][C]: the order of net.h's gamma embedding. */
static void embed_compute(const vdm_net_config *c, const vdm_net_params *L, const float *gs, int N,
                          float *e0, float *pre1, float *e1, float *emb, float *gb)
{
    const int E = c->emb_dim, half = E / 2, C = c->width, B = c->blocks;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < half; k++) {
            const float a = emb_freq(k, half) * gs[n];
            e0[(size_t)n * (size_t)E + (size_t)k] = vdm_sinf(a);
            e0[(size_t)n * (size_t)E + (size_t)(half + k)] = vdm_cosf(a);
        }
    vdm_dense_ref(pre1, e0, L->emb_w1, L->emb_b1, N, E, E);
    vdm_act_forward(e1, pre1, (size_t)N * (size_t)E, kact(c));
    vdm_dense_ref(emb, e1, L->emb_w2, L->emb_b2, N, E, B * C);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++)
            for (int ch = 0; ch < C; ch++)
                gb[((size_t)b * (size_t)N + (size_t)n) * (size_t)C + (size_t)ch] =
                    L->blk_b1[b][ch] + emb[(size_t)n * (size_t)(B * C) + (size_t)(b * C + ch)];
}

static void embed_forward(const vdm_net_config *c, const vdm_net_params *L, const float *gs, int N,
                          vdm_net_ws *ws)
{
    embed_compute(c, L, gs, N, ws->e0, ws->pre1, ws->e1, ws->emb, ws->gb);
}

vdm_status vdm_net_block_bias(const vdm_net_config *c, const float *params, const float *gscaled, int N,
                              float *gb)
{
    VDM_RETURN_IF(!c || !params || !gscaled || !gb || N < 1 || vdm_net_config_check(c) != VDM_OK, VDM_ERR_ARG);
    const size_t NE = (size_t)N * (size_t)c->emb_dim, NBC = (size_t)N * (size_t)c->blocks * (size_t)c->width;
    float *tmp = (float *)malloc(sizeof(float) * (3 * NE + NBC));
    VDM_RETURN_IF(!tmp, VDM_ERR_NOMEM);
    vdm_net_params L;
    vdm_net_layout(c, (float *)params, &L);
    embed_compute(c, &L, gscaled, N, tmp, tmp + NE, tmp + 2 * NE, tmp + 3 * NE, gb);
    free(tmp);
    return VDM_OK;
}

/* Per-layer buffers for the current batch size P. */
static float *H_(const vdm_net_ws *ws, int b, size_t PC) { return ws->train ? ws->h + (size_t)b * PC : ws->h; }
static float *A_(const vdm_net_ws *ws, int b, size_t PC) { return ws->train ? ws->a + (size_t)b * PC : ws->a; }
static float *U_(const vdm_net_ws *ws, int b, size_t PC) { return ws->train ? ws->u + (size_t)b * PC : ws->v; }
static float *V_(const vdm_net_ws *ws, int b, size_t PC) { return ws->train ? ws->v + (size_t)b * PC : ws->v; }

/* --------------------------------------------------------------- forward */

vdm_status vdm_net_forward(const vdm_net_config *c, const float *params, vdm_net_ws *ws,
                           int nthreads, const float *z, const float *gscaled,
                           int N, int H, int W, float *eps_out)
{
    VDM_RETURN_IF(!c || !params || !ws || !z || !gscaled || !eps_out, VDM_ERR_ARG);
    VDM_RETURN_IF(!same_config(c, &ws->c), VDM_ERR_ARG);
    VDM_RETURN_IF(N < 1 || H < 1 || W < 1 || N > ws->capN || W > ws->capW, VDM_ERR_ARG);
    VDM_RETURN_IF((size_t)N * (size_t)H * (size_t)W > ws->cap_pix, VDM_ERR_ARG);
    if (nthreads < 1) nthreads = 1;
    VDM_FORWARD(ensure_scratch(ws, nthreads));
    vdm_pool *prev = bind_pool(ws, nthreads);
    ws->N = N;
    ws->H = H;
    ws->W = W;
    ws->fwd_done = 0;
    vdm_net_params L;
    vdm_net_layout(c, (float *)params, &L);
    const int C = c->width, B = c->blocks, K = c->channels, F = vdm_net_in_features(c), act = kact(c);
    const size_t P = (size_t)N * (size_t)H * (size_t)W, PC = P * (size_t)C;

    embed_forward(c, &L, gscaled, N, ws);
    if (ws->be == VDM_BACKEND_CUDA) {
        vdm_pool_bind(prev);
        VDM_FORWARD(vdm_cuda_train_forward(ws->cu, params, z, ws->gb, N, H, W, eps_out));
        ws->fwd_done = ws->train;
        return VDM_OK;
    }
    four_job fj = {ws->feat, z, NULL, K, c->n_fourier, W, c->fourier_exp, 0};
    (void)vdm_parallel_for(nthreads, N * H, four_range, &fj);
    /* h_0 = conv_in(feat), a_0 = act(h_0) */
    conv_fwd(ws, nthreads, H_(ws, 0, PC), ws->feat, L.in_w, L.in_b, 0, F, C, 0, NULL, A_(ws, 0, PC), act);
    for (int b = 0; b < B; b++) {
        float *hb = H_(ws, b, PC), *hn = H_(ws, b + 1, PC);
        /* u_b = conv1(a_b) + b1 + emb_b, v_b = act(u_b) (in place when inferring) */
        conv_fwd(ws, nthreads, U_(ws, b, PC), A_(ws, b, PC), L.blk_w1[b],
                 ws->gb + (size_t)b * (size_t)N * (size_t)C, (size_t)C, C, C, 0, NULL, V_(ws, b, PC), act);
        /* h_{b+1} = h_b + conv2(v_b), a_{b+1} = act(h_{b+1}).  Inferring, h and a
         * are single buffers: a_b is dead once conv1 has run. */
        conv_fwd(ws, nthreads, hn, V_(ws, b, PC), L.blk_w2[b], L.blk_b2[b], 0, C, C, 1, hn != hb ? hb : NULL,
                 A_(ws, b + 1, PC), act);
    }
    conv_fwd(ws, nthreads, eps_out, A_(ws, B, PC), L.out_w, L.out_b, 0, C, vdm_net_out_channels(c), 0, NULL,
             NULL, act);
    if (ws->train) {
        memcpy(ws->z, z, sizeof(float) * P * (size_t)K);
        memcpy(ws->g, gscaled, sizeof(float) * (size_t)N);
        ws->fwd_done = 1;
    }
    vdm_pool_bind(prev);
    return VDM_OK;
}

/* The gamma embedding's backward from ws->demb [N][B*C] (every backend):
 * emb = act(e0 W1 + b1) W2 + b2, e0 = sin/cos(f_k g). */
static void embed_backward(const vdm_net_config *c, const vdm_net_params *L, const vdm_net_params *D,
                           vdm_net_ws *ws, float *dgscaled)
{
    const int N = ws->N, C = c->width, B = c->blocks, E = c->emb_dim, act = kact(c);
    vdm_dense_backward_ref(ws->de1, D->emb_w2, D->emb_b2, ws->demb, ws->e1, L->emb_w2, N, E, B * C);
    vdm_act_backward(ws->de1, ws->pre1, ws->de1, (size_t)N * (size_t)E, act);
    vdm_dense_backward_ref(dgscaled ? ws->de0 : NULL, D->emb_w1, D->emb_b1, ws->de1, ws->e0, L->emb_w1, N, E, E);
    if (dgscaled) {
        const int half = E / 2;
        for (int n = 0; n < N; n++) {
            /* d sin(f g)/dg = f cos(f g) = f e0[half+k];  d cos(f g)/dg = -f sin(f g) = -f e0[k] */
            const float *e0 = ws->e0 + (size_t)n * (size_t)E, *de0 = ws->de0 + (size_t)n * (size_t)E;
            float s = 0.0f;
            for (int k = 0; k < half; k++)
                s += emb_freq(k, half) * (de0[k] * e0[half + k] - de0[half + k] * e0[k]);
            dgscaled[n] = s;
        }
    }
}

/* The CUDA backend's backward: the pixels on the device, then the per-image
 * bias gradients (conv1.b and the embedding) on the host. */
static vdm_status cuda_backward(const vdm_net_config *c, const float *params, vdm_net_ws *ws,
                                const float *deps, float *dparams, float *dz, float *dgscaled)
{
    vdm_net_params L, D;
    vdm_net_layout(c, (float *)params, &L);
    vdm_net_layout(c, dparams, &D);
    VDM_FORWARD(vdm_cuda_train_backward(ws->cu, deps, dparams, ws->bsum, dz));
    const size_t N = (size_t)ws->N, C = (size_t)c->width, B = (size_t)c->blocks;
    for (size_t b = 0; b < B; b++)
        for (size_t n = 0; n < N; n++) {
            const float *s = ws->bsum + (b * N + n) * C;
            memcpy(ws->demb + n * B * C + b * C, s, sizeof(float) * C);
            for (size_t ch = 0; ch < C; ch++) D.blk_b1[b][ch] += s[ch];
        }
    embed_backward(c, &L, &D, ws, dgscaled);
    return VDM_OK;
}

/* -------------------------------------------------------------- backward */

vdm_status vdm_net_backward(const vdm_net_config *c, const float *params, vdm_net_ws *ws,
                            int nthreads, const float *deps, float *dparams,
                            float *dz, float *dgscaled)
{
    VDM_RETURN_IF(!c || !params || !ws || !deps || !dparams, VDM_ERR_ARG);
    VDM_RETURN_IF(!same_config(c, &ws->c) || !ws->train || !ws->fwd_done, VDM_ERR_ARG);
    if (ws->be == VDM_BACKEND_CUDA) return cuda_backward(c, params, ws, deps, dparams, dz, dgscaled);
    if (nthreads < 1) nthreads = 1;
    VDM_FORWARD(ensure_scratch(ws, nthreads));
    vdm_pool *prev = bind_pool(ws, nthreads);
    vdm_net_params L, D;
    vdm_net_layout(c, (float *)params, &L);
    vdm_net_layout(c, dparams, &D);
    const int N = ws->N, C = c->width, B = c->blocks, K = c->channels;
    const int F = vdm_net_in_features(c), act = kact(c);
    const size_t P = (size_t)N * (size_t)ws->H * (size_t)ws->W, PC = P * (size_t)C;

    /* eps = conv_out(a_B), a_B = act(h_B) */
    conv_bwd(ws, nthreads, ws->dt1, D.out_w, D.out_b, deps, A_(ws, B, PC), L.out_w, C, vdm_net_out_channels(c));
    ew(nthreads, EW_ACT_BWD, act, ws->dh, H_(ws, B, PC), ws->dt1, PC);
    for (int b = B - 1; b >= 0; b--) {
        /* h_{b+1} = h_b + conv2(v_b): the residual passes dh through unchanged */
        conv_bwd(ws, nthreads, ws->dt1, D.blk_w2[b], D.blk_b2[b], ws->dh, V_(ws, b, PC), L.blk_w2[b], C, C);
        ew(nthreads, EW_ACT_BWD, act, ws->dt1, U_(ws, b, PC), ws->dt1, PC); /* du */
        /* u_b = conv1(a_b) + b1 + emb_b[n]: the per-image bias gets du summed per image */
        vdm_channel_sum(ws->csum, ws->dt1, N, (size_t)ws->H * (size_t)ws->W, C);
        for (int n = 0; n < N; n++)
            memcpy(ws->demb + (size_t)n * (size_t)(B * C) + (size_t)(b * C),
                   ws->csum + (size_t)n * (size_t)C, sizeof(float) * (size_t)C);
        conv_bwd(ws, nthreads, ws->dt2, D.blk_w1[b], D.blk_b1[b], ws->dt1, A_(ws, b, PC), L.blk_w1[b], C, C);
        ew(nthreads, EW_ACT_BWD, act, ws->dt2, H_(ws, b, PC), ws->dt2, PC); /* through a_b = act(h_b) */
        ew(nthreads, EW_ADD, 0, ws->dh, ws->dt2, NULL, PC);
    }
    conv_bwd(ws, nthreads, dz ? ws->dfeat : NULL, D.in_w, D.in_b, ws->dh, ws->feat, L.in_w, F, C);
    if (dz) {
        four_job fj = {dz, ws->z, ws->dfeat, K, c->n_fourier, ws->W, c->fourier_exp, 1};
        (void)vdm_parallel_for(nthreads, N * ws->H, four_range, &fj);
    }
    embed_backward(c, &L, &D, ws, dgscaled);
    vdm_pool_bind(prev);
    return VDM_OK;
}
