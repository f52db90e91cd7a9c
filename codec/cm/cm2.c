/* cm2.c — classical method 2 (CM): context-modelled lossless coding.
 *
 * Per sample (pixels in raster order, the channels of a pixel in coding
 * order: G, R, B, then the rest when the sub-image is RGB, else 0..n-1):
 *   1. several integer predictors from the causal neighbours W, N, NW, NE
 *      of the same channel (and, for R and B, the same pixel's and
 *      neighbours' G, so colour correlation is used without a colour
 *      transform);
 *   2. a blend of them weighted by 1/(local error)^2, where each predictor's
 *      local error is the sum of its own absolute errors at W, N, NW, NE
 *      (a "self-correcting" predictor in the spirit of TMW/JPEG XL's
 *      weighted predictor);
 *   3. the residual coded bit by bit (zero?, sign, Elias-gamma exponent in
 *      unary, mantissa) with adaptive binary probabilities whose context is
 *      the quantised sum of the neighbours' absolute residuals.
 * Encoder and decoder run the SAME function (cm_run), which either codes the
 * known sample or decodes it, so the two cannot drift apart.
 * format-spec/vdz.md §8 restates every rule and constant below. */
#include "codec/cm/classical.h"
#include "codec/cm/rangecoder.h"
#include "codec/cm/cm_common.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define NPRED_BASE 5         /* predictors from the channel itself */
#define NPRED_REF 3          /* extra predictors from the reference channel */
#define NPRED_REF2 2          /* B: extra predictors from R */
#define NPRED_MAX (NPRED_BASE + NPRED_REF + NPRED_REF2)
#define NQ 40                /* activity contexts */
#define NEXP 18                /* exponents 0..17 (|residual| < 2^17) */
#define NSIGN 9              /* sign contexts: signs of the W and N residuals */
#define WEIGHT_ONE ((int64_t)1 << 40)

typedef struct {
    vdm_rc_prob zero[NQ];
    vdm_rc_prob sign[NQ][NSIGN];
    vdm_rc_prob expo[NQ][NEXP];
    vdm_rc_prob mant_hi[NQ][NEXP];
    vdm_rc_prob mant_lo[NEXP][NEXP];
} cm_ctx;

typedef struct {
    int32_t *val[2];            /* sample rows y%2, width entries */
    int32_t *res[2];            /* final residual rows y%2 */
    uint32_t *perr[2];          /* predictor abs errors rows y%2, width*NPRED_MAX */
} cm_rows;

typedef struct {
    const vdm_subimage *g;
    vdm_rc_enc *enc;
    vdm_rc_dec *dec;
    unsigned order[4];
    int has_ref[4];
    cm_rows rows[4];
    cm_ctx *ctx;                /* one per coding position */
    /* tile mode (vdm_cm2_tiles_*): the coder of the current pixel's tile
     * goes into enc/dec; neither = an observed sample (update only) */
    uint32_t tw, th, ntx;
    vdm_rc_enc *tenc;           /* encode: one per tile */
    vdm_rc_dec *tdec;           /* decode: one per tile, used where tuse[t] */
    const uint8_t *tuse;
} cm_state;

static inline int cbit(cm_state *st, vdm_rc_prob *p, int bit)
{
    if (st->enc) {
        vdm_rc_encode(st->enc, p, bit);
        return bit;
    }
    if (st->dec) return vdm_rc_decode(st->dec, p);
    vdm_rc_update(p, bit);      /* observed: the state moves as if coded */
    return bit;
}

static void rows_free(cm_rows *r)
{
    for (int i = 0; i < 2; i++) { free(r->val[i]); free(r->res[i]); free(r->perr[i]); }
}

static int rows_alloc(cm_rows *r, uint32_t w)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 2; i++) {
        r->val[i] = calloc(w, sizeof(int32_t));
        r->res[i] = calloc(w, sizeof(int32_t));
        r->perr[i] = calloc((size_t)w * NPRED_MAX, sizeof(uint32_t));
    }
    int ok = 1;
    for (int i = 0; i < 2; i++) ok &= r->val[i] && r->res[i] && r->perr[i];
    return ok;
}

/* The causal neighbourhood of (x, y) in one channel, with the border rule:
 * outside the image a neighbour takes the nearest defined one
 * (first row: N = NW = NE = W; first column: W = NW = N; last column:
 * NE = N; the very first sample sees 0 everywhere). */
