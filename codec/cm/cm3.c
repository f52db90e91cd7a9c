/* cm3.c — classical method 3 (CM3): context mixing with least-squares
 * prediction (format-spec/vdz.md §8b is the normative text).  Same
 * sub-image conventions as method 2 (cm2.c / classical.h).
 *
 * Per sample (raster order; channels of a pixel in coding order G, R, B, rest
 * when rgb, else 0..n-1), all state per coding position k:
 *   1. predictors: the 5 (+3 from G, +2 more from R for B) simple predictors
 *      of cm2.c, 2 NLMS predictors and one least-squares (OLS)
 *      predictor over a 2-D exponentially weighted causal window;
 *   2. blend by 1/(local error + 4)^2 (the OLS predictor's local error scaled
 *      by 6/16), kept in 1/8 units, plus a bias correction (mean of the
 *      blend's past errors in a small context);
 *   3. residual binarised as in cm2.c (zero, sign, unary exponent,
 *      mantissa); each binary decision's probability is a logistic mix of 7
 *      adaptive counters chosen by 7 contexts, refined by an APM.
 *   The OLS normal equations are accumulated with sample weight
 *   1 / ((2 + |OLS error at that sample|) * (1 + e_ols / 8)), e_ols the OLS
 *   predictor's local error (unscaled), with a ridge term of 3.0; a second
 *   bias-correction table keyed by (OLS - blend, activity) is averaged with
 *   the first.
 * Encoder and decoder run the same function (cm_run).
 *
 * Exactness: everything is integer except the OLS predictor, which uses IEEE
 * binary64 with a fixed operation order (+ - * / sqrt, all correctly rounded).
 * It is bit-exact across machines provided the compiler neither contracts
 * (a*b+c -> fma) nor reassociates: build with -ffp-contract=off, without
 * -ffast-math, and with SSE2 (not x87) floating point on 32-bit x86. */
#include "codec/cm/classical.h"
#include "codec/cm/rangecoder.h"
#include "codec/cm/cm_common.h"
#include "common/detmath.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- predictors ---------------------------------------------------------- */
#define NPRED_BASE 5
#define NPRED_REF 3
#define NPRED_REF2 2
#define NLMS_K 2                       /* NLMS predictors */
#define NPRED_SIDE 4                   /* with side information: z / alpha, xhat, xhat
                                          corrected by W's and by N's error */
#define NIN_SIDE 6                     /* OLS inputs: z, xhat, 2 causal, 2 non-causal xhat gradients */
#define NPRED_MAX (NPRED_BASE + NPRED_REF + NPRED_REF2 + NPRED_SIDE + NLMS_K + 1)
#define NIN_NLMS_MAX 17                /* NLMS inputs (also the first OLS inputs) */
#define NIN_MAX (NIN_NLMS_MAX + NIN_SIDE)  /* OLS inputs */
#define OLS_T (NIN_MAX * (NIN_MAX + 1) / 2 + NIN_MAX)
#define WEIGHT_ONE ((int64_t)1 << 40)
#define BLEND_OFS 4
#define OLS_ERR_SCALE 6                /* /16 */
static const int32_t nlms_mu[NLMS_K] = { 160, 24 };   /* /1024 */
#define NLMS_EPS 16
#define OLS_DECAY 0.8                  /* horizontal and vertical, per pixel */
#define OLS_NU 3.0                     /* ridge term */
#define OLS_WK 2.0                     /* sample weight 1 / (OLS_WK + |error|) ... */
#define OLS_LV 8.0                     /* ... / (1 + OLS local error / OLS_LV) */

/* ---- context model ------------------------------------------------------- */
#define NQ 40
#define NODE_ZERO 0
#define NODE_SIGN 1
#define NODE_EXP 2      /* + ee, 0..16 */
#define NODE_MHI 19     /* + e, 1..17: first mantissa bit */
#define NODE_M2 37      /* + e, 2..17: second mantissa bit */
#define NODE_MLO 55     /* + j, 0..15: other mantissa bits, by position */
#define NNODE 72
#define NM 7            /* context models */
#define NM_MAX (NM + 1) /* + the side-information model */
#define NIN (NM + 1)    /* mixer inputs: the models + a constant */
#define NIN_MAX_MIX (NM_MAX + 2)  /* with side: + the posterior expert */
#define COUNT_LIMIT 1023
#define MIX_LR 24
#define MIX_INIT 19661  /* 0.3 in 16.16 */
#define SIDE_W_INIT 65536  /* 1.0: the posterior expert starts trusted */
#define MIX_WMAX (1 << 24) /* weights are kept in +-256.0 (never reached in practice) */
#define APM_RATE 7
#define NAPMC 17     /* APM contexts per node: sq17((OLS - final prediction) / 2) */
#define NBC (NQ * 27)   /* bias contexts */
#define BIAS_HALVE 256

static const int32_t model_size[NM_MAX] = {
    16 * NQ,            /* 0: predictor spread x activity */
    NQ * 81,            /* 1: activity x sq9(rW) x sq9(rN) */
    17 * NQ,            /* 2: sq17((OLS - final prediction) / 2) x activity */
    17 * 9 * NQ,        /* 3: R,B: sq17(G res) x sq9(R res, B only) x activity;
                              others: sq9(rNW) x sq9(rNE) x activity */
    16 * NQ,            /* 4: top 4 bits of the prediction x activity */
    8 * NQ,             /* 5: fraction (1/8) of the prediction x activity */
    NQ,                 /* 6: bucket of the smallest predictor local error */
    17 * 17,            /* 7 (side only): sq17(z - prediction) x trust bucket of z */
};

/* ---- integer logistic helpers --------------------------------------------- */
/* squash_tab[i] = round(65536 / (1 + exp(-(i - 16) / 2))) */
static const int32_t squash_tab[33] = {
    22, 36, 60, 98, 162, 267, 439, 720, 1179, 1921, 3108, 4971, 7812, 11955, 17625, 24743,
    32768, 40793, 47911, 53581, 57724, 60565, 62428, 63615, 64357, 64816, 65097, 65269,
    65374, 65438, 65476, 65500, 65514 };

