/* bbcode.c — bits-back tile coder (see bbcode.h for the order of operations). */
#include "codec/bbcode.h"
#include "codec/cm/classical.h"
#include "codec/cm/cm4.h"
#include "codec/codec_internal.h"
#include "ans/ans.h"
#include "model/vdm_model.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bb_ctx {
    vdm_model *model;
    vdm_bb_params p;
    unsigned threads;
    vdm_bb_stats st;
} bb_ctx;

void vdm_bb_params_default(vdm_bb_params *p)
{
    p->tile_w = p->tile_h = VDM_BB_DEFAULT_TILE;
    p->grid = VDM_BB_DEFAULT_GRID;
    p->nchains = 1;
    p->clean = 1;
    p->tiles = VDM_BB_TILES_CHOOSE;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Latent grid of z_i: the smaller of the two standard deviations z_i is
 * coded with (popped under q, pushed under p), divided by the grid factor.
 * Float64 division of values from vdm_model_consts, rounded once to float32:
 * deterministic.  The decoder uses the stored bits, never recomputes them. */
static void grid_deltas(const vdm_time_consts *c, int T, uint32_t grid, float *delta)
{
    for (int i = 0; i <= T; i++) {
        double s_pop = i == 0 ? c[0].sigma : c[i].q_sigma;
        double s_push = i == T ? 1.0 : c[i + 1].p_sigma;
        double s = s_pop < s_push ? s_pop : s_push;
        delta[i] = (float)(s / (double)grid);
    }
}

static inline float f32_of_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t bits_of_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* Work buffers for one tile of at most tw*th pixels. */
typedef struct tile_buf {
    size_t cap;                 /* sub-pixels */
    uint8_t *x;
    int32_t *ka, *kb;
    float *za, *zb, *mu, *sd;   /* sd: per-element std of p(z_{i-1} | z_i) */
    float *cf;                  /* per-pixel channel coupling of p (coupled models) */
} tile_buf;

static void tile_buf_free(tile_buf *b)
{
    free(b->x); free(b->ka); free(b->kb); free(b->za); free(b->zb); free(b->mu); free(b->sd); free(b->cf);
    memset(b, 0, sizeof *b);
}

static vdm_status tile_buf_init(tile_buf *b, size_t n)
{
    memset(b, 0, sizeof *b);
    b->cap = n;
    b->x = malloc(n);
    b->ka = malloc(n * sizeof(int32_t));
    b->kb = malloc(n * sizeof(int32_t));
    b->za = malloc(n * sizeof(float));
    b->zb = malloc(n * sizeof(float));
    b->mu = malloc(n * sizeof(float));
    b->sd = malloc(n * sizeof(float));
    b->cf = malloc(n * sizeof(float));
    if (!b->x || !b->ka || !b->kb || !b->za || !b->zb || !b->mu || !b->sd || !b->cf) {
        tile_buf_free(b);
        return VDM_ERR_NOMEM;
    }
    return VDM_OK;
}

typedef struct tile_geom { uint32_t x0, y0, w, h; } tile_geom;

static tile_geom tile_at(const vdm_image *img, uint32_t tw, uint32_t th, uint32_t t)
{
    uint32_t ntx = (img->width + tw - 1) / tw;
    tile_geom g;
    g.x0 = (t % ntx) * tw;
    g.y0 = (t / ntx) * th;
    g.w = img->width - g.x0 < tw ? img->width - g.x0 : tw;
    g.h = img->height - g.y0 < th ? img->height - g.y0 : th;
    return g;
}

/* The first BB_SPLIT_TILES tiles of every chain are coded as SPLIT x SPLIT
 * sub-tiles in raster order.  Within a tile the stack dips by roughly
 * (H(z_0|x) + H(z_1|z_0) - cost of x) per sub-pixel before the pushes give
 * the bits back; a tile whose dip exceeds what the chain has stacked so far
 * draws initial bits.  Growing the coded unit slowly (16 small units, then
 * 16 more, then whole tiles) keeps the deficit at about one small unit's
 * dip instead of a whole tile's.  Sub-tile j (1-based) covers
 * rows/columns [ (j-1)*ceil(h/SPLIT), ...) of the tile, clipped; empty ones
 * are skipped; j = 0 is the whole tile.  Returns 0 when unit j is empty. */
#define BB_SPLIT 4
#define BB_SPLIT_TILES 2u
static int unit_geom(tile_geom g, int j, tile_geom *out)
{
    if (j == 0) { *out = g; return 1; }  /* the whole tile */
    uint32_t sw = (g.w + BB_SPLIT - 1) / BB_SPLIT, sh = (g.h + BB_SPLIT - 1) / BB_SPLIT;
    uint32_t sx = (uint32_t)(j - 1) % BB_SPLIT, sy = (uint32_t)(j - 1) / BB_SPLIT;
    if (sx * sw >= g.w || sy * sh >= g.h) return 0;
    out->x0 = g.x0 + sx * sw;
    out->y0 = g.y0 + sy * sh;
    out->w = g.w - sx * sw < sw ? g.w - sx * sw : sw;
    out->h = g.h - sy * sh < sh ? g.h - sy * sh : sh;
    return 1;
}

static void tile_get(const vdm_image *img, tile_geom g, uint8_t *x)
{
    unsigned C = img->channels;
    for (uint32_t y = 0; y < g.h; y++) {
        const uint8_t *row = img->data + ((size_t)(g.y0 + y) * img->width + g.x0) * C;
        for (uint32_t i = 0; i < g.w; i++)
            for (unsigned c = 0; c < 3; c++) *x++ = row[(size_t)i * C + c];
    }
}

static void tile_put(vdm_image *img, tile_geom g, const uint8_t *x)
{
    unsigned C = img->channels;
    for (uint32_t y = 0; y < g.h; y++) {
        uint8_t *row = img->data + ((size_t)(g.y0 + y) * img->width + g.x0) * C;
        for (uint32_t i = 0; i < g.w; i++)
            for (unsigned c = 0; c < 3; c++) row[(size_t)i * C + c] = *x++;
    }
}

/* Everything both directions share for one image. */
typedef struct bb_run {
    bb_ctx *cx;
    int T;
    vdm_time_consts *c;        /* T+1 */
    float *delta;              /* T+1 */
    unsigned prec;
    vdm_ans_lik8 lik;
    uint8_t key[32];
    int clean;
} bb_run;

static vdm_status run_init(bb_run *r, bb_ctx *cx, int T, unsigned prec, int clean, uint64_t xor_seed)
{
    memset(r, 0, sizeof *r);
    r->cx = cx;
    r->T = T;
    r->prec = prec;
    r->clean = clean;
    r->c = malloc(sizeof(vdm_time_consts) * ((size_t)T + 1));
    r->delta = malloc(sizeof(float) * ((size_t)T + 1));
    if (!r->c || !r->delta) return VDM_ERR_NOMEM;
    VDM_FORWARD(vdm_model_consts(cx->model, T, r->c));
    VDM_FORWARD(vdm_ans_lik8_init(&r->lik, (float)r->c[0].alpha, (float)r->c[0].gamma, prec));
    vdm_ans_clean_key(r->key, xor_seed);
    return VDM_OK;
}

static void run_free(bb_run *r) { free(r->c); free(r->delta); }

/* Sample n latents by popping them under N(mu, s^2) truncated to its
 * +-7 sigma window (vdm_ans_gauss_init_trunc), on grid d, inside an
 * XOR-cleaning section when cleaning is on. */
static vdm_status pop_q(bb_run *r, vdm_ans *a, uint32_t chain, uint32_t tile, uint32_t step,
                        size_t n, int32_t *k, const float *mu, float s, float d)
{
    return vdm_ans_bb_sample(a, r->clean ? r->key : NULL, chain, tile, step, n, k, mu, &s, 0, d, r->prec);
}

/* The decoder's mirror of pop_q. */
static vdm_status push_q(bb_run *r, vdm_ans *a, uint32_t chain, uint32_t tile, uint32_t step,
                         size_t n, const int32_t *k, const float *mu, float s, float d)
{
    return vdm_ans_bb_unsample(a, r->clean ? r->key : NULL, chain, tile, step, n, k, mu, &s, 0, d, r->prec);
}

static void to_float(float *z, const int32_t *k, size_t n, float d)
{
    for (size_t j = 0; j < n; j++) z[j] = (float)k[j] * d;
}

/* p(z_{i-1} | z_i): mean into mu, standard deviation per element into sd,
 * channel coupling per pixel into cf (coupled models).  Times the network. */
static vdm_status p_step(bb_run *r, int i, const float *z, tile_geom g, float *mu, float *sd, float *cf)
{
    double t0 = now_s();
    vdm_status st = vdm_model_p_mean(r->cx->model, r->T, i, z, 1, (int)g.h, (int)g.w,
                                     (int)r->cx->threads, mu, sd, cf);
    r->cx->st.seconds_network += now_s() - t0;
    return st;
}

static vdm_status encode_tile(bb_run *r, vdm_ans *a, tile_buf *b, uint32_t chain, uint32_t tile,
                              uint32_t sub, tile_geom g, double *recon_bits)
{
    const int T = r->T;
    const size_t n = (size_t)g.w * g.h * 3;
    const float alpha0 = (float)r->c[0].alpha, sigma0 = (float)r->c[0].sigma;
    int32_t *kprev = b->ka, *kcur = b->kb;
    float *zprev = b->za, *zcur = b->zb, *mu = b->mu;

    for (size_t j = 0; j < n; j++) mu[j] = alpha0 * vdm_data_value(b->x[j]);
    VDM_FORWARD(pop_q(r, a, chain, tile, sub << 16, n, kprev, mu, sigma0, r->delta[0]));
    to_float(zprev, kprev, n, r->delta[0]);
    double i0 = vdm_ans_info_bits(a);
    VDM_FORWARD(vdm_ans_lik8_push_vec(a, &r->lik, n, b->x, zprev));
    *recon_bits += vdm_ans_info_bits(a) - i0;

    for (int i = 1; i <= T; i++) {
        const float qa = (float)r->c[i].q_alpha, qs = (float)r->c[i].q_sigma;
        for (size_t j = 0; j < n; j++) mu[j] = qa * zprev[j];
        VDM_FORWARD(pop_q(r, a, chain, tile, (sub << 16) | (uint32_t)i, n, kcur, mu, qs, r->delta[i]));
        to_float(zcur, kcur, n, r->delta[i]);
        VDM_FORWARD(p_step(r, i, zcur, g, mu, b->sd, b->cf));
        if (vdm_model_coupled(r->cx->model)) {
            /* G and B means move with this pixel's z_{i-1} R (and G): the
             * decoder knows those when it pops G (B), since it pops R, G, B
             * in that order */
            for (size_t j = 0; j < n; j += 3) {
                const float mg = vdm_couple_mean_g(mu + j, b->cf + j, zprev[j]);
                const float mb = vdm_couple_mean_b(mu + j, b->cf + j, zprev[j], zprev[j + 1]);
                mu[j + 1] = mg;
                mu[j + 2] = mb;
            }
        }
        VDM_FORWARD(vdm_ans_gauss_push_vec(a, n, kprev, mu, b->sd, 1, r->delta[i - 1], r->prec));
        int32_t *tk = kprev; kprev = kcur; kcur = tk;
        float *tz = zprev; zprev = zcur; zcur = tz;
    }
    /* prior N(0, 1) for z_T (now in kprev) */
    for (size_t j = 0; j < n; j++) mu[j] = 0.0f;
    const float one = 1.0f;
    return vdm_ans_gauss_push_vec(a, n, kprev, mu, &one, 0, r->delta[T], r->prec);
}

static vdm_status decode_tile(bb_run *r, vdm_ans *a, tile_buf *b, uint32_t chain, uint32_t tile,
                              uint32_t sub, tile_geom g)
{
    const int T = r->T;
    const size_t n = (size_t)g.w * g.h * 3;
    const float alpha0 = (float)r->c[0].alpha, sigma0 = (float)r->c[0].sigma;
    int32_t *kcur = b->ka, *kprev = b->kb;
    float *zcur = b->za, *zprev = b->zb, *mu = b->mu;
    const float one = 1.0f;

    for (size_t j = 0; j < n; j++) mu[j] = 0.0f;
    VDM_FORWARD(vdm_ans_gauss_pop_vec(a, n, kcur, mu, &one, 0, r->delta[T], r->prec));
    to_float(zcur, kcur, n, r->delta[T]);
    for (int i = T; i >= 1; i--) {
        VDM_FORWARD(p_step(r, i, zcur, g, mu, b->sd, b->cf));
        if (vdm_model_coupled(r->cx->model)) {
            const float d = r->delta[i - 1];
            for (size_t j = 0; j < n; j += 3) {
                const float m0[3] = { mu[j], mu[j + 1], mu[j + 2] };
                VDM_FORWARD(vdm_ans_gauss_pop_vec(a, 1, kprev + j, m0, b->sd + j, 1, d, r->prec));
                const float zr = (float)kprev[j] * d;
                const float mg = vdm_couple_mean_g(m0, b->cf + j, zr);
                VDM_FORWARD(vdm_ans_gauss_pop_vec(a, 1, kprev + j + 1, &mg, b->sd + j + 1, 1, d, r->prec));
                const float zg = (float)kprev[j + 1] * d;
                const float mb = vdm_couple_mean_b(m0, b->cf + j, zr, zg);
                VDM_FORWARD(vdm_ans_gauss_pop_vec(a, 1, kprev + j + 2, &mb, b->sd + j + 2, 1, d, r->prec));
            }
        } else {
            VDM_FORWARD(vdm_ans_gauss_pop_vec(a, n, kprev, mu, b->sd, 1, r->delta[i - 1], r->prec));
        }
        to_float(zprev, kprev, n, r->delta[i - 1]);
        const float qa = (float)r->c[i].q_alpha, qs = (float)r->c[i].q_sigma;
        for (size_t j = 0; j < n; j++) mu[j] = qa * zprev[j];
        VDM_FORWARD(push_q(r, a, chain, tile, (sub << 16) | (uint32_t)i, n, kcur, mu, qs, r->delta[i]));
        int32_t *tk = kprev; kprev = kcur; kcur = tk;
        float *tz = zprev; zprev = zcur; zcur = tz;
    }
    /* z_0 is in kcur/zcur */
    VDM_FORWARD(vdm_ans_lik8_pop_vec(a, &r->lik, n, b->x, zcur));
    for (size_t j = 0; j < n; j++) mu[j] = alpha0 * vdm_data_value(b->x[j]);
    return push_q(r, a, chain, tile, sub << 16, n, kcur, mu, sigma0, r->delta[0]);
}

/* ---- CM tiles (vdz.md §6.2) ---------------------------------------------- */

#define CM_LEN_RANGE (1u << 24)   /* a CM tile's byte count is pushed as uniform 24 bits */

/* A CM tile on the stack: its bytes last to first, then its length, so the
 * decoder pops the length, then the bytes in order. */
static vdm_status push_cm(vdm_ans *a, const uint8_t *d, size_t n)
{
    VDM_RETURN_IF(n >= CM_LEN_RANGE, VDM_ERR_ARG);
    for (size_t i = n; i-- > 0;) VDM_FORWARD(vdm_ans_uniform_push(a, d[i], 256));
    return vdm_ans_uniform_push(a, (uint32_t)n, CM_LEN_RANGE);
}

/* The decoder's mirror: a corrupt length is caught before anything is
 * allocated or popped (the stack must still hold that many bytes). */
static vdm_status pop_cm(vdm_ans *a, uint8_t **d, size_t *n)
{
    uint32_t len;
    VDM_FORWARD(vdm_ans_uniform_pop(a, CM_LEN_RANGE, &len));
    if (len < 4 || (uint64_t)len > 4 * (uint64_t)vdm_ans_num_words(a) + 8) return VDM_ERR_CORRUPT;
    uint8_t *buf = malloc(len);
    VDM_RETURN_IF(!buf, VDM_ERR_NOMEM);
    for (uint32_t i = 0; i < len; i++) {
        uint32_t v;
        vdm_status st = vdm_ans_uniform_pop(a, 256, &v);
        if (st != VDM_OK) { free(buf); return st; }
        buf[i] = (uint8_t)v;
    }
    *d = buf;
    *n = len;
    return VDM_OK;
}

static unsigned bb_channels_for(void *ctx, const vdm_image *img)
{
    (void)ctx;
    if (img->bit_depth == 8 && (img->color_type == 2 || img->color_type == 6)) return 0x07;
    return 0;
}

/* The CM tiles' method: the container's context-mixing method (6, the
 * strongest, or 4 or 5 when the options ask for it) unless the caller asked for
 * speed (effort 0, method 2) or the image is too wide for it. */
static uint8_t cm_tile_method(const vdm_image *img, const vdm_encode_opts *o)
{
    return (uint8_t)vdm_encode_cm_method(o, img->width);
}

/* Every tile's CM stream of method m (*cm: ntiles buffers, only read): the
 * encoder's CM pass when it holds them (o->cm_pass, vdm_cm_pass), else one
 * pass of our own, whose buffers *own holds for cm_tiles_free. */
static vdm_status cm_tile_streams(const vdm_image *img, const vdm_encode_opts *o, uint8_t m, uint32_t tw,
                                  uint32_t th, uint32_t ntiles, const vdm_buf **cm, vdm_buf **own)
{
    *cm = NULL;
    *own = NULL;
    const vdm_cm_pass *cp = o->cm_pass;
    if (cp && cp->method == m && cp->mask == 0x07 && cp->tile_w == tw && cp->tile_h == th && cp->ntiles == ntiles) {
        *cm = cp->tiles;
        return VDM_OK;
    }
    vdm_buf *b = calloc(ntiles, sizeof *b);
    if (!b) return VDM_ERR_NOMEM;
    *own = b;
    *cm = b;
    vdm_subimage g;
    vdm_subimage_of(&g, img, 0x07);
    if (m >= VDM_CLASSICAL_CM4) return vdm_cm_tiles_encode(m, &g, tw, th, b);
    if (m == VDM_CLASSICAL_CM3) return vdm_cm3_tiles_encode(&g, tw, th, b);
    return vdm_cm2_tiles_encode(&g, tw, th, b);
}

static void cm_tiles_free(vdm_buf *own, uint32_t ntiles)
{
    for (uint32_t t = 0; own && t < ntiles; t++) vdm_buf_free(&own[t]);
    free(own);
}

static vdm_status bb_encode(void *ctx, const vdm_image *img, unsigned channel_mask,
                            const vdm_encode_opts *o, vdm_model_payload *out)
{
    bb_ctx *cx = ctx;
    memset(out, 0, sizeof *out);
    memset(&cx->st, 0, sizeof cx->st);
    VDM_RETURN_IF(channel_mask != 0x07 || bb_channels_for(ctx, img) != 0x07, VDM_ERR_ARG);
    int T = (int)o->steps;
    if (T == 0) T = vdm_model_default_steps(cx->model);
    if (T == 0) T = VDM_BB_DEFAULT_STEPS;
    VDM_RETURN_IF(T < 1 || T > VDM_MODEL_MAX_STEPS, VDM_ERR_ARG);

    const uint32_t tw = cx->p.tile_w, th = cx->p.tile_h;
    const uint32_t ntiles = ((img->width + tw - 1) / tw) * ((img->height + th - 1) / th);
    uint32_t nchains = cx->p.nchains < 1 ? 1 : cx->p.nchains;
    if (nchains > ntiles) nchains = ntiles;

    const int choice = cx->p.tiles != VDM_BB_TILES_MODEL;
    bb_run r;
    tile_buf b;
    vdm_ans *a = NULL, *alt = NULL;   /* alt: the stack before the tile, then with CM */
    const vdm_buf *cm = NULL;         /* choice: every tile's CM stream ... */
    vdm_buf *own = NULL;              /* ... when not lent by the encoder's CM pass */
    vdm_status st = run_init(&r, cx, T, VDM_BB_PREC, cx->p.clean, 0);
    if (st == VDM_OK) grid_deltas(r.c, T, cx->p.grid, r.delta);
    if (st == VDM_OK) st = tile_buf_init(&b, (size_t)tw * th * 3);
    else memset(&b, 0, sizeof b);
    if (st == VDM_OK) st = vdm_ans_create(&a);
    const uint8_t cm_method = choice ? cm_tile_method(img, o) : 0;
    if (st == VDM_OK && choice) {
        st = cm_tile_streams(img, o, cm_method, tw, th, ntiles, &cm, &own);
        if (st == VDM_OK) st = vdm_ans_create(&alt);
    }

    out->owns_streams = 1;
    vdm_model_id(cx->model, out->model_id);
    out->steps = (uint16_t)T;
    out->channel_mask = 0x07;
    out->flags = (uint8_t)((cx->p.clean ? VDM_MODL_CLEAN : 0) | (choice ? VDM_MODL_TILE_CHOICE : 0));
    out->cm_method = cm_method;
    out->data_prec = out->latent_prec = out->prior_prec = VDM_BB_PREC;
    out->tile_w = (uint16_t)tw;
    out->tile_h = (uint16_t)th;
    out->xor_seed = 0;
    out->ntiles = ntiles;
    out->nchains = nchains;
    out->delta_bits = malloc(sizeof(uint32_t) * ((size_t)T + 1));
    out->tile_skip = calloc(ntiles ? ntiles : 1, 1);
    out->chains = calloc(nchains, sizeof *out->chains);
    if (st == VDM_OK && (!out->delta_bits || !out->tile_skip || !out->chains)) st = VDM_ERR_NOMEM;
    if (st == VDM_OK)
        for (int i = 0; i <= T; i++) out->delta_bits[i] = bits_of_f32(r.delta[i]);

    double t_start = now_s(), recon = 0, net = 0;
    uint32_t done = 0;
    for (uint32_t ch = 0; ch < nchains && st == VDM_OK; ch++) {
        uint32_t first = (uint32_t)((uint64_t)ntiles * ch / nchains);
        uint32_t last = (uint32_t)((uint64_t)ntiles * (ch + 1) / nchains);
        vdm_ans_reset(a);
        vdm_ans_set_initial_seed(a, ch);
        for (uint32_t t = first; t < last && st == VDM_OK; t++) {
            tile_geom g = tile_at(img, tw, th, t);
            const uint64_t dims = (uint64_t)g.w * g.h * 3;
            const double info0 = vdm_ans_info_bits(a);
            const uint64_t drawn0 = vdm_ans_initial_words(a);
            double rc = 0;
            if (!choice) {
                int jmax = t - first < BB_SPLIT_TILES ? BB_SPLIT * BB_SPLIT : 0;
                for (int j = jmax ? 1 : 0; j <= jmax && st == VDM_OK; j++) {
                    tile_geom u;
                    if (!unit_geom(g, j, &u)) continue;
                    tile_get(img, u, b.x);
                    st = encode_tile(&r, a, &b, ch, t, (uint32_t)j, u, &rc);
                }
            } else {
                /* the model's try on a, the stack as it was kept in alt; then
                 * CM on alt when allowed; keep the smaller (integer sizes:
                 * the same choice on every machine) */
                const uint64_t size0 = vdm_ans_info_bits_int(a);
                st = vdm_ans_copy(alt, a);
                tile_get(img, g, b.x);
                if (st == VDM_OK) st = encode_tile(&r, a, &b, ch, t, 0, g, &rc);
                const uint64_t gm = vdm_ans_info_bits_int(a) - size0;
                const int drew = vdm_ans_initial_words(a) > drawn0;
                int use_cm = 0;
                if (st == VDM_OK && cm[t].size < CM_LEN_RANGE &&
                    (cx->p.tiles == VDM_BB_TILES_CHOOSE || drew)) {
                    st = push_cm(alt, cm[t].data, cm[t].size);
                    use_cm = st == VDM_OK && vdm_ans_info_bits_int(alt) - size0 < gm;
                }
                if (use_cm) {
                    vdm_ans *tmp = a; a = alt; alt = tmp;
                    out->tile_skip[t] = 1;
                    cx->st.cm_tiles++;
                    cx->st.cm_dims += dims;
                    cx->st.cm_bits += 8 * (uint64_t)cm[t].size;
                }
            }
            if (st == VDM_OK && !out->tile_skip[t]) {
                net += vdm_ans_info_bits(a) - info0 - 32.0 * (double)(vdm_ans_initial_words(a) - drawn0);
                recon += rc;
                cx->st.dims += dims;
            }
            done++;
            if (st == VDM_OK && o->progress && o->progress(o->progress_user, (double)done / ntiles))
                st = VDM_ERR_CANCELLED;
        }
        if (st != VDM_OK) break;
        vdm_model_chain *c = &out->chains[ch];
        c->first = first;
        c->count = last - first;
        c->initial_bits = vdm_ans_initial_bits(a);
        c->stream_bytes = vdm_ans_serialized_size(a);
        uint8_t *s = malloc(c->stream_bytes);
        if (!s) { st = VDM_ERR_NOMEM; break; }
        st = vdm_ans_serialize(a, s, c->stream_bytes, NULL);
        c->stream = s;
        cx->st.stream_bits += 8 * c->stream_bytes;
        cx->st.initial_bits += c->initial_bits;
    }
    cx->st.ideal_net_bits = net;
    cx->st.recon_bits = recon;
    cx->st.seconds_coder = now_s() - t_start - cx->st.seconds_network;
    out->neg_vlb_bits = net;
    cm_tiles_free(own, ntiles);
    vdm_ans_free(alt);
    vdm_ans_free(a);
    tile_buf_free(&b);
    run_free(&r);
    if (st != VDM_OK) vdm_model_payload_clear(out);
    return st;
}

/* The model's try on a few tiles, exactly as bb_encode would make it: the CM
 * tile streams of the whole image (one pass), then on each sampled tile the
 * bits the model's encode adds to a stack that already holds the CM streams
 * of the tiles before it (so its pops borrow bits as in the chain) against
 * what pushing the tile's CM stream adds.  Integer stack sizes and the REF
 * network: the same answer on every machine and thread count. */
#define BB_EST_TILES 6
#define BB_EST_LEAD 4      /* CM streams pushed before a sampled tile */
/* The sampled tiles are taken in the order 0, 3, 1, 4, 2, 5 of their places
 * (evenly spread, the first two far apart); after BB_EST_FIRST of them the
 * estimate stops, "skip", when the model lost each of them by more than
 * 1/BB_EST_CLEAR of the tile's CM bits (it is then far from the
 * VDM_MODEL_TRY_MIN_GAIN it must save: the tiles it loses add nothing). */
#define BB_EST_FIRST 2
#define BB_EST_CLEAR 50    /* 2 % */
static const uint8_t bb_est_order[BB_EST_TILES] = { 0, 3, 1, 4, 2, 5 };
static vdm_status bb_estimate(void *ctx, const vdm_image *img, unsigned channel_mask,
                              const vdm_encode_opts *o, vdm_model_estimate *out)
{
    bb_ctx *cx = ctx;
    memset(out, 0, sizeof *out);
    VDM_RETURN_IF(channel_mask != 0x07 || bb_channels_for(ctx, img) != 0x07, VDM_ERR_ARG);
    int T = (int)o->steps;
    if (T == 0) T = vdm_model_default_steps(cx->model);
    if (T == 0) T = VDM_BB_DEFAULT_STEPS;
    VDM_RETURN_IF(T < 1 || T > VDM_MODEL_MAX_STEPS, VDM_ERR_ARG);
    const double t0 = now_s();
    const uint32_t tw = cx->p.tile_w, th = cx->p.tile_h;
    const uint32_t ntiles = ((img->width + tw - 1) / tw) * ((img->height + th - 1) / th);
    out->ntiles = ntiles;
    if (cx->p.tiles != VDM_BB_TILES_CHOOSE) { out->try_model = 1; return VDM_OK; }
    const uint8_t cm_method = cm_tile_method(img, o);
    bb_run r;
    tile_buf b;
    vdm_ans *a = NULL, *alt = NULL;
    vdm_status st = run_init(&r, cx, T, VDM_BB_PREC, cx->p.clean, 0);
    if (st == VDM_OK) grid_deltas(r.c, T, cx->p.grid, r.delta);
    if (st == VDM_OK) st = tile_buf_init(&b, (size_t)tw * th * 3);
    else memset(&b, 0, sizeof b);
    if (st == VDM_OK) st = vdm_ans_create(&a);
    if (st == VDM_OK) st = vdm_ans_create(&alt);
    const vdm_buf *cm = NULL;
    vdm_buf *own = NULL;
    if (st == VDM_OK) st = cm_tile_streams(img, o, cm_method, tw, th, ntiles, &cm, &own);
    for (uint32_t t = 0; t < ntiles && st == VDM_OK; t++) out->cm_bits += 8.0 * (double)cm[t].size + 24.0;
    const uint32_t ns = ntiles < BB_EST_TILES ? ntiles : BB_EST_TILES;
    double gain = 0;
    int clear_losses = 0;
    for (uint32_t jj = 0; jj < ns && st == VDM_OK; jj++) {
        if (jj == BB_EST_FIRST && clear_losses == BB_EST_FIRST) break;
        uint32_t j = jj;
        if (ns == BB_EST_TILES) j = bb_est_order[jj];
        const uint32_t t = (uint32_t)(((uint64_t)2 * j + 1) * ntiles / (2 * ns));
        vdm_ans_reset(a);
        vdm_ans_set_initial_seed(a, 0);
        for (uint32_t u = t > BB_EST_LEAD ? t - BB_EST_LEAD : 0; u < t && st == VDM_OK; u++)
            if (cm[u].size < CM_LEN_RANGE) st = push_cm(a, cm[u].data, cm[u].size);
        if (st != VDM_OK || cm[t].size >= CM_LEN_RANGE) continue;
        const uint64_t size0 = vdm_ans_info_bits_int(a);
        st = vdm_ans_copy(alt, a);
        if (st == VDM_OK) st = push_cm(alt, cm[t].data, cm[t].size);
        const uint64_t gc = vdm_ans_info_bits_int(alt) - size0;
        tile_geom g = tile_at(img, tw, th, t);
        tile_get(img, g, b.x);
        double rc = 0;
        if (st == VDM_OK) st = encode_tile(&r, a, &b, 0, t, 0, g, &rc);
        if (st != VDM_OK) break;
        const uint64_t gm = vdm_ans_info_bits_int(a) - size0;
        out->sampled++;
        out->sampled_dims += (double)g.w * g.h * 3;
        out->model_bits += (double)gm;
        out->cm_sampled_bits += (double)gc;
        if (gm < gc) { out->model_wins++; gain += (double)(gc - gm); }
        if (gm > gc + gc / BB_EST_CLEAR) clear_losses++;
        if (o->progress && o->progress(o->progress_user, (double)(jj + 1) / ns)) st = VDM_ERR_CANCELLED;
    }
    if (st == VDM_OK) {
        out->gain_bits = out->sampled ? gain * (double)ntiles / (double)out->sampled : 0.0;
        out->try_model = out->gain_bits > VDM_MODEL_TRY_MIN_GAIN * out->cm_bits;
    }
    out->seconds = now_s() - t0;
    cm_tiles_free(own, ntiles);
    vdm_ans_free(alt);
    vdm_ans_free(a);
    tile_buf_free(&b);
    run_free(&r);
    return st;
}

static vdm_status bb_decode(void *ctx, const vdm_model_payload *in, vdm_image *img,
                            unsigned threads, vdm_progress_fn progress, void *progress_user)
{
    bb_ctx *cx = ctx;
    memset(&cx->st, 0, sizeof cx->st);
    VDM_RETURN_IF(in->channel_mask != 0x07 || bb_channels_for(ctx, img) != 0x07, VDM_ERR_UNSUPPORTED);
    VDM_RETURN_IF(in->data_prec != in->latent_prec || in->latent_prec != in->prior_prec ||
                  in->data_prec < 9 || in->data_prec > 24, VDM_ERR_UNSUPPORTED);
    VDM_RETURN_IF(in->flags & ~(VDM_MODL_CLEAN | VDM_MODL_TILE_CHOICE), VDM_ERR_UNSUPPORTED);
    const int choice = (in->flags & VDM_MODL_TILE_CHOICE) != 0;
    if (!choice)
        for (uint32_t t = 0; t < in->ntiles; t++) VDM_RETURN_IF(in->tile_skip[t], VDM_ERR_CORRUPT);
    const int T = in->steps;
    const uint32_t tw = in->tile_w, th = in->tile_h;
    if (threads) cx->threads = threads;

    bb_run r;
    tile_buf b;
    vdm_ans *a = NULL;
    vdm_status st = run_init(&r, cx, T, in->data_prec, in->flags & 1, in->xor_seed);
    for (int i = 0; st == VDM_OK && i <= T; i++) {
        float d = f32_of_bits(in->delta_bits[i]);
        if (!(d > 0.0f) || d > 1e30f) st = VDM_ERR_CORRUPT; /* also rejects NaN */
        r.delta[i] = d;
    }
    if (st == VDM_OK) st = tile_buf_init(&b, (size_t)tw * th * 3);
    else memset(&b, 0, sizeof b);
    if (st == VDM_OK) st = vdm_ans_create(&a);
    /* CM tiles' streams, popped from the chains, decoded after all of them */
    uint8_t **cm_in = NULL;
    size_t *cm_n = NULL;
    if (st == VDM_OK && choice) {
        cm_in = calloc(in->ntiles, sizeof *cm_in);
        cm_n = calloc(in->ntiles, sizeof *cm_n);
        if (!cm_in || !cm_n) st = VDM_ERR_NOMEM;
    }

    double t_start = now_s();
    uint32_t done = 0;
    for (uint32_t ch = 0; ch < in->nchains && st == VDM_OK; ch++) {
        const vdm_model_chain *c = &in->chains[ch];
        st = vdm_ans_deserialize(a, c->stream, (size_t)c->stream_bytes);
        if (st != VDM_OK) break;
        vdm_ans_set_initial_seed(a, ch);
        for (uint32_t t = c->first + c->count; t-- > c->first && st == VDM_OK;) {
            tile_geom g = tile_at(img, tw, th, t);
            if (choice && in->tile_skip[t]) {
                st = pop_cm(a, &cm_in[t], &cm_n[t]);
                cx->st.cm_tiles++;
                cx->st.cm_dims += (uint64_t)g.w * g.h * 3;
                cx->st.cm_bits += 8 * (uint64_t)cm_n[t];
                if (st == VDM_OK && progress && progress(progress_user, (double)++done / (double)in->ntiles))
                    st = VDM_ERR_CANCELLED;
                continue;
            }
            int jmax = !choice && t - c->first < BB_SPLIT_TILES ? BB_SPLIT * BB_SPLIT : 0;
            for (int j = jmax; j >= (jmax ? 1 : 0) && st == VDM_OK; j--) {
                tile_geom u;
                if (!unit_geom(g, j, &u)) continue;
                st = decode_tile(&r, a, &b, ch, t, (uint32_t)j, u);
                if (st == VDM_OK) tile_put(img, u, b.x);
            }
            cx->st.dims += (uint64_t)g.w * g.h * 3;
            if (st == VDM_OK && progress && progress(progress_user, (double)++done / (double)in->ntiles))
                st = VDM_ERR_CANCELLED;
        }
        if (st != VDM_OK) break;
        uint64_t nwords = 0;
        st = vdm_ans_check_pristine(a, &nwords);
        if (st == VDM_OK && nwords * 32 != c->initial_bits) st = VDM_ERR_CORRUPT;
        cx->st.stream_bits += 8 * c->stream_bytes;
        cx->st.initial_bits += c->initial_bits;
    }
    if (st == VDM_OK && cx->st.cm_tiles) {
        vdm_subimage g;
        vdm_subimage_of(&g, img, 0x07);
        if (in->cm_method >= VDM_CLASSICAL_CM4 && in->cm_method <= VDM_CLASSICAL_CM9)
            st = vdm_cm_tiles_decode(in->cm_method, &g, tw, th, (const uint8_t *const *)cm_in, cm_n);
        else if (in->cm_method == VDM_CLASSICAL_CM3)
            st = vdm_cm3_tiles_decode(&g, tw, th, (const uint8_t *const *)cm_in, cm_n);
        else if (in->cm_method == VDM_CLASSICAL_CM2)
            st = vdm_cm2_tiles_decode(&g, tw, th, (const uint8_t *const *)cm_in, cm_n);
        else
            st = VDM_ERR_CORRUPT;
    }
    cx->st.seconds_coder = now_s() - t_start - cx->st.seconds_network;
    if (cm_in)
        for (uint32_t t = 0; t < in->ntiles; t++) free(cm_in[t]);
    free(cm_in);
    free(cm_n);
    vdm_ans_free(a);
    tile_buf_free(&b);
    run_free(&r);
    /* Garbage streams make the coder see impossible parameters: that is a
     * corrupt file, not a caller error. */
    if (st == VDM_ERR_ARG) st = VDM_ERR_CORRUPT;
    return st;
}

vdm_status vdm_bb_path_wrap(vdm_model *m, const vdm_bb_params *p, unsigned threads, vdm_model_path *out)
{
    memset(out, 0, sizeof *out);
    VDM_RETURN_IF(!m, VDM_ERR_ARG);
    vdm_bb_params d;
    vdm_bb_params_default(&d);
    if (!p) p = &d;
    if (p->tile_w < 1 || p->tile_w > 65535 || p->tile_h < 1 || p->tile_h > 65535 ||
        (uint64_t)p->tile_w * p->tile_h > VDM_MODEL_MAX_TILE_PIXELS || p->grid < 1 ||
        p->grid > 1024 || p->nchains < 1 || p->tiles < VDM_BB_TILES_MODEL || p->tiles > VDM_BB_TILES_SEED) {
        vdm_model_free(m);
        return VDM_ERR_ARG;
    }
    bb_ctx *cx = calloc(1, sizeof *cx);
    if (!cx) { vdm_model_free(m); return VDM_ERR_NOMEM; }
    cx->model = m;
    cx->p = *p;
    cx->threads = threads ? threads : 1;
    vdm_model_id(m, out->model_id);
    out->ctx = cx;
    out->channels_for = bb_channels_for;
    out->encode = bb_encode;
    out->decode = bb_decode;
    out->estimate = bb_estimate;
    if (cx->p.tiles != VDM_BB_TILES_MODEL) {   /* it codes CM tiles of its tile size */
        out->cm_tile_w = cx->p.tile_w;
        out->cm_tile_h = cx->p.tile_h;
    }
    return VDM_OK;
}

vdm_status vdm_bb_path_open(const char *model_file, const vdm_bb_params *p, unsigned threads,
                            vdm_model_path *out)
{
    vdm_model *m = NULL;
    memset(out, 0, sizeof *out);
    VDM_FORWARD(vdm_model_load(model_file, &m));
    return vdm_bb_path_wrap(m, p, threads, out);
}

void vdm_bb_path_close(vdm_model_path *mp)
{
    if (!mp) return;
    bb_ctx *cx = mp->ctx;
    if (cx) { vdm_model_free(cx->model); free(cx); }
    memset(mp, 0, sizeof *mp);
}

void vdm_bb_path_stats(const vdm_model_path *mp, vdm_bb_stats *out)
{
    const bb_ctx *cx = mp ? mp->ctx : NULL;
    if (cx) *out = cx->st;
    else memset(out, 0, sizeof *out);
}