typedef struct { int32_t W, N, NW, NE; } nbhd;

static inline nbhd get_nbhd(const cm_rows *r, uint32_t x, uint32_t y, uint32_t w)
{
    nbhd n;
    const int32_t *cur = r->val[y & 1];
    const int32_t *up = y >= 1 ? r->val[(y + 1) & 1] : NULL;
    if (up) {
        n.N = up[x];
        n.NW = x ? up[x - 1] : n.N;
        n.NE = x + 1 < w ? up[x + 1] : n.N;
        n.W = x ? cur[x - 1] : n.N;
    } else {
        n.W = x ? cur[x - 1] : 0;
        n.N = n.NW = n.NE = n.W;
    }
    return n;
}

static vdm_status cm_run(cm_state *st)
{
    const vdm_subimage *g = st->g;
    const uint32_t w = g->width, h = g->height;
    const unsigned nch = g->nch;
    const int32_t maxv = (int32_t)g->maxval;

    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            int32_t ref_res = 0;
            if (st->tw) {
                const uint32_t t = (y / st->th) * st->ntx + x / st->tw;
                st->enc = st->tenc ? &st->tenc[t] : NULL;
                st->dec = st->tdec && st->tuse[t] ? &st->tdec[t] : NULL;
            }
            for (unsigned k = 0; k < nch; k++) {
                const unsigned c = st->order[k];
                cm_rows *R = &st->rows[k];
                cm_ctx *C = &st->ctx[k];
                const nbhd n = get_nbhd(R, x, y, w);

                int32_t pred[NPRED_MAX];
                unsigned np = NPRED_BASE;
                pred[0] = n.W + n.N - n.NW;
                pred[1] = n.W;
                pred[2] = n.N;
                pred[3] = n.W + n.NE - n.N;
                pred[4] = (n.W + n.NE + 1) >> 1;        /* both >= 0 */
                if (st->has_ref[k]) {
                    const cm_rows *F = &st->rows[0];
                    const nbhd f = get_nbhd(F, x, y, w);
                    const int32_t rv = F->val[y & 1][x];
                    pred[5] = n.W + (rv - f.W);
                    pred[6] = n.N + (rv - f.N);
                    pred[7] = n.W + n.N - n.NW + (rv - (f.W + f.N - f.NW));
                    np = NPRED_BASE + NPRED_REF;
                    if (k == 2 && g->rgb) {
                        const cm_rows *F2 = &st->rows[1];
                        const nbhd f2 = get_nbhd(F2, x, y, w);
                        const int32_t rv2 = F2->val[y & 1][x];
                        pred[8] = n.W + (rv2 - f2.W);
                        pred[9] = n.N + (rv2 - f2.N);
                        np = NPRED_MAX;
                    }
                }
                for (unsigned i = 0; i < np; i++) pred[i] = vdm_cm_clampi(pred[i], 0, maxv);

                /* blend by 1/(local error + 4)^2 */
                const uint32_t *pe_up = y ? R->perr[(y + 1) & 1] : NULL;
                const uint32_t *pe_cur = R->perr[y & 1];
                int64_t num = 0, den = 0;
                uint64_t emin = UINT64_MAX;   /* smallest local error */
                for (unsigned i = 0; i < np; i++) {
                    uint64_t e = 0;
                    if (x) e += 2u * pe_cur[(x - 1) * NPRED_MAX + i];
                    if (pe_up) {
                        e += 2u * pe_up[x * NPRED_MAX + i];
                        if (x) e += pe_up[(x - 1) * NPRED_MAX + i];
                        if (x + 1 < w) e += pe_up[(x + 1) * NPRED_MAX + i];
                    }
                    int64_t wt = WEIGHT_ONE / (int64_t)((e + 4) * (e + 4));
                    if (wt < 1) wt = 1;
                    if (e < emin) emin = e;
                    num += wt * pred[i];
                    den += wt;
                }
                const int32_t P = vdm_cm_clampi(vdm_cm_floordiv(num + den / 2, den), 0, maxv);

                /* context: neighbours' residual magnitudes */
                const int32_t *res_up = y ? R->res[(y + 1) & 1] : NULL;
                int32_t *res_cur = R->res[y & 1];
                int32_t rW = x ? res_cur[x - 1] : 0;
                int32_t rN = res_up ? res_up[x] : 0;
                int32_t rNW = (res_up && x) ? res_up[x - 1] : 0;
                int32_t rNE = (res_up && x + 1 < w) ? res_up[x + 1] : 0;
                uint32_t act = 2u * (uint32_t)abs(rW) + 2u * (uint32_t)abs(rN) +
                               (uint32_t)abs(rNW) + (uint32_t)abs(rNE);
                if (st->has_ref[k]) act += 2u * (uint32_t)abs(ref_res);
                /* plus the best predictor's local error (emin < 2^20) */
                act = (2u * act + 4u * (uint32_t)emin) >> 2;
                const unsigned q = vdm_cm_quant_activity(act);
                /* sign context: signs of the W residual and of the N residual
                 * (for R and B: of G's residual at this pixel instead) */
                const int32_t sN = st->has_ref[k] ? ref_res : rN;
                const unsigned sctx = (unsigned)((rW > 0) - (rW < 0) + 1) * 3u +
                                      (unsigned)((sN > 0) - (sN < 0) + 1);

                /* code the residual r = v - P, v in [0, maxv] */
                const size_t pix = (size_t)y * w + x;
                int32_t v = st->dec ? 0 : (int32_t)vdm_sub_get(g, pix, c);
                int32_t r = v - P;
                const int32_t amax_pos = maxv - P, amax_neg = P;
                if (maxv > 0) {
                    int nz = cbit(st, &C->zero[q], r != 0);
                    if (nz) {
                        int neg;
                        if (amax_neg == 0) neg = 0;
                        else if (amax_pos == 0) neg = 1;
                        else neg = cbit(st, &C->sign[q][sctx], r < 0);
                        const uint32_t amax = (uint32_t)(neg ? amax_neg : amax_pos);
                        const unsigned emax = vdm_cm_bitlen(amax) - 1;   /* largest exponent */
                        uint32_t a = (uint32_t)(r < 0 ? -r : r);
                        unsigned e = st->dec ? 0 : vdm_cm_bitlen(a) - 1;
                        unsigned ee = 0;
                        while (ee < emax && cbit(st, &C->expo[q][ee], e > ee)) ee++;
                        e = ee;
                        uint32_t m = 1;
                        for (int j = (int)e - 1; j >= 0; j--) {
                            int b = (int)((a >> j) & 1u);
                            vdm_rc_prob *pp = (j == (int)e - 1) ? &C->mant_hi[q][e]
                                                                : &C->mant_lo[e][j];
                            b = cbit(st, pp, b);
                            m = (m << 1) | (uint32_t)b;
                        }
                        if (m > amax) return VDM_ERR_CORRUPT;   /* only a corrupt stream */
                        r = neg ? -(int32_t)m : (int32_t)m;
                    } else {
                        r = 0;
                    }
                }
                v = P + r;
                if (st->dec) vdm_sub_put(g, pix, c, (uint32_t)v);

                R->val[y & 1][x] = v;
                res_cur[x] = r;
                uint32_t *pe = &R->perr[y & 1][x * NPRED_MAX];
                for (unsigned i = 0; i < np; i++) pe[i] = (uint32_t)abs(pred[i] - v);
                if (k == 0) ref_res = r;
            }
        }
        if (!st->tw && st->dec && st->dec->overrun) return VDM_ERR_CORRUPT;
        if (!st->tw && st->enc && st->enc->oom) return VDM_ERR_NOMEM;
        if (g->progress && (y & 31) == 31 && g->progress(g->progress_user, (double)(y + 1) / h)) return VDM_ERR_CANCELLED;
    }
    return VDM_OK;
}