/* d: logit in 1/256 units, clamped to +-2047; result: P(1) in 1/65536 */
static inline int32_t squash(int32_t d)
{
    if (d > 2047) d = 2047;
    if (d < -2047) d = -2047;
    const int32_t x = d + 2048, i = x >> 7, f = x & 127;
    return squash_tab[i] + (((squash_tab[i + 1] - squash_tab[i]) * f) >> 7);
}

/* stretch[j] (j = p >> 4): the smallest d with squash(d) >> 4 >= j, or 2047;
 * rec[n] = floor(131072 / (2n + 3)) ~ 65536 / (n + 1.5).  Built per coder
 * (no shared mutable state: several coders may run at once). */
typedef struct { int16_t stretch[4096]; int32_t rec[COUNT_LIMIT + 1]; } cm3_tabs;

static void init_tabs(cm3_tabs *T)
{
    int pi = 0;
    for (int d = -2047; d <= 2047; d++) {
        const int v = squash(d) >> 4;
        for (int j = pi; j <= v; j++) T->stretch[j] = (int16_t)d;
        pi = v + 1;
    }
    for (int j = pi; j < 4096; j++) T->stretch[j] = 2047;
    for (int n = 0; n <= COUNT_LIMIT; n++) T->rec[n] = 131072 / (2 * n + 3);
}

/* ---- state ---------------------------------------------------------------- */
typedef struct { uint16_t p, n; } counter;   /* p = P(bit == 1) in 1/65536; n = count */

typedef struct {
    counter *t[NM_MAX];     /* model_size[m] * NNODE */
    int32_t w[NNODE][NIN_MAX_MIX];  /* mixer weights, 16.16 */
    uint16_t *apm;          /* NNODE * NAPMC * 33 */
    int32_t bias[NBC][2];   /* sum (1/8 units), count */
    int32_t bias2[17 * NQ][2];  /* the same, context sq17((op8 - Pf) / 2) x q */
    int32_t eabs[NQ][2];    /* side only: sum |8 v - Pc|, count (the prior's scale) */
} chan_model;

typedef struct {
    int32_t *val[3];        /* sample rows y%3 */
    int32_t *res[2];        /* residual rows y%2 */
    uint32_t *perr[2];      /* predictor abs errors, rows y%2, width*NPRED_MAX */
    int32_t lw[NLMS_K][NIN_MAX];   /* NLMS weights, 1/2^14 */
    unsigned nl;            /* inputs of NLMS for this channel */
    unsigned nlo;           /* inputs of OLS: nl, + 2 with side information */
    double *cacc;           /* OLS: per column, sum over rows above of decay^dy * products */
    double *hacc;           /* OLS: cacc filtered horizontally (decay^|dx|), this row */
    double cur[OLS_T];      /* OLS: current row, left of x, decay^dx */
    double ow[NIN_MAX];     /* OLS weights (kept when the solve fails) */
} cm_rows;

typedef struct {
    const vdm_subimage *g;
    vdm_rc_enc *enc;
    vdm_rc_dec *dec;
    unsigned order[4];
    int has_ref[4];
    cm_rows rows[4];
    chan_model *cm[4];
    uint32_t tw, th, ntx;   /* tile mode */
    vdm_rc_enc *tenc;
    vdm_rc_dec *tdec;
    const uint8_t *tuse;
    chan_model *M;          /* current sample: model and context offsets */
    int32_t base[NM_MAX];
    int32_t asel;
    cm3_tabs *tab;
    /* side information (cm_side.h); nm models, nmix mixer inputs */
    const vdm_cm_side *side;
    int nm, nmix;
    int32_t side_in;        /* the posterior expert's stretch for this decision */
    int32_t plo, phi;       /* posterior window of the current sample */
    double pcum[258];       /* pcum[v - plo + 1] = posterior mass of plo..v */
} cm_state;

/* Code (or decode, or only observe) one binary decision at node `node`. */
static int cbit(cm_state *st, unsigned node, int bit)
{
    chan_model *M = st->M;
    counter *c[NM_MAX];
    int32_t x[NIN_MAX_MIX];
    int32_t *w = M->w[node];
    int64_t dot = 0;
    const int nm = st->nm, nmix = st->nmix;
    for (int m = 0; m < nm; m++) {
        c[m] = &M->t[m][st->base[m] + (int32_t)node];
        x[m] = st->tab->stretch[c[m]->p >> 4];
        dot += (int64_t)w[m] * x[m];
    }
    if (st->side) {
        x[nm] = st->side_in;
        dot += (int64_t)w[nm] * x[nm];
    }
    x[nmix - 1] = 256;
    dot += (int64_t)w[nmix - 1] * 256;
    int32_t d = (int32_t)(dot >> 16);
    if (d > 2047) d = 2047;
    if (d < -2047) d = -2047;
    const int32_t pm = squash(d);
    uint16_t *a = &M->apm[((uint32_t)st->asel + node * NAPMC) * 33];
    const int32_t ai = (d + 2048) >> 7, af = (d + 2048) & 127;
    const int32_t pa = (a[ai] * (128 - af) + a[ai + 1] * af) >> 7;
    int32_t p = (pm + pa) >> 1;
    if (p < 32) p = 32;
    if (p > 65504) p = 65504;
    const uint32_t p0 = 65536u - (uint32_t)p;
    if (st->enc) vdm_rc_encode_p0(st->enc, p0, bit);
    else if (st->dec) bit = vdm_rc_decode_p0(st->dec, p0);

    const int32_t target = bit ? 65535 : 0;
    for (int m = 0; m < nm; m++) {
        counter *q = c[m];
        q->p = (uint16_t)(q->p + (int32_t)(((int64_t)(target - q->p) * st->tab->rec[q->n]) >> 16));
        if (q->n < COUNT_LIMIT) q->n++;
    }
    const int32_t err = (((bit << 16) - pm) >> 4) * MIX_LR;
    for (int i = 0; i < nmix; i++) w[i] = vdm_cm_clampi((int64_t)w[i] + ((x[i] * err) >> 16), -MIX_WMAX, MIX_WMAX);
    a[ai] = (uint16_t)(a[ai] + (((target - a[ai]) * (128 - af)) >> (7 + APM_RATE)));
    a[ai + 1] = (uint16_t)(a[ai + 1] + (((target - a[ai + 1]) * af) >> (7 + APM_RATE)));
    return bit;
}

/* ---- small helpers -------------------------------------------------------- */

/* signed, 9 levels: 0, +-1, +-2..3, +-4..7, +-8.. */
static inline unsigned sq9(int32_t r)
{
    const uint32_t a = (uint32_t)(r < 0 ? -r : r);
    unsigned b = vdm_cm_bitlen(a);
    if (b > 4) b = 4;
    return r < 0 ? 4 - b : 4 + b;
}

/* signed, 17 levels: 0, 1, 2, 3..4, 5..7, 8..11, 12..19, 20..39, 40.. */
static inline unsigned sq17(int32_t r)
{
    const uint32_t a = (uint32_t)(r < 0 ? -r : r);
    const unsigned b = a == 0 ? 0 : a == 1 ? 1 : a == 2 ? 2 : a <= 4 ? 3 : a <= 7 ? 4 :
                       a <= 11 ? 5 : a <= 19 ? 6 : a <= 39 ? 7 : 8;
    return r < 0 ? 8 - b : 8 + b;
}


/* floor of a double of magnitude < 2^62, exactly (no libm) */
static inline int64_t floor_i64(double t)
{
    int64_t i = (int64_t)t;   /* truncates towards zero */
    return (double)i > t ? i - 1 : i;
}

static inline int sgn3(int32_t v) { return (v > 0) - (v < 0) + 1; }

typedef struct { int32_t W, N, NW, NE, WW, NN, NNE, NWW, NNW, NEE; } nbhd;

/* Causal neighbourhood with the border rule of cm2.c, extended:
 * WW = W, NWW = NW, NEE = NE where outside; before row 2: NN = N, NNE = NE,
 * NNW = NW; inside row 2+: NNE = NN, NNW = NN at the right / left edge. */
static inline nbhd get_nbhd(const cm_rows *r, uint32_t x, uint32_t y, uint32_t w)
{
    nbhd n;
    const int32_t *cur = r->val[y % 3];
    const int32_t *up = y >= 1 ? r->val[(y + 2) % 3] : NULL;
    const int32_t *up2 = y >= 2 ? r->val[(y + 1) % 3] : NULL;
    if (up) {
        n.N = up[x];
        n.NW = x ? up[x - 1] : n.N;
        n.NE = x + 1 < w ? up[x + 1] : n.N;
        n.W = x ? cur[x - 1] : n.N;
    } else {
        n.W = x ? cur[x - 1] : 0;
        n.N = n.NW = n.NE = n.W;
    }
    n.WW = x >= 2 ? cur[x - 2] : n.W;
    n.NWW = (up && x >= 2) ? up[x - 2] : n.NW;
    n.NEE = (up && x + 2 < w) ? up[x + 2] : n.NE;
    if (up2) {
        n.NN = up2[x];
        n.NNE = x + 1 < w ? up2[x + 1] : n.NN;
        n.NNW = x ? up2[x - 1] : n.NN;
    } else {
        n.NN = n.N;
        n.NNE = n.NE;
        n.NNW = n.NW;
    }
    return n;
}

/* OLS accumulator entry (i, j), j <= i < nl, or b[j] with i == nl */
static inline unsigned ols_idx(unsigned nl, unsigned i, unsigned j)
{
    return i < nl ? i * (i + 1) / 2 + j : nl * (nl + 1) / 2 + j;
}

/* Start of row: hacc[x] = sum over x' of decay^|x - x'| * cacc[x']; cur = 0. */
static void ols_row_start(cm_rows *R, uint32_t w)
{
    const unsigned T = R->nlo * (R->nlo + 1) / 2 + R->nlo;
    double run[OLS_T];
    memset(R->cur, 0, sizeof R->cur);
    memset(run, 0, sizeof run);
    for (uint32_t x = 0; x < w; x++) {
        const double *c = &R->cacc[(size_t)x * OLS_T];
        double *hh = &R->hacc[(size_t)x * OLS_T];
        for (unsigned t = 0; t < T; t++) { run[t] = OLS_DECAY * run[t] + c[t]; hh[t] = run[t]; }
    }
    memset(run, 0, sizeof run);
    for (uint32_t x = w; x-- > 0;) {
        const double *c = &R->cacc[(size_t)x * OLS_T];
        double *hh = &R->hacc[(size_t)x * OLS_T];
        for (unsigned t = 0; t < T; t++) { hh[t] += OLS_DECAY * run[t]; run[t] = OLS_DECAY * run[t] + c[t]; }
    }
}

/* Solve (A + nu I) ow = b, A = hacc[x] + cur, by Cholesky; on a non-positive
 * pivot keep the previous weights.  Returns sum ow[i] * in[i]. */
static double ols_predict(cm_rows *R, uint32_t x, const int32_t *in)
{
    const unsigned nl = R->nlo;
    const double *hh = &R->hacc[(size_t)x * OLS_T];
    double L[NIN_MAX][NIN_MAX], z[NIN_MAX];
    int ok = 1;
    for (unsigned i = 0; i < nl && ok; i++) {
        for (unsigned j = 0; j <= i; j++) {
            const unsigned o = ols_idx(nl, i, j);
            double sum = hh[o] + R->cur[o];
            if (i == j) sum = sum + OLS_NU;
            for (unsigned t = 0; t < j; t++) sum = sum - L[i][t] * L[j][t];
            if (i == j) {
                if (!(sum > 1e-9)) { ok = 0; break; }
                L[i][i] = vdm_sqrt_d(sum);
            } else {
                L[i][j] = sum / L[j][j];
            }
        }
    }
    if (ok) {
        for (unsigned i = 0; i < nl; i++) {
            const unsigned o = ols_idx(nl, nl, i);
            double sum = hh[o] + R->cur[o];
            for (unsigned t = 0; t < i; t++) sum = sum - L[i][t] * z[t];
            z[i] = sum / L[i][i];
        }
        for (unsigned i = nl; i-- > 0;) {
            double sum = z[i];
            for (unsigned t = i + 1; t < nl; t++) sum = sum - L[t][i] * R->ow[t];
            R->ow[i] = sum / L[i][i];
        }
    }
    double s = 0;
    for (unsigned i = 0; i < nl; i++) s = s + R->ow[i] * (double)in[i];
    return s;
}