static vdm_status cm_setup(cm_state *st, const vdm_subimage *g)
{
    memset(st, 0, sizeof *st);
    st->g = g;
    if (g->nch < 1 || g->nch > 4 || g->maxval > 65535 || (g->rgb && g->nch < 3) ||
        g->width == 0 || g->height == 0 || !g->data || g->stride < 1 || g->stride > 4)
        return VDM_ERR_ARG;
    for (unsigned c = 0; c < g->nch; c++)
        if (g->chan[c] >= g->stride) return VDM_ERR_ARG;
    unsigned k = 0;
    if (g->rgb) {
        st->order[k++] = 1;
        st->order[k++] = 0;
        st->order[k++] = 2;
        st->has_ref[1] = st->has_ref[2] = 1;
        for (unsigned c = 3; c < g->nch; c++) st->order[k++] = c;
    } else {
        for (unsigned c = 0; c < g->nch; c++) st->order[k++] = c;
    }
    st->ctx = malloc(sizeof(cm_ctx) * g->nch);
    if (!st->ctx) return VDM_ERR_NOMEM;
    vdm_rc_prob init = VDM_RC_PROB_INIT;
    vdm_rc_prob *pp = (vdm_rc_prob *)(void *)st->ctx;   /* cm_ctx is only probabilities */
    size_t nprob = sizeof(cm_ctx) * g->nch / sizeof(vdm_rc_prob);
    for (size_t i = 0; i < nprob; i++) pp[i] = init;
    for (unsigned c = 0; c < g->nch; c++)
        if (!rows_alloc(&st->rows[c], g->width)) return VDM_ERR_NOMEM;
    return VDM_OK;
}