/* After the sample: cur = decay*cur + products; cacc[x] = decay*cacc[x] + products. */
static void ols_update(cm_rows *R, uint32_t x, const int32_t *in, int32_t target, double sw)
{
    const unsigned nl = R->nlo;
    double *c = &R->cacc[(size_t)x * OLS_T];
    unsigned o = 0;
    for (unsigned i = 0; i < nl; i++)
        for (unsigned j = 0; j <= i; j++, o++) {
            const double pr = (double)in[i] * (double)in[j] * sw;
            R->cur[o] = OLS_DECAY * R->cur[o] + pr;
            c[o] = OLS_DECAY * c[o] + pr;
        }
    for (unsigned i = 0; i < nl; i++, o++) {
        const double pr = (double)in[i] * (double)target * sw;
        R->cur[o] = OLS_DECAY * R->cur[o] + pr;
        c[o] = OLS_DECAY * c[o] + pr;
    }
}

/* ---- side information: the posterior of one sample ------------------------- */
/* p(v) ~ Laplace(v; mu, b) * N(vz; v, s^2) over v = 0..maxv (<= 255): the
 * causal prediction as the prior, the sample's own latent as the likelihood.
 * Kept (as prefix sums) on the window where its log is within 24 nats of
 * the peak; everything in binary64 with + - * / and vdm_exp, fixed order. */
static void side_posterior(cm_state *st, double mu, double b, double vz, double s, int32_t maxv)
{
    double lp[256], lmax = -1e300;
    const double ib = 1.0 / b, i2s = 0.5 / (s * s);
    for (int32_t v = 0; v <= maxv; v++) {
        const double a = (double)v - mu, d = (double)v - vz;
        lp[v] = -(a < 0 ? -a : a) * ib - d * d * i2s;
        if (lp[v] > lmax) lmax = lp[v];
    }
    int32_t lo = 0, hi = maxv;
    while (lo < hi && lp[lo] < lmax - 24.0) lo++;
    while (hi > lo && lp[hi] < lmax - 24.0) hi--;
    st->plo = lo;
    st->phi = hi;
    double c = 0.0;
    st->pcum[0] = 0.0;
    for (int32_t v = lo; v <= hi; v++) {
        c = c + vdm_exp(lp[v] - lmax);
        st->pcum[v - lo + 1] = c;
    }
}

/* posterior mass of the samples a..b */
static double side_mass(const cm_state *st, int64_t a, int64_t b)
{
    if (a < st->plo) a = st->plo;
    if (b > st->phi) b = st->phi;
    return b < a ? 0.0 : st->pcum[b - st->plo + 1] - st->pcum[a - st->plo];
}

/* The posterior expert's input for a decision between sample sets of mass
 * m1 (bit 1) and m0: its log odds in the mixer's 1/256 units. */
static void side_set(cm_state *st, double m1, double m0)
{
    const double e = st->pcum[st->phi - st->plo + 1] * 1e-6;
    double l = vdm_log((m1 + e) / (m0 + e)) * 256.0;
    if (l > 2047.0) l = 2047.0;
    if (l < -2047.0) l = -2047.0;
    st->side_in = (int32_t)floor_i64(l + 0.5);
}

/* the same for residual magnitudes lo1..hi1 (bit 1) against lo0..hi0 on the
 * side `neg` of the prediction P */
static void side_set_abs(cm_state *st, int32_t P, int neg, int64_t lo1, int64_t hi1, int64_t lo0, int64_t hi0)
{
    if (neg) side_set(st, side_mass(st, P - hi1, P - lo1), side_mass(st, P - hi0, P - lo0));
    else side_set(st, side_mass(st, P + lo1, P + hi1), side_mass(st, P + lo0, P + hi0));
}

/* a data value (2v - 255) / 255 back in sample units, kept finite */
static inline double side_px(float xv)
{
    double v = ((double)xv * 255.0 + 255.0) * 0.5;
    return !(v > -1e5) ? -1e5 : v > 1e5 ? 1e5 : v;
}

static inline int32_t side_clampi(double v)
{
    return v > 1e6 ? 1000000 : v < -1e6 ? -1000000 : (int32_t)floor_i64(v + 0.5);
}