static void cm_teardown(cm_state *st)
{
    for (unsigned c = 0; c < 4; c++) rows_free(&st->rows[c]);
    free(st->ctx);
}

/* Payload: u8 flags (bit 0 = rgb coding order), 3 reserved bytes, then the
 * range coder's bytes (cm_common.h). */
vdm_status vdm_cm2_encode(const vdm_subimage *g, vdm_buf *out)
{
    VDM_RETURN_IF(!g || !out, VDM_ERR_ARG);
    cm_state st;
    vdm_status rc = cm_setup(&st, g);
    vdm_rc_enc enc;
    vdm_rc_enc_init(&enc);
    if (rc == VDM_OK) {
        st.enc = &enc;
        rc = cm_run(&st);
    }
    cm_teardown(&st);
    return vdm_cm_payload_done(g, &enc, out, rc);
}

vdm_status vdm_cm2_decode(const vdm_subimage *g0, const uint8_t *in, size_t n)
{
    VDM_RETURN_IF(!g0 || (!in && n), VDM_ERR_ARG);
    vdm_subimage g;
    vdm_rc_dec dec;
    VDM_FORWARD(vdm_cm_payload_open(g0, in, n, &g, &dec));
    cm_state st;
    vdm_status rc = cm_setup(&st, &g);
    if (rc == VDM_OK) {
        st.dec = &dec;
        rc = cm_run(&st);
    }
    cm_teardown(&st);
    return vdm_cm_payload_check(&dec, rc);
}

/* ---- tile mode: one pass, one state; tile t's samples coded into tile t's
 * stream, every other sample only observed (the state updated as if coded) */

vdm_status vdm_cm2_tiles_encode(const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *out)
{
    uint64_t nt;
    VDM_FORWARD(vdm_cm_tiles_count(g, tw, th, &nt));
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    cm_state st;
    vdm_status rc = cm_setup(&st, g);
    vdm_rc_enc *enc = rc == VDM_OK ? vdm_cm_tiles_enc_new(nt) : NULL;
    if (rc == VDM_OK && !enc) rc = VDM_ERR_NOMEM;
    if (rc == VDM_OK) {
        st.tw = tw;
        st.th = th;
        st.ntx = (g->width + tw - 1) / tw;
        st.tenc = enc;
        rc = cm_run(&st);
    }
    cm_teardown(&st);
    return vdm_cm_tiles_enc_done(enc, nt, out, rc);
}

vdm_status vdm_cm2_tiles_decode(const vdm_subimage *g, uint32_t tw, uint32_t th,
                                const uint8_t *const *in, const size_t *n)
{
    uint64_t nt;
    VDM_FORWARD(vdm_cm_tiles_count(g, tw, th, &nt));
    VDM_RETURN_IF(!in || !n, VDM_ERR_ARG);
    cm_state st;
    vdm_status rc = cm_setup(&st, g);
    vdm_rc_dec *dec = NULL;
    uint8_t *use = NULL;
    if (rc == VDM_OK) rc = vdm_cm_tiles_dec_new(in, n, nt, &dec, &use);
    if (rc == VDM_OK) {
        st.tw = tw;
        st.th = th;
        st.ntx = (g->width + tw - 1) / tw;
        st.tdec = dec;
        st.tuse = use;
        rc = cm_run(&st);
    }
    cm_teardown(&st);
    return vdm_cm_tiles_dec_done(dec, use, nt, rc);
}