/* ---- the coder ------------------------------------------------------------ */
static vdm_status cm_run(cm_state *st)
{
    const vdm_subimage *g = st->g;
    const uint32_t w = g->width, h = g->height;
    const unsigned nch = g->nch;
    const int32_t maxv = (int32_t)g->maxval;
    const vdm_cm_side *side = st->side;
    /* the latent's noise in sample units: sigma / alpha * 255 / 2 */
    const double s_px = side ? (double)side->sigma / (double)side->alpha * 127.5 : 0.0;

    for (uint32_t y = 0; y < h; y++) {
        for (unsigned k = 0; k < nch; k++) ols_row_start(&st->rows[k], w);
        for (uint32_t x = 0; x < w; x++) {
            int32_t ref_res = 0, ref2_res = 0;
            if (st->tw) {
                const uint32_t t = (y / st->th) * st->ntx + x / st->tw;
                st->enc = st->tenc ? &st->tenc[t] : NULL;
                st->dec = st->tdec && st->tuse[t] ? &st->tdec[t] : NULL;
            }
            for (unsigned k = 0; k < nch; k++) {
                const unsigned c = st->order[k];
                cm_rows *R = &st->rows[k];
                chan_model *M = st->cm[k];
                st->M = M;
                const nbhd n = get_nbhd(R, x, y, w);

                /* simple predictors and the NLMS / OLS inputs (differences
                 * from W; target v - W) */
                int32_t pred[NPRED_MAX], in[NIN_MAX];
                unsigned np = NPRED_BASE, nl = 0;
                pred[0] = n.W + n.N - n.NW;
                pred[1] = n.W;
                pred[2] = n.N;
                pred[3] = n.W + n.NE - n.N;
                pred[4] = (n.W + n.NE + 1) >> 1;
                in[nl++] = n.N - n.W;
                in[nl++] = n.NW - n.W;
                in[nl++] = n.NE - n.W;
                in[nl++] = n.WW - n.W;
                in[nl++] = n.NN - n.W;
                in[nl++] = n.NNE - n.W;
                in[nl++] = n.NWW - n.W;
                in[nl++] = n.NNW - n.W;
                in[nl++] = n.NEE - n.W;
                if (st->has_ref[k]) {
                    const cm_rows *F = &st->rows[0];
                    const nbhd f = get_nbhd(F, x, y, w);
                    const int32_t rv = F->val[y % 3][x];
                    pred[5] = n.W + (rv - f.W);
                    pred[6] = n.N + (rv - f.N);
                    pred[7] = n.W + n.N - n.NW + (rv - (f.W + f.N - f.NW));
                    np = NPRED_BASE + NPRED_REF;
                    in[nl++] = rv - f.W;
                    in[nl++] = rv - f.N;
                    in[nl++] = rv - f.NE;
                    in[nl++] = rv - f.NW;
                    in[nl++] = rv - f.WW;
                    in[nl++] = rv - f.NN;
                    if (k == 2) {
                        const cm_rows *F2 = &st->rows[1];
                        const nbhd f2 = get_nbhd(F2, x, y, w);
                        const int32_t rv2 = F2->val[y % 3][x];
                        pred[8] = n.W + (rv2 - f2.W);
                        pred[9] = n.N + (rv2 - f2.N);
                        np = NPRED_BASE + NPRED_REF + NPRED_REF2;
                        in[nl++] = rv2 - f2.W;
                        in[nl++] = rv2 - f2.N;
                    }
                }
                /* side information: predictors and OLS inputs (1/8 units) */
                unsigned nlo = nl;
                double vz = 0.0, vxc = -1.0;
                if (side) {
                    const size_t si = ((size_t)y * w + x) * 3 + c;
                    vz = ((double)side->z[si] / (double)side->alpha * 255.0 + 255.0) * 0.5;
                    if (!(vz > -1e5)) vz = -1e5;   /* also NaN */
                    if (vz > 1e5) vz = 1e5;
                    pred[np++] = side_clampi(vz);
                    in[nlo++] = side_clampi(8.0 * (vz - (double)n.W));
                    if (side->xhat) {
                        /* xhat here and at the 4 neighbours (edge: here) */
                        const float *xh = side->xhat;
                        const size_t row = (size_t)w * 3;
                        const double xc = side_px(xh[si]);
                        const double xw = x ? side_px(xh[si - 3]) : xc;
                        const double xn = y ? side_px(xh[si - row]) : xc;
                        const double xe = x + 1 < w ? side_px(xh[si + 3]) : xc;
                        const double xs = y + 1 < h ? side_px(xh[si + row]) : xc;
                        pred[np++] = side_clampi(xc);
                        pred[np++] = side_clampi(xc + (double)(n.W - side_clampi(xw)));
                        pred[np++] = side_clampi(xc + (double)(n.N - side_clampi(xn)));
                        in[nlo++] = side_clampi(8.0 * (xc - (double)n.W));
                        in[nlo++] = side_clampi(8.0 * (xc - xw));
                        in[nlo++] = side_clampi(8.0 * (xc - xn) + 8.0 * (double)(n.N - n.W));
                        in[nlo++] = side_clampi(8.0 * (xe - xc));
                        in[nlo++] = side_clampi(8.0 * (xs - xc));
                        vxc = xc;
                    }
                }
                /* R->nl == nl and R->nlo == nlo always (fixed per channel at setup) */
                int64_t lp8[NLMS_K];
                for (int li = 0; li < NLMS_K; li++) {
                    int64_t s = 0;
                    for (unsigned i = 0; i < nl; i++) s += (int64_t)R->lw[li][i] * in[i];
                    lp8[li] = (int64_t)n.W * 8 + vdm_cm_floordiv(s, 1 << 11);
                    pred[np++] = (int32_t)vdm_cm_floordiv(lp8[li] + 4, 8);
                }
                double sp = ols_predict(R, x, in);
                if (sp != sp) sp = 0;           /* NaN guard (not expected: pivots >= OLS_NU) */
                if (sp > 1e6) sp = 1e6;
                if (sp < -1e6) sp = -1e6;
                const int64_t op8 = (int64_t)n.W * 8 + floor_i64(sp * 8.0 + 0.5);
                pred[np++] = (int32_t)vdm_cm_floordiv(op8 + 4, 8);
                for (unsigned i = 0; i < np; i++) pred[i] = vdm_cm_clampi(pred[i], 0, maxv);

                /* blend by 1/(local error + 4)^2, in 1/8 units */
                const uint32_t *pe_up = y ? R->perr[(y + 1) & 1] : NULL;
                const uint32_t *pe_cur = R->perr[y & 1];
                int64_t num = 0, den = 0;
                uint64_t emin = UINT64_MAX, eraw = 0;
                for (unsigned i = 0; i < np; i++) {
                    uint64_t e = 0;
                    if (x) e += 2u * pe_cur[(x - 1) * NPRED_MAX + i];
                    if (pe_up) {
                        e += 2u * pe_up[x * NPRED_MAX + i];
                        if (x) e += pe_up[(x - 1) * NPRED_MAX + i];
                        if (x + 1 < w) e += pe_up[(x + 1) * NPRED_MAX + i];
                    }
                    if (i == np - 1) { eraw = e; e = e * OLS_ERR_SCALE / 16; }
                    if (e < emin) emin = e;
                    const int64_t eo = (int64_t)e + BLEND_OFS;
                    int64_t wt = WEIGHT_ONE / (eo * eo);
                    if (wt < 1) wt = 1;
                    num += wt * pred[i];
                    den += wt;
                }
                const int64_t Pf = vdm_cm_floordiv(num * 8 + den / 2, den);

                /* neighbours' residuals and activity */
                const int32_t *res_up = y ? R->res[(y + 1) & 1] : NULL;
                int32_t *res_cur = R->res[y & 1];
                const int32_t rW = x ? res_cur[x - 1] : 0;
                const int32_t rN = res_up ? res_up[x] : 0;
                const int32_t rNW = (res_up && x) ? res_up[x - 1] : 0;
                const int32_t rNE = (res_up && x + 1 < w) ? res_up[x + 1] : 0;
                uint32_t act = 2u * (uint32_t)abs(rW) + 2u * (uint32_t)abs(rN) +
                               (uint32_t)abs(rNW) + (uint32_t)abs(rNE);
                if (st->has_ref[k]) act += 2u * (uint32_t)abs(ref_res);
                act = (2u * act + 4u * (uint32_t)emin) >> 2;
                const unsigned q = vdm_cm_quant_activity(act);

                /* bias correction: context (q, sign rW, sign rN, sign of G's residual) */
                const int sW = sgn3(rW), sN = sgn3(rN), sR = st->has_ref[k] ? sgn3(ref_res) : 1;
                int32_t *bc = M->bias[((q * 3 + (unsigned)sW) * 3 + (unsigned)sN) * 3 + (unsigned)sR];
                int32_t corr = bc[1] > 0 ? (int32_t)vdm_cm_floordiv((int64_t)bc[0] + bc[1] / 2, bc[1]) : 0;
                /* a second table keyed by the OLS - blend difference; the two averaged */
                int32_t *bc2 = M->bias2[sq17((int32_t)vdm_cm_clampi((op8 - Pf) / 2, -65536, 65536)) * NQ + q];
                {
                    const int32_t corr2 = bc2[1] > 0 ? (int32_t)vdm_cm_floordiv((int64_t)bc2[0] + bc2[1] / 2, bc2[1]) : 0;
                    corr = (int32_t)vdm_cm_floordiv((int64_t)corr + corr2 + 1, 2);
                }
                const int64_t Pc = vdm_cm_clampi(Pf + corr, 0, maxv * 8);
                const int32_t P = (int32_t)((Pc + 4) >> 3);
                const unsigned frac = (unsigned)((Pc + 4) & 7);

                /* side information: the posterior given the prediction
                 * (Laplace, scale from its past errors) and z; a context of
                 * their disagreement and of how far z is to be trusted */
                int32_t *ea = M->eabs[q];
                int32_t ctx[NM_MAX];
                if (side) {
                    double b = ea[1] > 0 ? (double)ea[0] / (double)ea[1] / 8.0 : 4.0;
                    if (b < 0.3) b = 0.3;
                    side_posterior(st, (double)Pc / 8.0, b, vz, s_px, maxv);
                    /* with xhat, its disagreement (z alone is the weaker signal) */
                    const int32_t dz = side_clampi(((vxc >= -0.5 ? vxc : vz) * 8.0 - (double)Pc) / 2.0);
                    unsigned tb = vdm_cm_quant_activity((uint32_t)side_clampi(s_px * 8.0 / b));
                    if (tb > 16) tb = 16;
                    ctx[7] = (int32_t)(sq17(dz) * 17 + tb);
                }

                /* contexts of the 7 models */
                {
                    int32_t pmn = pred[0], pmx = pred[0];
                    for (unsigned i = 1; i < np; i++) {
                        if (pred[i] < pmn) pmn = pred[i];
                        if (pred[i] > pmx) pmx = pred[i];
                    }
                    const unsigned sp4 = vdm_cm_quant_activity((uint32_t)(pmx - pmn));
                    ctx[0] = (int32_t)((sp4 > 15 ? 15 : sp4) * NQ + q);
                }
                ctx[1] = (int32_t)(q * 81 + sq9(rW) * 9 + sq9(rN));
                ctx[2] = (int32_t)(sq17((int32_t)vdm_cm_clampi((op8 - Pc) / 2, -65536, 65536)) * NQ + q);
                if (!st->has_ref[k])
                    ctx[3] = (int32_t)((sq9(rNW) * 9 + sq9(rNE)) * NQ + q);
                else if (k == 1)
                    ctx[3] = (int32_t)((sq17(ref_res) * 9 + 4) * NQ + q);
                else
                    ctx[3] = (int32_t)((sq17(ref_res) * 9 + sq9(ref2_res)) * NQ + q);
                ctx[4] = (int32_t)(((uint32_t)P * 16u / ((uint32_t)maxv + 1u)) * NQ + q);
                ctx[5] = (int32_t)(frac * NQ + q);
                ctx[6] = (int32_t)vdm_cm_quant_activity((uint32_t)emin);
                for (int m = 0; m < st->nm; m++) st->base[m] = ctx[m] * NNODE;
                st->asel = (int32_t)sq17((int32_t)vdm_cm_clampi((op8 - Pc) / 2, -65536, 65536));

                /* code r = v - P */
                const size_t pix = (size_t)y * w + x;
                int32_t v = st->dec ? 0 : (int32_t)vdm_sub_get(g, pix, c);
                int32_t r = v - P;
                const int32_t amax_pos = maxv - P, amax_neg = P;
                if (maxv > 0) {
                    if (side) {
                        const double m0 = side_mass(st, P, P);
                        side_set(st, st->pcum[st->phi - st->plo + 1] - m0, m0);
                    }
                    if (cbit(st, NODE_ZERO, r != 0)) {
                        int neg;
                        if (amax_neg == 0) neg = 0;
                        else if (amax_pos == 0) neg = 1;
                        else {
                            if (side) side_set(st, side_mass(st, 0, P - 1), side_mass(st, P + 1, maxv));
                            neg = cbit(st, NODE_SIGN, r < 0);
                        }
                        const uint32_t amax = (uint32_t)(neg ? amax_neg : amax_pos);
                        const unsigned emax = vdm_cm_bitlen(amax) - 1;
                        const uint32_t a = (uint32_t)(r < 0 ? -r : r);
                        const unsigned e0 = st->dec ? 0 : vdm_cm_bitlen(a) - 1;
                        unsigned e = 0;
                        while (e < emax) {
                            if (side) side_set_abs(st, P, neg, (int64_t)2 << e, amax, (int64_t)1 << e, ((int64_t)2 << e) - 1);
                            if (!cbit(st, NODE_EXP + e, e0 > e)) break;
                            e++;
                        }
                        uint32_t m = 1;
                        for (int j = (int)e - 1; j >= 0; j--) {
                            const unsigned node = j == (int)e - 1 ? NODE_MHI + e
                                                : j == (int)e - 2 ? NODE_M2 + e
                                                : NODE_MLO + (unsigned)j;
                            if (side)
                                side_set_abs(st, P, neg, (int64_t)(2 * m + 1) << j, ((int64_t)(2 * m + 2) << j) - 1,
                                             (int64_t)(2 * m) << j, ((int64_t)(2 * m + 1) << j) - 1);
                            m = (m << 1) | (uint32_t)cbit(st, node, (int)((a >> j) & 1u));
                        }
                        if (m > amax) return VDM_ERR_CORRUPT;
                        r = neg ? -(int32_t)m : (int32_t)m;
                    } else {
                        r = 0;
                    }
                }
                v = P + r;
                if (st->dec) vdm_sub_put(g, pix, c, (uint32_t)v);

                /* updates */
                bc[0] += (int32_t)((int64_t)v * 8 - Pf);
                if (++bc[1] >= BIAS_HALVE) {
                    bc[0] = (int32_t)vdm_cm_floordiv(bc[0], 2);
                    bc[1] >>= 1;
                }
                if (side) {
                    const int64_t ae = (int64_t)v * 8 - Pc;
                    ea[0] += (int32_t)(ae < 0 ? -ae : ae);
                    if (++ea[1] >= BIAS_HALVE) {
                        ea[0] >>= 1;
                        ea[1] >>= 1;
                    }
                }
                bc2[0] += (int32_t)((int64_t)v * 8 - Pf);
                if (++bc2[1] >= BIAS_HALVE) {
                    bc2[0] = (int32_t)vdm_cm_floordiv(bc2[0], 2);
                    bc2[1] >>= 1;
                }
                R->val[y % 3][x] = v;
                res_cur[x] = r;
                uint32_t *pe = &R->perr[y & 1][x * NPRED_MAX];
                for (unsigned i = 0; i < np; i++) pe[i] = (uint32_t)abs(pred[i] - v);
                {
                    int64_t en = NLMS_EPS;
                    for (unsigned i = 0; i < nl; i++) en += (int64_t)in[i] * in[i];
                    for (int li = 0; li < NLMS_K; li++) {
                        /* w += mu * err * in / en  (w in 1/2^14, err in 1/8) */
                        const int64_t f = vdm_cm_floordiv(((int64_t)v * 8 - lp8[li]) * nlms_mu[li] * (1 << 14), en);
                        for (unsigned i = 0; i < nl; i++)
                            R->lw[li][i] = vdm_cm_clampi(R->lw[li][i] + vdm_cm_floordiv(f * in[i], 1 << 13),
                                                  -(1 << 20), 1 << 20);
                    }
                }
                {
                    /* OLS sample weight 1 / (2 + |OLS error|) / (1 + e_ols / 8) */
                    const int64_t oe = (int64_t)v * 8 - op8;
                    double sw = 1.0 / (OLS_WK + (double)(oe < 0 ? -oe : oe) / 8.0);
                    sw = sw / (1.0 + (double)eraw / OLS_LV);
                    ols_update(R, x, in, v - n.W, sw);
                }
                if (k == 0) ref_res = r;
                if (k == 1) ref2_res = r;
            }
        }
        if (!st->tw && st->dec && st->dec->overrun) return VDM_ERR_CORRUPT;
        if (!st->tw && st->enc && st->enc->oom) return VDM_ERR_NOMEM;
        if (g->progress && (y & 31) == 31 && g->progress(g->progress_user, (double)(y + 1) / h)) return VDM_ERR_CANCELLED;
    }
    return VDM_OK;
}

/* ---- setup ---------------------------------------------------------------- */
static void rows_free(cm_rows *r)
{
    for (int i = 0; i < 3; i++) free(r->val[i]);
    for (int i = 0; i < 2; i++) { free(r->res[i]); free(r->perr[i]); }
    free(r->cacc);
    free(r->hacc);
}

static int rows_alloc(cm_rows *r, uint32_t w, unsigned nl, unsigned nlo)
{
    memset(r, 0, sizeof *r);
    r->nl = nl;
    r->nlo = nlo;
    int ok = 1;
    for (int i = 0; i < 3; i++) ok &= (r->val[i] = calloc(w, sizeof(int32_t))) != NULL;
    for (int i = 0; i < 2; i++) {
        ok &= (r->res[i] = calloc(w, sizeof(int32_t))) != NULL;
        ok &= (r->perr[i] = calloc((size_t)w * NPRED_MAX, sizeof(uint32_t))) != NULL;
    }
    ok &= (r->cacc = calloc((size_t)w * OLS_T, sizeof(double))) != NULL;
    ok &= (r->hacc = calloc((size_t)w * OLS_T, sizeof(double))) != NULL;
    return ok;
}

static void model_free(chan_model *M)
{
    if (!M) return;
    for (int m = 0; m < NM_MAX; m++) free(M->t[m]);
    free(M->apm);
    free(M);
}

static chan_model *model_alloc(int nm, int nmix)
{
    chan_model *M = calloc(1, sizeof *M);
    if (!M) return NULL;
    for (int m = 0; m < nm; m++) {
        const size_t n = (size_t)model_size[m] * NNODE;
        if (!(M->t[m] = malloc(n * sizeof(counter)))) { model_free(M); return NULL; }
        for (size_t i = 0; i < n; i++) { M->t[m][i].p = 32768; M->t[m][i].n = 0; }
    }
    if (!(M->apm = malloc(sizeof(uint16_t) * NNODE * NAPMC * 33))) { model_free(M); return NULL; }
    for (int s = 0; s < NNODE; s++)
        for (int i = 0; i < nmix; i++) M->w[s][i] = i == nmix - 1 ? 0 : MIX_INIT;
    if (nmix > NIN)   /* with side information: the posterior expert starts trusted */
        for (int s = 0; s < NNODE; s++) M->w[s][nm] = SIDE_W_INIT;
    for (int i = 0; i < NNODE * NAPMC; i++)
        for (int j = 0; j < 33; j++) {
            const int32_t v = squash((j - 16) * 128);
            M->apm[i * 33 + j] = (uint16_t)(v > 65535 ? 65535 : v);
        }
    return M;
}

static vdm_status cm_setup(cm_state *st, const vdm_subimage *g, const vdm_cm_side *side)
{
    memset(st, 0, sizeof *st);
    st->g = g;
    st->side = side;
    st->nm = side ? NM + 1 : NM;
    st->nmix = side ? NM + 3 : NIN;
    if (g->nch < 1 || g->nch > 4 || g->maxval > 65535 || (g->rgb && g->nch < 3) ||
        g->width == 0 || g->width > VDM_CM3_MAX_WIDTH || g->height == 0 || !g->data ||
        g->stride < 1 || g->stride > 4)
        return VDM_ERR_ARG;
    if (side && (!g->rgb || g->nch != 3 || g->bit_depth != 8 || g->maxval != 255 || !side->z ||
                 !(side->alpha > 0.0f) || !(side->sigma > 0.0f) ||
                 !(side->sigma / side->alpha < 1e6f)))
        return VDM_ERR_ARG;
    if (!(st->tab = malloc(sizeof *st->tab))) return VDM_ERR_NOMEM;
    init_tabs(st->tab);
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
    for (unsigned c = 0; c < g->nch; c++) {
        const unsigned nl = 9 + (st->has_ref[c] ? 6 : 0) + (g->rgb && c == 2 ? 2 : 0);
        const unsigned nlo = nl + (side ? (side->xhat ? 1u + 5u : 1u) : 0u);
        if (!(st->cm[c] = model_alloc(st->nm, st->nmix))) return VDM_ERR_NOMEM;
        if (!rows_alloc(&st->rows[c], g->width, nl, nlo)) return VDM_ERR_NOMEM;
    }
    return VDM_OK;
}

static void cm_teardown(cm_state *st)
{
    for (unsigned c = 0; c < 4; c++) { rows_free(&st->rows[c]); model_free(st->cm[c]); }
    free(st->tab);
}

/* Payload: u8 flags (bit 0 = rgb coding order), 3 reserved bytes, then the
 * range coder's bytes (cm_common.h). */
vdm_status vdm_cm3_encode(const vdm_subimage *g, vdm_buf *out)
{
    return vdm_cm3_encode_side(g, NULL, out);
}

vdm_status vdm_cm3_decode(const vdm_subimage *g0, const uint8_t *in, size_t n)
{
    return vdm_cm3_decode_side(g0, NULL, in, n);
}

vdm_status vdm_cm3_encode_side(const vdm_subimage *g, const vdm_cm_side *side, vdm_buf *out)
{
    VDM_RETURN_IF(!g || !out, VDM_ERR_ARG);
    cm_state st;
    vdm_status rc = cm_setup(&st, g, side);
    vdm_rc_enc enc;
    vdm_rc_enc_init(&enc);
    if (rc == VDM_OK) {
        st.enc = &enc;
        rc = cm_run(&st);
    }
    cm_teardown(&st);
    return vdm_cm_payload_done(g, &enc, out, rc);
}

vdm_status vdm_cm3_decode_side(const vdm_subimage *g0, const vdm_cm_side *side,
                               const uint8_t *in, size_t n)
{
    VDM_RETURN_IF(!g0 || (!in && n), VDM_ERR_ARG);
    vdm_subimage g;
    vdm_rc_dec dec;
    VDM_FORWARD(vdm_cm_payload_open(g0, in, n, &g, &dec));
    if (g.width > VDM_CM3_MAX_WIDTH) return VDM_ERR_CORRUPT;
    if (side && !g.rgb) return VDM_ERR_CORRUPT;
    cm_state st;
    vdm_status rc = cm_setup(&st, &g, side);
    if (rc == VDM_OK) {
        st.dec = &dec;
        rc = cm_run(&st);
    }
    cm_teardown(&st);
    return vdm_cm_payload_check(&dec, rc);
}

/* ---- tile mode: one pass, one state; tile t's samples coded into tile t's
 * stream, every other sample only observed (the state updated as if coded) */

vdm_status vdm_cm3_tiles_encode(const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *out)
{
    uint64_t nt;
    VDM_FORWARD(vdm_cm_tiles_count(g, tw, th, &nt));
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    cm_state st;
    vdm_status rc = cm_setup(&st, g, NULL);
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

vdm_status vdm_cm3_tiles_decode(const vdm_subimage *g, uint32_t tw, uint32_t th,
                                const uint8_t *const *in, const size_t *n)
{
    uint64_t nt;
    VDM_FORWARD(vdm_cm_tiles_count(g, tw, th, &nt));
    VDM_RETURN_IF(!in || !n, VDM_ERR_ARG);
    cm_state st;
    vdm_status rc = cm_setup(&st, g, NULL);
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
