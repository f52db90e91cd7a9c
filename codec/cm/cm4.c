/* cm4.c — method 4 (CM4), the classical context-mixing coder
 * (format-spec/vdz.md §8c is the normative text; cm4.h the interface).
 *
 * Per sample (raster order; channels of a pixel in coding order G, R, B, rest
 * when rgb, else 0..n-1), all state per coding position k:
 *   1. predictors: a bank of fixed predictors (gradients, 2nd-order
 *      extrapolations along rows, columns and diagonals, averages, the median
 *      edge detector), their cross-channel versions for R and B ("this
 *      channel's predictor + the reference's value - the reference's same
 *      predictor"), 2 NLMS predictors and 2 least-squares (OLS) predictors
 *      with different windows, inputs and forgetting factors (both see the
 *      already-coded channels of the pixel), plus the side information's
 *      predictors when given;
 *   2. blend by 1/(local error + 4)^2 in 1/8 units, bias-corrected in context
 *      (as method 3);
 *   3. residual binarised as method 3 (zero, sign, unary exponent, mantissa);
 *      each binary decision is modelled by method 3's 7 context models, plus
 *      one model per "bit predictor": the decision's threshold relative to
 *      each of several predictions (OLS, OLS2, NLMS, a cross-channel or
 *      median predictor, side information), so the coded bits are modelled
 *      against every prediction and not only the blend;
 *   4. two logistic mixers (weight sets selected by node, and by node x
 *      activity), averaged in the logistic domain, then two APMs (keyed by
 *      OLS - prediction and by activity), averaged with the mix.
 * Encoder and decoder run the same function (cm_run).
 *
 * CM5 (st->v5; vdm_cm5_*, method 5) solves the two OLS systems only at
 * even x (odd x predict with the weights of x - 1) and adds, per coding
 * position: 4 hashed context models (quantised neighbourhood shape around P,
 * intensity x activity, texture, cross-channel gradients; tables of 2^18
 * counters indexed by hash + node) whose counters feed the mixer through
 * state maps keyed by (node, count, probability); 2 "context-mean" bit
 * predictors (P + the mean error of P in a texture-pattern context and in a
 * shape context); a pair model (W's x N's bit-predictor bucket); a third
 * mixer (weight sets by sq9(rW), sq9(rN)) and a learned final mix of the
 * three; a third APM (texture pattern x q/4 x node class), the four
 * probabilities averaged.  Method 4's path is unchanged (st->v5 == 0).
 *
 * CM6 (st->v6, with st->v5; method 6) changes CM5 in five places: OLS 1
 * takes 4 more neighbours (WWW, NEEE, NNWW, NNEE) and a wider window
 * (decay 0.85), and is solved at every 4th x only; the activity also sums
 * the residuals two samples away (WW, NN); 4 more hashed context models
 * (second differences, intensity x residuals, gradients or the reference's
 * residual, a wider neighbourhood shape); and the hashed and pair counters
 * feed the mixers directly (no state maps).
 *
 * CM7 (st->v7, with st->v5 and st->v6; method 7) changes CM6's mixing and
 * three windows: six mixers instead of three (mixer 1's weight sets by
 * node x where W and N lie around P; mixers 4-6 by node x where NE and NW
 * lie around P, by node x P's intensity x the signs of rW and rN, and by
 * node x the OLS bit predictor's bucket at this decision), their outputs
 * mixed by a learned final mix of six at a faster rate (6, was 2); each
 * mixer weight row's rate starts at 90 and falls to 30 (was 24 fixed) with
 * its updates (mrate); the hashed and pair counters' inputs are scaled by
 * their confidence (n + 1) / (n + 9) (hconf); the blend's local error adds
 * NWW, NEE and WW; the activity adds the residuals at NWW, NEE, NNW and
 * NNE and a recursive residual energy (eng rows, ENG_W); OLS 1's window is
 * wider (decay 0.88).  The mixers are ~4 % of CM6's time, so six cost
 * little; the mixing is where CM6 still had something to give.
 *
 * CM8 (st->v8, with v5, v6 and v7; method 8) changes CM7's prediction in
 * four places: a stacking OLS (rows' `stk`, NSTK = 8 inputs: OLS 1, OLS 2,
 * NLMS 0 and 1, the cross-channel gradient, W, N and W + N - NW, each in
 * 1/8 units minus the blend) fitted in its own 2-D window (decay 0.85,
 * ridge 1, sample weight 1 / (2 + |error| / 8), solved at even x) to the
 * sample minus the blend, its prediction averaged with the blend; the OLS
 * and NLMS predictions enter the blend at their 1/8 resolution (not
 * rounded to whole values); OLS 2's window is wider (decay 0.6); and for
 * RGB the activity adds the other two colours' residuals at W and N.  The
 * stacking fit is what moved: mixing, contexts and counters were at their
 * noise floor in this session's tuning (benchmarks/RESULTS.md, session 10).
 *
 * CM9 (st->v9, with v5 ... v8; method 9) changes the order and what R and
 * B see.  For rgb (st->lag) G is coded two rows and R one row ahead of B
 * (and alpha): pass s codes G's row s, R's row s - 1, then B's (and the
 * rest's) row s - 2 (cm_run's groups), so everything a sample reads is
 * coded, and R and B see the colours before them below and to the right:
 * OLS 1 (and NLMS) of R and B take their samples E, S, SE and SW (minus
 * theirs at x, y) instead of method 6's further neighbours, with a wider
 * window (0.91); the activity takes their residuals there too (and no
 * longer the residuals of the colours coded after); the blend's local
 * error of R's and B's fixed predictors adds G's error of the same
 * predictor at (x, y).  For every image the first position's OLS 1 (and
 * NLMS) also sees NNN, NWWW, NNNW and NNNE, its OLS 2 NWW, NNW and NEE.
 * Rows kept: NVROW of values, NRROW of residuals, NPROW of predictor
 * errors (G is read two rows behind its own).
 *
 * Exactness: as method 3 — integers, except the OLS solves and the side
 * information's likelihoods, which use IEEE binary64 in a fixed operation
 * order (+ - * / sqrt; exp is vdm_exp, our own, no libm).  Build with
 * -ffp-contract=off, without -ffast-math, SSE2 floating point on x86-32.
 * The mixers' AVX2 twin (cm4_mix_avx2.c, chosen at run time) computes the
 * same integers as their scalar code (cm4_mix.h), so the bytes do not
 * depend on the CPU. */
#include "codec/cm/cm4.h"
#include "codec/cm/rangecoder.h"
#include "codec/cm/cm_common.h"
#include "codec/cm/cm4_mix.h"
#include "common/detmath.h"

#include <stdatomic.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- predictors ---------------------------------------------------------- */
#define NPRED_MAX 40
#define NLMS_K 2                       /* NLMS predictors */
#define NOLS 2                         /* OLS predictors */
#define NSTK 8                         /* method 8: the stacking OLS's inputs */
/* Rows kept per coding position, as rings indexed by y % size.  The least
 * that works: values 5 (method 9's B reads G's rows y - 2 .. y + 1 when G
 * has coded row y + 2; position 0 reads its own row y - 3), residuals 4
 * (B reads G's rows y - 1 .. y + 1 when G has coded y + 2), predictor
 * errors 3 (B reads G's row y) -- 4 kept.  VDM_CM4_RING_EXTRA widens every
 * ring: tests/cm4_wide.c builds this file again with 3 more rows, and
 * test_cm4 checks that it writes the same bytes (a ring too small would
 * read a row already overwritten, and the two would differ). */
#ifndef VDM_CM4_RING_EXTRA
#define VDM_CM4_RING_EXTRA 0
#endif
#define NVROW (5 + VDM_CM4_RING_EXTRA)  /* rows of values */
#define NRROW (4 + VDM_CM4_RING_EXTRA)  /* rows of residuals */
#define NPROW (4 + VDM_CM4_RING_EXTRA)  /* rows of predictor errors */
#define NIN_MAX 25                     /* NLMS / OLS inputs */
#define OLS_T (NIN_MAX * (NIN_MAX + 1) / 2 + NIN_MAX)
#define WEIGHT_ONE ((int64_t)1 << 40)
#define BLEND_OFS 4
#define OLS_ERR_SCALE 6                /* /16 */
static const int32_t nlms_mu[NLMS_K] = { 160, 24 };   /* /1024 */
#define NLMS_EPS 16
static const double ols_decay[NOLS] = { 0.8, 0.5 };
#define OLS1_DECAY_V6 0.85             /* method 6's OLS 1: a wider window */
#define OLS1_PERIOD_V6 4               /* method 6 solves OLS 1 at x % 4 == 0 */
#define OLS1_DECAY_V7 0.88             /* method 7's OLS 1: wider still */
#define OLS2_DECAY_V8 0.6              /* method 8's OLS 2: a wider window */
#define OLS1_DECAY_V9_REF 0.91         /* method 9's OLS 1 of R and B (rgb): wider still */
#define STK_DECAY 0.85                 /* method 8's stacking OLS: window and ridge */
#define STK_NU 1.0
#define ENG_W 96                       /* method 7: weight of the residual energy in the activity, /256 */
static const double ols_nu[NOLS] = { 3.0, 1.0 };
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
#define NM_FIX 7        /* method 3's 7 context models */
#define NBP_PLAIN 9     /* bit predictors without side information */
#define NBP_MAX 11      /* bit predictors */
#define NBB 17          /* bit-predictor buckets */
#define NBQ 10          /* activity classes (q >> 2): mixer 2 weight sets */
#define NSIDE_M 1       /* side-information context model (Gaussian probability x noise level) */
#define NM4_MAX (NM_FIX + NBP_MAX + NSIDE_M)   /* models of method 4 */
/* method 5 (CM5): hashed context models and bit-predictor pair models */
#define NH_MAX 8       /* hashed context models (method 5: 4, method 6: 8) */
#define NH_V5 4
#define H_BITS 18       /* a hashed model's table: 2^H_BITS counters */
#define H_MASK ((1u << H_BITS) - 1u)
#define NXBP_MAX 2      /* context-mean bit predictors */
#define XB_SIZE 8192    /* entries of a context-mean table */
#define NPAIR_MAX 1     /* bit-predictor pair models: NBB * NBB * NNODE counters */
#define NM_MAX (NM4_MAX + NXBP_MAX + NH_MAX + NPAIR_MAX)
#define NIN_MIX (NM_MAX + 2)   /* mixer inputs: the models, the side likelihood, a constant */
/* A mixer's weight row: NIN_MIX rounded up to whole 8-lane vectors, rows
 * 64-byte aligned (cm4_mix.h: the SIMD twin reads and writes whole
 * vectors; a 128-byte row is exactly two cache lines). */
#define MIX_ROW VDM_CM4_MIX_ROW
_Static_assert(MIX_ROW >= NIN_MIX && MIX_ROW % 8 == 0, "mixer rows hold NIN_MIX inputs in whole vectors");
#define COUNT_LIMIT 1023
#define MIX_LR 24       /* every mixer's rate (method 7: from 90 down to MIX_LR_V7) */
#define MIX_LR_V7 30
#define NMIX_MAX VDM_CM4_MIX_NMAX   /* mixers (method 7: 6) */
#define MIX_INIT 5000   /* ~0.076 in 16.16: many inputs, start humble */
#define MIX_WMAX VDM_CM4_MIX_WMAX   /* (1 << 24) */
#define APM_RATE 7
#define NAPMC 17        /* APM 1 contexts: sq17((OLS - P) / 2) */
#define NAPM2C 40       /* APM 2 contexts: (q >> 2) * 4 + OLS bit-predictor bucket * 4 / 17 */
#define NBC (NQ * 27)
#define BIAS_HALVE 256

static const int32_t model_size_fix[NM_FIX] = {
    16 * NQ, NQ * 81, 17 * NQ, 17 * 9 * NQ, 16 * NQ, 8 * NQ, NQ,
};
#define BP_MODEL_SIZE NBB
#define SIDE_MODEL_SIZE (16 * 12)

/* ---- integer logistic helpers (as method 3) -------------------------------- */
static const int32_t squash_tab[33] = {
    22, 36, 60, 98, 162, 267, 439, 720, 1179, 1921, 3108, 4971, 7812, 11955, 17625, 24743,
    32768, 40793, 47911, 53581, 57724, 60565, 62428, 63615, 64357, 64816, 65097, 65269,
    65374, 65438, 65476, 65500, 65514 };

static inline int32_t squash(int32_t d)
{
    if (d > 2047) d = 2047;
    if (d < -2047) d = -2047;
    const int32_t x = d + 2048, i = x >> 7, f = x & 127;
    return squash_tab[i] + (((squash_tab[i + 1] - squash_tab[i]) * f) >> 7);
}

/* blend weights WEIGHT_ONE / e^2 are tabulated for e < NBLENDW (the same
 * quotients as the division: a table only saves time) */
#define NBLENDW 2048
/* method 7: a hashed or pair counter's input is scaled by its confidence
 * HCONF[n] = floor(2^16 (n + 1) / (n + 1 + HCONF_K)); a mixer's rate is
 * MIX_LR_V7 + floor(MRATE_B / (MRATE_N0 + n)) after n updates of its
 * weight row (MIX_LR_V7 from n = MRATE_TAB on) */
#define HCONF_K 8
#define MRATE_B 1920
#define MRATE_N0 32
#define MRATE_TAB 2048
typedef struct {
    int16_t stretch[4096];
    int32_t rec[COUNT_LIMIT + 1];
    int64_t blendw[NBLENDW];
    int32_t hconf[256];          /* counts of the hashed and pair models: 0..H_LIMIT */
    int32_t mrate[MRATE_TAB];
} cm4_tabs;

static void init_tabs(cm4_tabs *T)
{
    int pi = 0;
    for (int d = -2047; d <= 2047; d++) {
        const int v = squash(d) >> 4;
        for (int j = pi; j <= v; j++) T->stretch[j] = (int16_t)d;
        pi = v + 1;
    }
    for (int j = pi; j < 4096; j++) T->stretch[j] = 2047;
    for (int n = 0; n <= COUNT_LIMIT; n++) T->rec[n] = 131072 / (2 * n + 3);
    T->blendw[0] = WEIGHT_ONE;
    for (int64_t e = 1; e < NBLENDW; e++) T->blendw[e] = WEIGHT_ONE / (e * e);
    for (int32_t n = 0; n < 256; n++) T->hconf[n] = (int32_t)(((int64_t)65536 * (n + 1)) / (n + 1 + HCONF_K));
    for (int32_t n = 0; n < MRATE_TAB; n++) T->mrate[n] = MIX_LR_V7 + MRATE_B / (MRATE_N0 + n);
}

/* ---- state ---------------------------------------------------------------- */
typedef struct { uint16_t p, n; } counter;

typedef struct {
    counter *t[NM4_MAX];         /* model size * NNODE */
    counter *ht[NH_MAX];         /* method 5: hashed models, 2^H_BITS */
    counter *pt[NPAIR_MAX];      /* method 5: pair models, NBB * NBB * NNODE */
    counter *xt[NXBP_MAX];       /* method 5: context-mean bit-predictor models, NBB * NNODE */
    int32_t *xb[NXBP_MAX];       /* method 5: context means (sum, count), 2 * XB_SIZE */
    _Alignas(64) int32_t w[NNODE][MIX_ROW];   /* mixer 1 (by node), 16.16 */
    int32_t *w2;                 /* mixer 2 (by q, node): NBQ * NNODE * MIX_ROW, 64-byte aligned */
    uint16_t *apm;               /* NNODE * NAPMC * 33 */
    uint16_t *apm2;              /* NNODE * NQ * 33 */
    int32_t *w3;                 /* method 5: mixer 3, NSEL3 * NNODE * MIX_ROW, 64-byte aligned */
    uint16_t *sm[NH_MAX + NPAIR_MAX];   /* method 5: state maps, NNODE * 16 * 32 */
    uint16_t *apm3;              /* method 5: APM 3, NA3 * 6 * 33 */
    int32_t wf[NNODE][NMIX_MAX]; /* method 5: final mix of mixers 1-3 (method 7: 1-6), 16.16 */
    int32_t *w1s;                /* method 7: mixer 1, NSEL_V7A * NNODE * MIX_ROW */
    int32_t *wx[3];              /* method 7: mixers 4-6, NSEL_V7A / NSEL_V7B / NBB * NNODE * MIX_ROW */
    uint16_t *wn[NMIX_MAX];      /* method 7: updates of each weight row of mixers 1-6 (its rate) */
    int32_t bias[NBC][2];
    int32_t bias2[17 * NQ][2];
} chan_model;

typedef struct {
    double decay, nu;
    unsigned nl;
    unsigned T;                  /* sums per column: nl (nl + 1) / 2 + nl */
    unsigned period;             /* solved at x % period == 0 only */
    double *cacc;                /* w * T: per column, the rows above (decayed) */
    double *hacc;                /* ceil(w / period) * T: at the solving columns, the 2-D window of the rows above */
    double cur[OLS_T];
    double ow[NIN_MAX];
} ols_t;

typedef struct {
    int32_t *val[NVROW];         /* rows y % NVROW */
    int32_t *res[NRROW];         /* rows y % NRROW */
    int32_t *eng[2];             /* method 7: residual energy, rows y % 2 */
    uint32_t *perr[NPROW];       /* rows y % NPROW, width*NPRED_MAX */
    int32_t lw[NLMS_K][NIN_MAX];
    unsigned nl;
    ols_t ols[NOLS];
    ols_t stk;                   /* method 8: the stacking OLS (NSTK inputs) */
} cm_rows;

typedef struct {
    const vdm_subimage *g;
    vdm_rc_enc *enc;
    vdm_rc_dec *dec;
    unsigned order[4];
    int has_ref[4];
    cm_rows rows[4];
    chan_model *cm[4];
    uint32_t tw, th, ntx;
    vdm_rc_enc *tenc;
    vdm_rc_enc *wenc;            /* with tenc: the whole image's encoder too (one pass, both streams) */
    vdm_rc_dec *tdec;
    const uint8_t *tuse;
    cm4_tabs *tab;
    /* the current sample */
    chan_model *M;
    unsigned nm;                 /* models in use */
    unsigned nbp;                /* bit predictors in use */
    int32_t base[NM_FIX];
    int32_t asel, b0;            /* APM 1 context; OLS bit-predictor bucket of this decision */
    int32_t bp8[NBP_MAX];        /* bit predictors - 8P, 1/8 units */
    int32_t bq;                  /* q >> 2 */
    int neg;                     /* sign known: 0 / 1 */
    uint32_t alo;                /* magnitude known >= alo (sign known) */
    /* side information */
    const vdm_cm_side *side;
    int use_z, use_xhat;
    double *lik;                 /* [maxval + 2]: prefix sums of the likelihood over v */
    int32_t P, maxv;
    int32_t nlev;                /* noise level class (0..15) */
    /* method 5 */
    int v5;
    int v6;                      /* method 6 (with v5) */
    int v7;                      /* method 7 (with v5, v6) */
    int v8;                      /* method 8 (with v5, v6, v7) */
    int v9;                      /* method 9 (with v5 ... v8) */
    int lag;                     /* method 9 and rgb: G coded two rows, R one row ahead of B */
    unsigned nh, npair;          /* hashed and pair models in use (0 in method 4) */
    uint32_t hb[NH_MAX];         /* hashed contexts of this sample */
    uint8_t hid[NH_MAX];         /* which hashed contexts */
    uint8_t pa[NPAIR_MAX], pb[NPAIR_MAX];
    int32_t msel3;               /* mixer 3's weight set */
    int32_t msel[3];             /* method 7: the weight sets of mixers 1, 4 and 5 */
    int32_t a3sel;               /* APM 3's context */
    unsigned nxbp;
    int32_t xbi[NXBP_MAX], xbp8[NXBP_MAX];
    uint8_t xid[NXBP_MAX];
    int mix_simd;                /* mixers: 1 the AVX2 twin, 0 the scalar code (same numbers) */
    int side_ref;                /* method 5: the side image is used as a reference image */
} cm_state;

/* method 5's pair models: bit predictors (by index) whose buckets are joined */
static const uint8_t pair_a[NPAIR_MAX] = { 5 };   /* W's bucket x N's bucket */
static const uint8_t pair_b[NPAIR_MAX] = { 6 };
#define H_LIMIT 255     /* count limit of the hashed models' counters */
#define MIXF_LR 2       /* final mix's rate */
#define MIXF_LR_V7 6    /* ... method 7's (6 mixers) */
#define NSEL_V7A 81     /* method 7's mixers 1 and 4: sq9(a - P) * 9 + sq9(b - P) */
#define NSEL_V7B 72     /* method 7's mixer 5: floor(8P / (maxval + 1)) * 9 + sign(rW) * 3 + sign(rN) */
#define NSEL3 81        /* mixer 3's weight sets: sq9(rW) * 9 + sq9(rN) */
/* method 7: weight sets of mixers 1-6 (mixers 2 and 3 as method 5's) */
static const size_t nsel_v7[NMIX_MAX] = { NSEL_V7A, NBQ, NSEL3, NSEL_V7A, NSEL_V7B, NBB };
#define SM_RATE 6       /* state maps' rate */
#define XB_HALVE 256    /* context means halve at this count */
#define A3_RATE 6       /* APM 3's rate */
#define NA3 2560        /* APM 3's contexts: texture pattern (256) x floor(q / 4) */

/* bucket of a prediction relative to a decision's threshold:
 * t = prediction - threshold (1/8 units), s8 = interval scale (1/8 units) */
static inline unsigned bp_bucket(int32_t t, int32_t s8)
{
    const uint32_t a = (uint32_t)(t < 0 ? -t : t);
    /* floor(4a / s8), in 32 bits where 4a fits -- always, in practice (the
     * bit predictors are clamped to +-2^24 and 8 * split <= 2^20): the same
     * quotient, and a 32-bit division is much cheaper than a 64-bit one on
     * many x86 cores (up to 13 of them per decision) */
    const uint32_t u = a < (1u << 30) ? a * 4u / (uint32_t)s8 : (uint32_t)(((uint64_t)a * 4) / (uint32_t)s8);
    unsigned b = vdm_cm_bitlen(u);
    if (b > 7) b = 7;
    return t < 0 ? 7 - b : 9 + b;    /* 0..7, 9..16 (8 unused) */
}

/* signed, 17 levels: 0, 1, 2, 3..4, 5..7, 8..11, 12..19, 20..39, 40.. */
static const uint8_t sq17_mag[41] = {
    0, 1, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6,    /* 0..19 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,    /* 20..39 */
    8 };
static inline unsigned sq17(int32_t r)
{
    const uint32_t a = (uint32_t)(r < 0 ? -r : r);
    /* a table, not a chain of tests: the chain's branches mispredict (cbit
     * asks for ~10 of these at the zero and sign nodes) */
    const unsigned b = sq17_mag[a < 40 ? a : 40];
    return r < 0 ? 8 - b : 8 + b;
}


static inline unsigned sq9(int32_t r)
{
    const uint32_t a = (uint32_t)(r < 0 ? -r : r);
    unsigned b = vdm_cm_bitlen(a);
    if (b > 4) b = 4;
    return r < 0 ? 4 - b : 4 + b;
}

/* Likelihood mass of the values v = P + s*a, a in [a0, a1] (s = -1 when neg). */
static inline double side_mass(const cm_state *st, int neg, int32_t a0, int32_t a1)
{
    int32_t v0, v1;
    if (neg) { v0 = st->P - a1; v1 = st->P - a0; }
    else { v0 = st->P + a0; v1 = st->P + a1; }
    if (v0 < 0) v0 = 0;
    if (v1 > st->maxv) v1 = st->maxv;
    if (v1 < v0) return 0.0;
    return st->lik[v1 + 1] - st->lik[v0];
}

/* a bit predictor's bucket at a decision (d = prediction - 8P, 1/8 units) */
static inline unsigned bp_ctx(const cm_state *st, unsigned node, uint32_t split, int32_t d)
{
    if (node == NODE_ZERO || node == NODE_SIGN) return sq17((int32_t)vdm_cm_clampi(d / 2, -65536, 65536));
    const int32_t ad = st->neg ? -d : d;
    const int32_t t = ad - (int32_t)(8 * split - 4);
    return bp_bucket(t, 8 * (int32_t)(split - st->alo));
}

/* ---- mixers: the scalar code and the dispatch to its SIMD twin ------------ */
/* The scalar code (vdm_cm4_mix_*_scalar, cm4_mix.h) is the definition;
 * cm4_mix_avx2.c computes the same numbers with whole vectors.  Rows are
 * MIX_ROW long, x is 0 from n on.  st->mix_simd is chosen once per coder
 * (cm_setup), so the branch is always predicted. */
static inline void mix_dot(const cm_state *st, const int32_t *x, unsigned n, int32_t *const *w, unsigned nw,
                           int64_t *dot)
{
#if VDM_CM4_HAVE_AVX2
    if (st->mix_simd) { vdm_cm4_mix_dot_avx2(x, n, (const int32_t *const *)w, nw, dot); return; }
#else
    (void)st;
#endif
    vdm_cm4_mix_dot_scalar(x, n, (const int32_t *const *)w, nw, dot);
}

static inline void mix_train(const cm_state *st, const int32_t *x, unsigned n, int32_t *const *w, const int32_t *err,
                             unsigned nw)
{
#if VDM_CM4_HAVE_AVX2
    if (st->mix_simd) { vdm_cm4_mix_train_avx2(x, n, w, err, nw); return; }
#else
    (void)st;
#endif
    vdm_cm4_mix_train_scalar(x, n, w, err, nw);
}

static atomic_int g_mix_cap = VDM_SIMD_AVX512;

vdm_simd_level vdm_cm4_simd_cap(vdm_simd_level max_level)
{
    return (vdm_simd_level)atomic_exchange(&g_mix_cap, (int)max_level);
}

vdm_simd_level vdm_cm4_simd_level(void)
{
    static atomic_int env_scalar = -1;   /* VDMZIP_CM_SCALAR, read once */
    int es = atomic_load(&env_scalar);
    if (es < 0) {
        const char *e = getenv("VDMZIP_CM_SCALAR");
        es = e && *e && strcmp(e, "0") != 0;
        atomic_store(&env_scalar, es);
    }
    const int cpu = (int)vdm_cpu_simd_level(), cap = atomic_load(&g_mix_cap);
    return VDM_CM4_HAVE_AVX2 && !es && cpu >= VDM_SIMD_AVX2 && cap >= VDM_SIMD_AVX2 ? VDM_SIMD_AVX2
                                                                                   : VDM_SIMD_SCALAR;
}

/* Code (or decode, or only observe) one binary decision at node `node`:
 * bit = 1 means "a >= split" for the magnitude decisions (a >= alo known),
 * r != 0 at the zero node, r < 0 at the sign node. */
static int cbit(cm_state *st, unsigned node, uint32_t split, int bit)
{
    chan_model *M = st->M;
    counter *c[NM_MAX];
    _Alignas(32) int32_t x[MIX_ROW];
    unsigned bb[NBP_MAX + NXBP_MAX];
    const unsigned nm = st->nm;
    unsigned m = 0;
    for (; m < NM_FIX; m++) c[m] = &M->t[m][st->base[m] + (int32_t)node];
    /* bit predictors: context relative to this decision's threshold */
    for (unsigned i = 0; i < st->nbp; i++, m++) {
        const unsigned b = bp_ctx(st, node, split, st->bp8[i]);
        if (i == 0) st->b0 = (int32_t)b;
        bb[i] = b;
        c[m] = &M->t[m][(int32_t)b * NNODE + (int32_t)node];
    }
    int32_t xs = 0;   /* side input */
    if (st->use_z) {
        double s1, s0;
        if (node == NODE_ZERO) {
            s0 = side_mass(st, 0, 0, 0);
            s1 = side_mass(st, 0, 1, 65535) + side_mass(st, 1, 1, 65535);
        } else if (node == NODE_SIGN) {
            s0 = side_mass(st, 0, 1, 65535);
            s1 = side_mass(st, 1, 1, 65535);
        } else {
            const uint32_t amax = (uint32_t)(st->neg ? st->P : st->maxv - st->P);
            s0 = side_mass(st, st->neg, (int32_t)st->alo, (int32_t)split - 1);
            s1 = side_mass(st, st->neg, (int32_t)split, (int32_t)amax);
        }
        int32_t p12 = 2048;
        const double tot = s0 + s1;
        if (tot > 1e-300) {
            const double f = s1 / tot * 4096.0;
            p12 = f < 1.0 ? 1 : f > 4095.0 ? 4095 : (int32_t)f;
        }
        xs = st->tab->stretch[p12];
        const int32_t sb = (xs + 2048) * 12 / 4096;
        c[m] = &M->t[m][(st->nlev * 12 + sb) * NNODE + (int32_t)node];
        m++;
    }
    for (unsigned j = 0; j < st->nxbp; j++, m++) {   /* method 5: context-mean bit predictors */
        const unsigned b = bp_ctx(st, node, split, st->xbp8[j]);
        bb[NBP_MAX + j] = b;
        c[m] = &M->xt[j][(int32_t)b * NNODE + (int32_t)node];
    }
    for (unsigned j = 0; j < st->nh; j++, m++) c[m] = &M->ht[j][(st->hb[j] + node) & H_MASK];
    for (unsigned j = 0; j < st->npair; j++, m++)
        c[m] = &M->pt[j][(bb[st->pa[j]] * NBB + bb[st->pb[j]]) * NNODE + node];
    /* the mixers' weight rows: mixer 1 (by node; method 7: by node x
     * msel[0]), mixer 2 (by node x activity class), method 5: mixer 3 (by
     * node x msel3), method 7: mixers 4-6 (by node x msel[1], msel[2] and
     * this decision's OLS bit-predictor bucket); from 3 mixers on, a
     * learned final mix of their outputs */
    int32_t *wr[NMIX_MAX];
    size_t ri[NMIX_MAX];         /* each row's index: weight set * NNODE + node */
    unsigned nmix = 0;
    ri[0] = (size_t)(st->v7 ? st->msel[0] : 0) * NNODE + node;
    ri[1] = (size_t)st->bq * NNODE + node;
    ri[2] = (size_t)st->msel3 * NNODE + node;
    wr[nmix++] = st->v7 ? &M->w1s[ri[0] * MIX_ROW] : M->w[node];
    wr[nmix++] = &M->w2[ri[1] * MIX_ROW];
    if (st->v5) wr[nmix++] = &M->w3[ri[2] * MIX_ROW];
    if (st->v7) {
        ri[3] = (size_t)st->msel[1] * NNODE + node;
        ri[4] = (size_t)st->msel[2] * NNODE + node;
        ri[5] = (size_t)st->b0 * NNODE + node;
        for (unsigned j = 3; j < 6; j++) wr[nmix++] = &M->wx[j - 3][ri[j] * MIX_ROW];
    }
    uint16_t *smp[NH_MAX + NPAIR_MAX];
    const unsigned nmv4 = nm - st->nh - st->npair;
    const int16_t *stretch = st->tab->stretch;
    for (unsigned i = 0; i < nmv4; i++) x[i] = stretch[c[i]->p >> 4];
    if (st->v7)   /* method 7: the hashed and pair counters scaled by their confidence */
        for (unsigned i = nmv4; i < nm; i++) x[i] = (stretch[c[i]->p >> 4] * st->tab->hconf[c[i]->n]) >> 16;
    else if (st->v6)   /* method 6: the hashed and pair counters as they are */
        for (unsigned i = nmv4; i < nm; i++) x[i] = stretch[c[i]->p >> 4];
    else for (unsigned i = nmv4; i < nm; i++) {   /* method 5: state map of (node, count, probability) */
        const unsigned n = c[i]->n;
        const unsigned nb = n < 12 ? n : n < 24 ? 12 : n < 64 ? 13 : n < 160 ? 14 : 15;
        uint16_t *sp = &M->sm[i - nmv4][(node * 16 + nb) * 32 + (c[i]->p >> 11)];
        smp[i - nmv4] = sp;
        x[i] = stretch[*sp >> 4];
    }
    const unsigned ni = nm, nx = ni + 2;
    x[ni] = xs;
    x[ni + 1] = 256;
    for (unsigned i = nx; i < MIX_ROW; i++) x[i] = 0;   /* the SIMD twin sums whole rows */
    int64_t dot[NMIX_MAX];
    mix_dot(st, x, nx, wr, nmix, dot);
    int32_t dm[NMIX_MAX], pmm[NMIX_MAX];
    for (unsigned j = 0; j < nmix; j++) {
        dm[j] = (int32_t)vdm_cm_clampi(dot[j] >> 16, -2047, 2047);
        pmm[j] = squash(dm[j]);
    }
    int32_t d = (dm[0] + dm[1]) >> 1;
    int32_t *wf = NULL;
    if (nmix > 2) {
        wf = M->wf[node];
        int64_t s = 0;
        for (unsigned j = 0; j < nmix; j++) s += (int64_t)wf[j] * dm[j];
        d = (int32_t)vdm_cm_clampi(s >> 16, -2047, 2047);
    }
    const int32_t pm = squash(d);
    const int32_t ai = (d + 2048) >> 7, af = (d + 2048) & 127;
    uint16_t *a = &M->apm[((uint32_t)st->asel + node * NAPMC) * 33];
    uint16_t *a2 = &M->apm2[((uint32_t)(st->bq * 4 + st->b0 * 4 / NBB) + node * NAPM2C) * 33];
    const int32_t pa = (a[ai] * (128 - af) + a[ai + 1] * af) >> 7;
    const int32_t pa2 = (a2[ai] * (128 - af) + a2[ai + 1] * af) >> 7;
    int32_t p = (2 * pm + pa + pa2) >> 2;
    uint16_t *a3 = NULL;
    if (st->v5) {   /* APM 3: by texture pattern x node class; the four averaged */
        const unsigned ncl = node < 4 ? node : node < NODE_MHI ? 4 : 5;
        a3 = &M->apm3[((uint32_t)st->a3sel * 6 + ncl) * 33];
        const int32_t pa3 = (a3[ai] * (128 - af) + a3[ai + 1] * af) >> 7;
        p = (pm + pa + pa2 + pa3) >> 2;
    }
    if (p < 32) p = 32;
    if (p > 65504) p = 65504;
    const uint32_t p0 = 65536u - (uint32_t)p;
    if (st->enc) vdm_rc_encode_p0(st->enc, p0, bit);
    else if (st->dec) bit = vdm_rc_decode_p0(st->dec, p0);
    if (st->wenc) vdm_rc_encode_p0(st->wenc, p0, bit);

    const int32_t target = bit ? 65535 : 0;
    /* counters: method 4's models count to COUNT_LIMIT, the hashed and pair
     * models (after them) to H_LIMIT -- two loops, no test per counter */
    const int32_t *rec = st->tab->rec;
    for (unsigned i = 0; i < nmv4; i++) {
        counter *qc = c[i];
        qc->p = (uint16_t)(qc->p + (int32_t)(((int64_t)(target - qc->p) * rec[qc->n]) >> 16));
        if (qc->n < COUNT_LIMIT) qc->n++;
    }
    for (unsigned i = nmv4; i < nm; i++) {
        counter *qc = c[i];
        qc->p = (uint16_t)(qc->p + (int32_t)(((int64_t)(target - qc->p) * rec[qc->n]) >> 16));
        if (qc->n < H_LIMIT) qc->n++;
    }
    if (!st->v6)
        for (unsigned i = nmv4; i < nm; i++) {
            uint16_t *sp = smp[i - nmv4];
            *sp = (uint16_t)(*sp + ((target - *sp) >> SM_RATE));
        }
    int32_t errm[NMIX_MAX];
    for (unsigned j = 0; j < nmix; j++) {
        int32_t rate = MIX_LR;
        if (st->v7) {   /* method 7: each row's rate falls with its updates */
            uint16_t *cnt = &M->wn[j][ri[j]];
            rate = *cnt < MRATE_TAB ? st->tab->mrate[*cnt] : MIX_LR_V7;
            if (*cnt < MRATE_TAB) (*cnt)++;
        }
        errm[j] = (((bit << 16) - pmm[j]) >> 4) * rate;
    }
    mix_train(st, x, nx, wr, errm, nmix);
    if (wf) {
        const int32_t errf = (((bit << 16) - pm) >> 4) * (st->v7 ? MIXF_LR_V7 : MIXF_LR);
        for (unsigned j = 0; j < nmix; j++)
            wf[j] = vdm_cm_clampi((int64_t)wf[j] + ((dm[j] * errf) >> 16), -MIX_WMAX, MIX_WMAX);
    }
    a[ai] = (uint16_t)(a[ai] + (((target - a[ai]) * (128 - af)) >> (7 + APM_RATE)));
    a[ai + 1] = (uint16_t)(a[ai + 1] + (((target - a[ai + 1]) * af) >> (7 + APM_RATE)));
    a2[ai] = (uint16_t)(a2[ai] + (((target - a2[ai]) * (128 - af)) >> (7 + APM_RATE)));
    a2[ai + 1] = (uint16_t)(a2[ai + 1] + (((target - a2[ai + 1]) * af) >> (7 + APM_RATE)));
    if (a3) {
        a3[ai] = (uint16_t)(a3[ai] + (((target - a3[ai]) * (128 - af)) >> (7 + A3_RATE)));
        a3[ai + 1] = (uint16_t)(a3[ai + 1] + (((target - a3[ai + 1]) * af) >> (7 + A3_RATE)));
    }
    return bit;
}

/* ---- small helpers -------------------------------------------------------- */
static inline int64_t floor_i64(double t)
{
    int64_t i = (int64_t)t;
    return (double)i > t ? i - 1 : i;
}

static inline int sgn3(int32_t v) { return (v > 0) - (v < 0) + 1; }

typedef struct { int32_t W, N, NW, NE, WW, NN, NNE, NWW, NNW, NEE; } nbhd;

static inline nbhd get_nbhd(const cm_rows *r, uint32_t x, uint32_t y, uint32_t w)
{
    nbhd n;
    const int32_t *cur = r->val[y % NVROW];
    const int32_t *up = y >= 1 ? r->val[(y + NVROW - 1) % NVROW] : NULL;
    const int32_t *up2 = y >= 2 ? r->val[(y + NVROW - 2) % NVROW] : NULL;
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

/* Method 6's further neighbours of n's sample, as OLS 1 inputs relative to
 * W (§8e): WWW, NEEE, NNWW, NNEE, each falling back as §8e says. */
static inline void far_inputs(const cm_rows *r, uint32_t x, uint32_t y, uint32_t w, const nbhd *n, int32_t *in)
{
    const int32_t *cur = r->val[y % NVROW];
    const int32_t *up = y >= 1 ? r->val[(y + NVROW - 1) % NVROW] : NULL;
    const int32_t *up2 = y >= 2 ? r->val[(y + NVROW - 2) % NVROW] : NULL;
    in[0] = (x >= 3 ? cur[x - 3] : n->WW) - n->W;
    in[1] = (up && x + 3 < w ? up[x + 3] : n->NEE) - n->W;
    in[2] = (up2 && x >= 2 ? up2[x - 2] : n->NNW) - n->W;
    in[3] = (up2 && x + 2 < w ? up2[x + 2] : n->NNE) - n->W;
}

/* ---- OLS (as method 3, parameterised by decay and ridge) --------------------- */
static inline unsigned ols_idx(unsigned nl, unsigned i, unsigned j)
{
    return i < nl ? i * (i + 1) / 2 + j : nl * (nl + 1) / 2 + j;
}

static void ols_row_start(ols_t *R, uint32_t w)
{
    /* hacc is read only where the system is solved (x % period == 0), so
     * only those columns are kept; the running sums still pass every
     * column, in the same order, so the sums are the same numbers */
    const unsigned T = R->T, per = R->period;
    const double dc = R->decay;
    double run[OLS_T];
    memset(R->cur, 0, sizeof R->cur);
    memset(run, 0, sizeof run);
    for (uint32_t x = 0; x < w; x++) {
        const double *c = &R->cacc[(size_t)x * T];
        if (x % per == 0) {
            double *hh = &R->hacc[(size_t)(x / per) * T];
            for (unsigned t = 0; t < T; t++) { run[t] = dc * run[t] + c[t]; hh[t] = run[t]; }
        } else {
            for (unsigned t = 0; t < T; t++) run[t] = dc * run[t] + c[t];
        }
    }
    memset(run, 0, sizeof run);
    for (uint32_t x = w; x-- > 0;) {
        const double *c = &R->cacc[(size_t)x * T];
        if (x % per == 0) {
            double *hh = &R->hacc[(size_t)(x / per) * T];
            for (unsigned t = 0; t < T; t++) { hh[t] += dc * run[t]; run[t] = dc * run[t] + c[t]; }
        } else {
            for (unsigned t = 0; t < T; t++) run[t] = dc * run[t] + c[t];
        }
    }
}

/* solve == 0: predict with the weights of the last solve (method 5 solves
 * at even x only) */
static double ols_predict(ols_t *R, uint32_t x, const int32_t *in, int solve)
{
    const unsigned nl = R->nl;
    const double *hh = &R->hacc[(size_t)(x / R->period) * R->T];   /* read only when solving */
    /* Cholesky A + nu I = L L^T, column by column, Lt[t][i] = L(i, t).  Each
     * entry is A(i,j) (+ nu on the diagonal) minus L(i,t) L(j,t) for t = 0,
     * 1, ..., j-1 in that order, then sqrt (diagonal) or / L(j,j): the same
     * operations in the same order per entry as a row-by-row Cholesky (the
     * spec's, §8b.5), so the same numbers; by columns the entries below the
     * diagonal are independent of each other, and the loop over them
     * vectorises, one row per lane.  Forward substitution likewise by
     * columns (each z(i) still subtracts in increasing t); the backward one
     * by rows, as its terms are subtracted in increasing t as well. */
    double Lt[NIN_MAX][NIN_MAX], s[NIN_MAX], z[NIN_MAX];
    int ok = solve;
    for (unsigned j = 0; j < nl && ok; j++) {
        for (unsigned i = j; i < nl; i++) {
            const unsigned o = ols_idx(nl, i, j);
            s[i] = hh[o] + R->cur[o];
        }
        s[j] = s[j] + R->nu;
        for (unsigned t = 0; t < j; t++) {
            const double c = Lt[t][j];
            for (unsigned i = j; i < nl; i++) s[i] = s[i] - Lt[t][i] * c;
        }
        if (!(s[j] > 1e-9)) { ok = 0; break; }
        const double d = vdm_sqrt_d(s[j]);
        Lt[j][j] = d;
        for (unsigned i = j + 1; i < nl; i++) Lt[j][i] = s[i] / d;
    }
    if (ok) {
        for (unsigned i = 0; i < nl; i++) {
            const unsigned o = ols_idx(nl, nl, i);
            s[i] = hh[o] + R->cur[o];
        }
        for (unsigned t = 0; t < nl; t++) {
            z[t] = s[t] / Lt[t][t];
            for (unsigned i = t + 1; i < nl; i++) s[i] = s[i] - Lt[t][i] * z[t];
        }
        for (unsigned i = nl; i-- > 0;) {
            double sum = z[i];
            for (unsigned t = i + 1; t < nl; t++) sum = sum - Lt[i][t] * R->ow[t];
            R->ow[i] = sum / Lt[i][i];
        }
    }
    double sp = 0;
    for (unsigned i = 0; i < nl; i++) sp = sp + R->ow[i] * (double)in[i];
    return sp;
}

static void ols_update(ols_t *R, uint32_t x, const int32_t *in, int32_t target, double sw)
{
    const unsigned nl = R->nl;
    const double dc = R->decay;
    double *c = &R->cacc[(size_t)x * R->T];
    unsigned o = 0;
    for (unsigned i = 0; i < nl; i++)
        for (unsigned j = 0; j <= i; j++, o++) {
            const double pr = (double)in[i] * (double)in[j] * sw;
            R->cur[o] = dc * R->cur[o] + pr;
            c[o] = dc * c[o] + pr;
        }
    for (unsigned i = 0; i < nl; i++, o++) {
        const double pr = (double)in[i] * (double)target * sw;
        R->cur[o] = dc * R->cur[o] + pr;
        c[o] = dc * c[o] + pr;
    }
}

/* OLS prediction in 1/8 units, relative to W */
static int64_t ols_p8(ols_t *R, uint32_t x, const int32_t *in, int32_t W, int solve)
{
    double sp = ols_predict(R, x, in, solve);
    if (sp != sp) sp = 0;
    if (sp > 1e6) sp = 1e6;
    if (sp < -1e6) sp = -1e6;
    return (int64_t)W * 8 + floor_i64(sp * 8.0 + 0.5);
}

static inline int32_t med3(int32_t a, int32_t b, int32_t c)
{
    const int32_t mx = a > b ? a : b, mn = a > b ? b : a;
    return c > mx ? mx : c < mn ? mn : c;
}

/* The fixed predictors of one neighbourhood (§8c.2), NFIX of them. */
#define NFIX 12
static inline void fixed_preds(const nbhd *n, int32_t *p)
{
    p[0] = n->W + n->N - n->NW;
    p[1] = n->W;
    p[2] = n->N;
    p[3] = n->W + n->NE - n->N;
    p[4] = (n->W + n->NE + 1) >> 1;
    p[5] = med3(n->W, n->N, n->W + n->N - n->NW);
    p[6] = 2 * n->N - n->NN;
    p[7] = 2 * n->W - n->WW;
    p[8] = n->N + n->NE - n->NNE;
    p[9] = n->N + n->NW - n->NNW;
    p[10] = (n->W + n->N + 1) >> 1;
    p[11] = n->W + ((n->NE - n->NW) >> 1);
}
/* which fixed predictors get cross-channel versions from the first
 * reference (G), and from the second (R, for B) */
static const unsigned cross1[] = { 0, 1, 2, 3, 5, 6, 7, 10 };
#define NCROSS1 8
static const unsigned cross2[] = { 0, 1, 2 };
#define NCROSS2 3

/* ---- side information ------------------------------------------------------ */
/* Likelihood of each v = 0..255 given z (unnormalised, 1 at the most likely
 * value), as prefix sums lik[0..256].  u(v) = (z - alpha*x(v)) / sigma,
 * x(v) = (2v - 255)/255; L(v+1)/L(v) = exp(u(v) D - D^2/2), D = 2 alpha /
 * (255 sigma), and that ratio shrinks by exp(-D^2) per step. */
static void side_lik(cm_state *st, double z)
{
    const vdm_cm_side *s = st->side;
    const double D = 2.0 * (double)s->alpha / (255.0 * (double)s->sigma);
    const double ed = vdm_exp(-D * D);
    double L[256];
    double xv = z / (double)s->alpha;               /* data scale */
    double vc = (xv * 255.0 + 255.0) * 0.5;
    int32_t v0 = (int32_t)floor_i64(vc + 0.5);
    if (v0 < 0) v0 = 0;
    if (v0 > 255) v0 = 255;
    const double u0 = (z - (double)s->alpha * ((2.0 * v0 - 255.0) / 255.0)) / (double)s->sigma;
    L[v0] = 1.0;
    double r = vdm_exp(u0 * D - D * D * 0.5);       /* L(v0+1)/L(v0) */
    for (int32_t v = v0 + 1; v <= 255; v++) { L[v] = L[v - 1] * r; r = r * ed; }
    r = vdm_exp(-u0 * D - D * D * 0.5);              /* L(v0-1)/L(v0) */
    for (int32_t v = v0 - 1; v >= 0; v--) { L[v] = L[v + 1] * r; r = r * ed; }
    st->lik[0] = 0.0;
    for (int32_t v = 0; v <= 255; v++) st->lik[v + 1] = st->lik[v] + (L[v] + 1e-12);
}

#define SIDE_REF_MIN 0.4    /* measured on training crops: k = 0 (0.34) loses 1.3 %, k = 2 (0.45) gains 0.1 % */
#define SIDE_REF_MAX 64.0   /* k = T (623) loses 0.08 %, k = 24 (22) gains 0.2 % */
/* The side information's value of one sub-pixel in 8-bit units, rounded:
 * the denoised prediction when given, else z / alpha (method 5). */
static inline int32_t side_value(const cm_state *st, size_t i)
{
    const vdm_cm_side *s = st->side;
    double v = st->use_xhat ? (double)s->xhat[i] : (double)s->z[i] / (double)s->alpha;
    if (!(v > -8.0 && v < 8.0)) v = v > 0.0 ? 8.0 : -8.0;   /* NaN, huge: bounded */
    return (int32_t)floor_i64((v * 255.0 + 255.0) * 0.5 + 0.5);
}

/* ---- the coder ------------------------------------------------------------ */
/* Code (or decode, or observe) the sample of coding position k at (x, y):
 * prediction, contexts, the binary decisions, the updates. */
static vdm_status code_sample(cm_state *st, unsigned k, uint32_t x, uint32_t y)
{
    const vdm_subimage *g = st->g;
    const uint32_t w = g->width, h = g->height;
    const int32_t maxv = st->maxv;
    /* method 9 (rgb): the columns and row next to the sample, clamped */
    const uint32_t xe = x + 1 < w ? x + 1 : x, xw = x ? x - 1 : x, ys = y + 1 < h ? y + 1 : y;
    /* the residuals at this position of the first and second
     * coding positions (G and R when rgb), already coded */
    const int32_t ref_res = k >= 1 ? st->rows[0].res[y % NRROW][x] : 0;
    const int32_t ref2_res = k >= 2 ? st->rows[1].res[y % NRROW][x] : 0;
    const unsigned c = st->order[k];
    cm_rows *R = &st->rows[k];
    chan_model *M = st->cm[k];
    st->M = M;
    const nbhd n = get_nbhd(R, x, y, w);
    const size_t pix = (size_t)y * w + x;

    int32_t pred[NPRED_MAX], in[NIN_MAX], in2[NIN_MAX];
    unsigned np = NFIX, nl = 0, nl2 = 0;
    fixed_preds(&n, pred);
    in[nl++] = n.N - n.W;
    in[nl++] = n.NW - n.W;
    in[nl++] = n.NE - n.W;
    in[nl++] = n.WW - n.W;
    in[nl++] = n.NN - n.W;
    in[nl++] = n.NNE - n.W;
    in[nl++] = n.NWW - n.W;
    in[nl++] = n.NNW - n.W;
    in[nl++] = n.NEE - n.W;
    for (unsigned i = 0; i < 6; i++) in2[nl2++] = in[i];
    if (st->v9 && k == 0)   /* method 9: the first position's OLS 2 also sees NWW, NNW, NEE */
        for (unsigned i = 6; i < 9; i++) in2[nl2++] = in[i];
    int32_t crossp = pred[5];
    int32_t gW = 0, gN = 0;   /* G's value minus its W and N (method 5's hashes) */
    if (st->has_ref[k]) {
        const cm_rows *F = &st->rows[0];
        const nbhd f = get_nbhd(F, x, y, w);
        const int32_t rv = F->val[y % NVROW][x];
        int32_t fp[NFIX];
        fixed_preds(&f, fp);
        for (unsigned i = 0; i < NCROSS1; i++)
            pred[np++] = pred[cross1[i]] + rv - fp[cross1[i]];
        crossp = pred[NFIX];   /* gradient + G's residual from its gradient */
        gW = rv - f.W;
        gN = rv - f.N;
        in[nl++] = gW;
        in[nl++] = gN;
        in[nl++] = rv - f.NE;
        in[nl++] = rv - f.NW;
        in[nl++] = rv - f.WW;
        in[nl++] = rv - f.NN;
        for (unsigned i = 9; i < 13; i++) in2[nl2++] = in[i];
        if (k == 2) {
            const cm_rows *F2 = &st->rows[1];
            const nbhd f2 = get_nbhd(F2, x, y, w);
            const int32_t rv2 = F2->val[y % NVROW][x];
            int32_t fp2[NFIX];
            fixed_preds(&f2, fp2);
            for (unsigned i = 0; i < NCROSS2; i++)
                pred[np++] = pred[cross2[i]] + rv2 - fp2[cross2[i]];
            in[nl++] = rv2 - f2.W;
            in[nl++] = rv2 - f2.N;
            in2[nl2++] = rv2 - f2.W;
            in2[nl2++] = rv2 - f2.N;
        }
    }
    if (st->lag && st->has_ref[k]) {
        /* method 9: the samples E, S, SE and SW of G and, for B, of R
         * (coded ahead), each minus its own sample at (x, y), instead of
         * method 6's further neighbours */
        for (unsigned j = 0; j < k; j++) {
            const int32_t *v0 = st->rows[j].val[y % NVROW], *v1 = st->rows[j].val[ys % NVROW];
            in[nl++] = v0[xe] - v0[x];
            in[nl++] = v1[x] - v0[x];
            in[nl++] = v1[xe] - v0[x];
            in[nl++] = v1[xw] - v0[x];
        }
    } else if (st->v6) {   /* method 6: OLS 1 (and NLMS) see further */
        far_inputs(R, x, y, w, &n, &in[nl]);
        nl += 4;
        if (st->v9 && k == 0) {   /* method 9: the first position's OLS 1 also sees NNN, NWWW, NNNW, NNNE */
            const int32_t *r1 = y >= 1 ? R->val[(y + NVROW - 1) % NVROW] : NULL;
            const int32_t *r3 = y >= 3 ? R->val[(y + NVROW - 3) % NVROW] : NULL;
            in[nl++] = (r3 ? r3[x] : n.NN) - n.W;
            in[nl++] = (r1 && x >= 3 ? r1[x - 3] : n.NWW) - n.W;
            in[nl++] = (r3 && x >= 1 ? r3[x - 1] : n.NNW) - n.W;
            in[nl++] = (r3 && x + 1 < w ? r3[x + 1] : n.NNE) - n.W;
        }
    }
    /* side predictors (1/8 units) */
    int32_t zp8 = 0, xp8 = 0;
    const int side_here = st->side && g->rgb && c < 3;
    if (side_here && st->use_z) {
        double z = (double)st->side->z[pix * 3 + c];
        if (!(z > -1e6 && z < 1e6)) z = 0.0;   /* NaN, huge: no information */
        side_lik(st, z);
        const double vz = (z / (double)st->side->alpha * 255.0 + 255.0) * 0.5;
        zp8 = (int32_t)floor_i64((vz < -1000.0 ? -1000.0 : vz > 1000.0 ? 1000.0 : vz) * 8.0 + 0.5);
        pred[np++] = vdm_cm_clampi(((int64_t)zp8 + 4) >> 3, 0, maxv);
    }
    if (side_here && st->use_xhat) {
        double xv = (double)st->side->xhat[pix * 3 + c];
        if (!(xv > -1e6 && xv < 1e6)) xv = 0.0;
        const double vx = (xv * 255.0 + 255.0) * 0.5;
        xp8 = (int32_t)floor_i64((vx < -1000.0 ? -1000.0 : vx > 1000.0 ? 1000.0 : vx) * 8.0 + 0.5);
        pred[np++] = vdm_cm_clampi(((int64_t)xp8 + 4) >> 3, 0, maxv);
    }
    /* method 5: the denoised prediction as a reference image
     * (known everywhere, also right of and below this sample):
     * its gradients as predictors ("W + xhat - xhat_W", ...) and
     * its values around the sample as inputs of OLS 2 */
    if (st->side_ref && side_here) {
        int32_t X[7];   /* at x,y  W  N  NW  NE  E  S (8-bit units, rounded) */
        static const int8_t dx[7] = { 0, -1, 0, -1, 1, 1, 0 }, dy[7] = { 0, 0, -1, -1, -1, 0, 1 };
        for (int j = 0; j < 7; j++) {
            int64_t xx = (int64_t)x + dx[j], yy = (int64_t)y + dy[j];
            if (xx < 0) xx = 0;
            if (xx >= (int64_t)w) xx = w - 1;
            if (yy < 0) yy = 0;
            if (yy >= (int64_t)h) yy = h - 1;
            X[j] = side_value(st, ((size_t)yy * w + (size_t)xx) * 3 + c);
        }
        pred[np++] = n.W + X[0] - X[1];
        pred[np++] = n.N + X[0] - X[2];
        pred[np++] = n.W + n.N - n.NW + X[0] - (X[1] + X[2] - X[3]);
        pred[np++] = n.NE + X[0] - X[4];
        in2[nl2++] = X[0] - n.W;
        in2[nl2++] = X[1] - n.W;
        in2[nl2++] = X[2] - n.W;
        in2[nl2++] = X[5] - n.W;
        in2[nl2++] = X[6] - n.W;
    }
    int64_t lp8[NLMS_K];
    for (int li = 0; li < NLMS_K; li++) {
        int64_t s = 0;
        for (unsigned i = 0; i < nl; i++) s += (int64_t)R->lw[li][i] * in[i];
        lp8[li] = (int64_t)n.W * 8 + vdm_cm_floordiv(s, 1 << 11);
        pred[np++] = (int32_t)vdm_cm_floordiv(lp8[li] + 4, 8);
    }
    const int solve = !st->v5 || (x & 1) == 0;
    const int solve1 = st->v6 ? x % OLS1_PERIOD_V6 == 0 : solve;
    const int64_t op8 = ols_p8(&R->ols[0], x, in, n.W, solve1);
    const int64_t o2p8 = ols_p8(&R->ols[1], x, in2, n.W, solve);
    pred[np++] = (int32_t)vdm_cm_floordiv(o2p8 + 4, 8);
    pred[np++] = (int32_t)vdm_cm_floordiv(op8 + 4, 8);
    for (unsigned i = 0; i < np; i++) pred[i] = vdm_cm_clampi(pred[i], 0, maxv);

    /* blend by 1/(local error + 4)^2, in 1/8 units; the two OLS
     * predictors' errors scaled by 6/16 */
    const uint32_t *pe_up = y ? R->perr[(y + NPROW - 1) % NPROW] : NULL;
    const uint32_t *pe_cur = R->perr[y % NPROW];
    /* method 9 (rgb): R's and B's fixed predictors also weigh G's error of
     * the same predictor at (x, y), twice */
    const uint32_t *pe_g = st->lag && st->has_ref[k] ? st->rows[0].perr[y % NPROW] : NULL;
    int64_t num = 0, den = 0;
    uint64_t emin = UINT64_MAX, eraw = 0, eraw2 = 0;
    const int64_t last8[4] = { lp8[0], lp8[1], o2p8, op8 };   /* the last 4 predictors at 1/8 */
    for (unsigned i = 0; i < np; i++) {
        uint64_t e = 0;
        if (x) e += 2u * pe_cur[(x - 1) * NPRED_MAX + i];
        if (pe_up) {
            e += 2u * pe_up[x * NPRED_MAX + i];
            if (x) e += pe_up[(x - 1) * NPRED_MAX + i];
            if (x + 1 < w) e += pe_up[(x + 1) * NPRED_MAX + i];
            if (st->v7) {   /* method 7: also NWW and NEE */
                if (x >= 2) e += pe_up[(x - 2) * NPRED_MAX + i];
                if (x + 2 < w) e += pe_up[(x + 2) * NPRED_MAX + i];
            }
        }
        if (st->v7 && x >= 2) e += pe_cur[(x - 2) * NPRED_MAX + i];   /* ... and WW */
        if (pe_g && i < NFIX) e += 2u * pe_g[x * NPRED_MAX + i];
        if (i == np - 1) { eraw = e; e = e * OLS_ERR_SCALE / 16; }
        if (i == np - 2) { eraw2 = e; e = e * OLS_ERR_SCALE / 16; }
        if (e < emin) emin = e;
        const int64_t eo = (int64_t)e + BLEND_OFS;
        int64_t wt = eo < NBLENDW ? st->tab->blendw[eo] : WEIGHT_ONE / (eo * eo);
        if (wt < 1) wt = 1;
        /* method 8: NLMS 0, NLMS 1, OLS 2, OLS 1 at 1/8, others 8 p */
        const int64_t pv = st->v8 && i + 4 >= np ? vdm_cm_clampi(last8[i + 4 - np], 0, 8 * (int64_t)maxv)
                                                  : (int64_t)pred[i] * 8;
        num += wt * pv;
        den += wt;
    }
    int64_t Pf = vdm_cm_floordiv(num + den / 2, den);
    /* method 8: the stacking OLS -- a local least-squares fit of
     * the sample (minus this blend) from 8 predictions (minus the
     * blend), the blend then averaged with its prediction */
    int32_t stk_in[NSTK];
    int64_t Pb = Pf, Ps = Pf;
    if (st->v8) {
        const int64_t c8[NSTK] = { op8, o2p8, lp8[0], lp8[1], 8 * (int64_t)vdm_cm_clampi(crossp, 0, maxv),
                                   8 * (int64_t)pred[1], 8 * (int64_t)pred[2], 8 * (int64_t)pred[0] };
        for (unsigned i = 0; i < NSTK; i++) stk_in[i] = (int32_t)vdm_cm_clampi(c8[i] - Pb, -(1 << 24), 1 << 24);
        double sp = ols_predict(&R->stk, x, stk_in, solve);   /* even x, as OLS 2 */
        if (sp != sp) sp = 0;
        if (sp > 1e6) sp = 1e6;
        if (sp < -1e6) sp = -1e6;
        Ps = vdm_cm_clampi(Pb + floor_i64(sp + 0.5), 0, 8 * (int64_t)maxv);
        Pf = vdm_cm_floordiv(Pb + Ps + 1, 2);
    }

    const int32_t *res_up = y ? R->res[(y + NRROW - 1) % NRROW] : NULL;
    int32_t *res_cur = R->res[y % NRROW];
    const int32_t rW = x ? res_cur[x - 1] : 0;
    const int32_t rN = res_up ? res_up[x] : 0;
    const int32_t rNW = (res_up && x) ? res_up[x - 1] : 0;
    const int32_t rNE = (res_up && x + 1 < w) ? res_up[x + 1] : 0;
    uint32_t act = 2u * (uint32_t)abs(rW) + 2u * (uint32_t)abs(rN) +
                   (uint32_t)abs(rNW) + (uint32_t)abs(rNE);
    if (st->has_ref[k]) act += 2u * (uint32_t)abs(ref_res);
    if (st->v6) {   /* method 6: also the residuals two samples away */
        const int32_t rWW = x >= 2 ? res_cur[x - 2] : 0;
        const int32_t rNN = y >= 2 ? R->res[(y + NRROW - 2) % NRROW][x] : 0;
        act += 2u * ((uint32_t)abs(rWW) + (uint32_t)abs(rNN));
    }
    if (st->v7) {   /* method 7: and NWW, NEE, NNW, NNE */
        if (res_up) {
            if (x >= 2) act += (uint32_t)abs(res_up[x - 2]);
            if (x + 2 < w) act += (uint32_t)abs(res_up[x + 2]);
        }
        if (y >= 2) {
            const int32_t *res_up2 = R->res[(y + NRROW - 2) % NRROW];
            if (x) act += (uint32_t)abs(res_up2[x - 1]);
            if (x + 1 < w) act += (uint32_t)abs(res_up2[x + 1]);
        }
        /* ... and the residual energy around the sample */
        const int32_t *eu = R->eng[(y + 1) & 1], *ec = R->eng[y & 1];
        const int32_t ew = y ? (eu[x] + eu[x + 1 < w ? x + 1 : x] + (x ? ec[x - 1] : eu[x])) / 3
                             : (x ? ec[x - 1] : 0);
        act += (uint32_t)(ew * ENG_W / 256);
    }
    if (st->v8 && g->rgb && k < 3) {   /* method 8: the other colours' residuals at W and N (method 9: those coded before) */
        for (unsigned kk = 0; kk < 3; kk++) {
            if (kk == k) continue;
            if (st->lag && kk > k) continue;
            if (st->lag) {   /* method 9: also their residuals at E and S, and half those at SE and SW */
                const int32_t *o0 = st->rows[kk].res[y % NRROW], *o1 = st->rows[kk].res[ys % NRROW];
                act += (uint32_t)abs(o0[xe]) + (uint32_t)abs(o1[x]) + (((uint32_t)abs(o1[xe]) + (uint32_t)abs(o1[xw])) >> 1);
            }
            const int32_t *oc = st->rows[kk].res[y % NRROW];
            if (x) act += (uint32_t)abs(oc[x - 1]);
            if (y) act += (uint32_t)abs(st->rows[kk].res[(y + NRROW - 1) % NRROW][x]);
        }
    }
    act = (2u * act + 4u * (uint32_t)(emin > 0xFFFFFFFu ? 0xFFFFFFFu : emin)) >> 2;
    const unsigned q = vdm_cm_quant_activity(act);

    const int sW = sgn3(rW), sN = sgn3(rN), sR = st->has_ref[k] ? sgn3(ref_res) : 1;
    int32_t *bc = M->bias[((q * 3 + (unsigned)sW) * 3 + (unsigned)sN) * 3 + (unsigned)sR];
    int32_t corr = bc[1] > 0 ? (int32_t)vdm_cm_floordiv((int64_t)bc[0] + bc[1] / 2, bc[1]) : 0;
    int32_t *bc2 = M->bias2[sq17((int32_t)vdm_cm_clampi((op8 - Pf) / 2, -65536, 65536)) * NQ + q];
    {
        const int32_t corr2 = bc2[1] > 0 ? (int32_t)vdm_cm_floordiv((int64_t)bc2[0] + bc2[1] / 2, bc2[1]) : 0;
        corr = (int32_t)vdm_cm_floordiv((int64_t)corr + corr2 + 1, 2);
    }
    const int64_t Pc = vdm_cm_clampi(Pf + corr, 0, maxv * 8);
    const int32_t P = (int32_t)((Pc + 4) >> 3);
    const unsigned frac = (unsigned)((Pc + 4) & 7);

    /* contexts of method 3's 7 models */
    int32_t ctx[NM_FIX];
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
    ctx[6] = (int32_t)vdm_cm_quant_activity((uint32_t)(emin > 0xFFFFFFFu ? 0xFFFFFFFu : emin));
    for (int m = 0; m < NM_FIX; m++) {
        st->base[m] = ctx[m] * NNODE;
        /* the counters of the first nodes (zero, sign, exponents, first
         * mantissa bits) are likely cache misses: fetch them now */
        const counter *cb = &M->t[m][st->base[m]];
        __builtin_prefetch(cb);
        __builtin_prefetch(cb + 16);
        __builtin_prefetch(cb + 32);
    }
    st->asel = (int32_t)sq17((int32_t)vdm_cm_clampi((op8 - Pc) / 2, -65536, 65536));
    st->bq = (int32_t)(q >> 2);

    /* bit predictors, relative to 8P */
    {
        unsigned nb = 0;
        const int64_t P8 = (int64_t)P * 8;
        st->bp8[nb++] = vdm_cm_clampi(op8 - P8, -(1 << 24), 1 << 24);
        st->bp8[nb++] = vdm_cm_clampi(o2p8 - P8, -(1 << 24), 1 << 24);
        st->bp8[nb++] = vdm_cm_clampi(lp8[0] - P8, -(1 << 24), 1 << 24);
        st->bp8[nb++] = vdm_cm_clampi(lp8[1] - P8, -(1 << 24), 1 << 24);
        st->bp8[nb++] = vdm_cm_clampi((int64_t)vdm_cm_clampi(crossp, 0, maxv) * 8 - P8, -(1 << 24), 1 << 24);
        st->bp8[nb++] = vdm_cm_clampi((int64_t)pred[1] * 8 - P8, -(1 << 24), 1 << 24);
        st->bp8[nb++] = vdm_cm_clampi((int64_t)pred[2] * 8 - P8, -(1 << 24), 1 << 24);
        st->bp8[nb++] = vdm_cm_clampi((int64_t)pred[st->has_ref[k] ? NFIX + 1 : 3] * 8 - P8, -(1 << 24), 1 << 24);
        st->bp8[nb++] = vdm_cm_clampi((int64_t)pred[st->has_ref[k] ? NFIX + 2 : 6] * 8 - P8, -(1 << 24), 1 << 24);
        if (side_here && st->use_z) st->bp8[nb++] = vdm_cm_clampi((int64_t)zp8 - P8, -(1 << 24), 1 << 24);
        if (side_here && st->use_xhat) st->bp8[nb++] = vdm_cm_clampi((int64_t)xp8 - P8, -(1 << 24), 1 << 24);
        st->nbp = nb;
    }
    st->nm = NM_FIX + st->nbp + (side_here && st->use_z ? 1 : 0);
    if (st->v5) {
        for (unsigned j = 0; j < st->nh; j++) {
            uint32_t hh = (uint32_t)st->hid[j] * 0x3C6EF372u + (uint32_t)k * 0x6A09E667u;
#define HM(v) (hh = (hh ^ (uint32_t)(int32_t)(v)) * 0x9E3779B1u, hh ^= hh >> 15)
            switch (st->hid[j]) {
            case 0: HM(sq17(n.W - P)); HM(sq17(n.N - P)); HM(sq17(n.NW - P)); HM(sq17(n.NE - P)); break;
            case 1: HM((uint32_t)P * 64u / ((uint32_t)maxv + 1u)); HM(q); break;
            case 2: HM(sq17(n.N - n.NW)); HM(sq17(n.W - n.NW)); HM(sq17(n.NE - n.N)); break;
            /* method 6 */
            case 4: HM(sq17(n.W - n.WW)); HM(sq17(n.N - n.NN)); HM(sq17(n.NE - n.NNE)); HM(sq9(n.NW - n.NNW)); break;
            case 5: HM((uint32_t)P >> 2); HM(sq9(rW)); HM(sq9(rN)); break;
            case 6:
                if (k == 0) { HM(sq17(n.W - n.NW)); HM(sq17(n.N - n.NE)); HM(q); }
                else { HM(sq17(ref_res)); HM(sq9(rW)); HM((uint32_t)P >> 3); }
                break;
            case 7: HM(sq9(n.W - P)); HM(sq9(n.N - P)); HM(sq9(n.NE - P)); HM(sq9(n.NW - P)); HM(sq9(n.WW - P)); HM(sq9(n.NN - P)); break;
            default:   /* 3 */
                if (k == 0) { HM(sq17(n.WW - n.W)); HM(sq17(n.NN - n.N)); HM(sq9(rW)); HM(sq9(rN)); }
                else { HM(sq17(gW)); HM(sq17(gN)); HM(sq17(n.W - P)); HM(sq17(n.N - P)); }
                break;
            }
#undef HM
            st->hb[j] = hh >> (32 - H_BITS);
            __builtin_prefetch(&M->ht[j][st->hb[j]]);
            __builtin_prefetch(&M->ht[j][(st->hb[j] + 16) & H_MASK]);
            __builtin_prefetch(&M->ht[j][(st->hb[j] + 32) & H_MASK]);
        }
        for (unsigned j = 0; j < st->nxbp; j++) {
            uint32_t ix;
            switch (st->xid[j]) {
            case 0:
                ix = (uint32_t)(n.N > P) | (uint32_t)(n.W > P) << 1 | (uint32_t)(n.NW > P) << 2 |
                     (uint32_t)(n.NE > P) << 3 | (uint32_t)(n.NN > P) << 4 | (uint32_t)(n.WW > P) << 5 |
                     (uint32_t)(2 * n.N - n.NN > P) << 6 | (uint32_t)(2 * n.W - n.WW > P) << 7;
                ix = ix * 10u + (q >> 2);
                break;
            default: ix = ((sq9(n.W - P) * 9 + sq9(n.N - P)) * 9 + sq9(n.NW - P)) * 9 + sq9(n.NE - P); break;
            }
            st->xbi[j] = (int32_t)ix;
            const int32_t *e = &M->xb[j][ix * 2];
            st->xbp8[j] = e[1] > 0 ? (int32_t)vdm_cm_clampi(vdm_cm_floordiv((int64_t)e[0] + e[1] / 2, e[1]), -(1 << 24), 1 << 24) : 0;
        }
        st->nm += st->nxbp + st->nh + st->npair;
        st->a3sel = (int32_t)(((uint32_t)(n.N > P) | (uint32_t)(n.W > P) << 1 | (uint32_t)(n.NW > P) << 2 |
                     (uint32_t)(n.NE > P) << 3 | (uint32_t)(n.NN > P) << 4 | (uint32_t)(n.WW > P) << 5 |
                     (uint32_t)(2 * n.N - n.NN > P) << 6 | (uint32_t)(2 * n.W - n.WW > P) << 7) * 10u + (q >> 2));
        st->msel3 = (int32_t)(sq9(rW) * 9 + sq9(rN));
        if (st->v7) {
            st->msel[0] = (int32_t)(sq9(n.W - P) * 9 + sq9(n.N - P));
            st->msel[1] = (int32_t)(sq9(n.NE - P) * 9 + sq9(n.NW - P));
            st->msel[2] = (int32_t)(((uint32_t)P * 8u / ((uint32_t)maxv + 1u)) * 9u + (unsigned)sW * 3u + (unsigned)sN);
            /* their rows for the first nodes are likely cache misses: fetch them now */
            for (unsigned nd = 0; nd < 4; nd++) {
                const int32_t *r1 = &M->w1s[((size_t)st->msel[0] * NNODE + nd) * MIX_ROW];
                const int32_t *r4 = &M->wx[0][((size_t)st->msel[1] * NNODE + nd) * MIX_ROW];
                const int32_t *r5 = &M->wx[1][((size_t)st->msel[2] * NNODE + nd) * MIX_ROW];
                __builtin_prefetch(r1);
                __builtin_prefetch(r1 + 16);
                __builtin_prefetch(r4);
                __builtin_prefetch(r4 + 16);
                __builtin_prefetch(r5);
                __builtin_prefetch(r5 + 16);
            }
        }
        for (unsigned nd = 0; nd < 4; nd++) {
            const int32_t *p3 = &M->w3[((size_t)st->msel3 * NNODE + nd) * MIX_ROW];
            const int32_t *p2 = &M->w2[((size_t)st->bq * NNODE + nd) * MIX_ROW];
            __builtin_prefetch(p3);
            __builtin_prefetch(p3 + 16);
            __builtin_prefetch(p2);
            __builtin_prefetch(p2 + 16);
            __builtin_prefetch(&M->apm3[((uint32_t)st->a3sel * 6 + nd) * 33]);
        }
    }
    st->P = P;
    const int use_z_save = st->use_z;
    if (!side_here) st->use_z = 0;

    /* code r = v - P */
    int32_t v = st->dec ? 0 : (int32_t)vdm_sub_get(g, pix, c);
    int32_t r = v - P;
    const int32_t amax_pos = maxv - P, amax_neg = P;
    vdm_status bad = VDM_OK;
    st->neg = 0;
    st->alo = 0;
    if (maxv > 0) {
        if (cbit(st, NODE_ZERO, 1, r != 0)) {
            int neg;
            if (amax_neg == 0) neg = 0;
            else if (amax_pos == 0) neg = 1;
            else neg = cbit(st, NODE_SIGN, 1, r < 0);
            st->neg = neg;
            const uint32_t amax = (uint32_t)(neg ? amax_neg : amax_pos);
            const unsigned emax = vdm_cm_bitlen(amax) - 1;
            const uint32_t a = (uint32_t)(r < 0 ? -r : r);
            const unsigned e0 = st->dec ? 0 : vdm_cm_bitlen(a) - 1;
            unsigned e = 0;
            st->alo = 1;
            while (e < emax && cbit(st, NODE_EXP + e, 2u << e, e0 > e)) { e++; st->alo = 1u << e; }
            uint32_t m = 1;
            for (int j = (int)e - 1; j >= 0; j--) {
                const unsigned node = j == (int)e - 1 ? NODE_MHI + e
                                    : j == (int)e - 2 ? NODE_M2 + e
                                    : NODE_MLO + (unsigned)j;
                const uint32_t lo = m << (j + 1);
                const uint32_t bitv = (uint32_t)cbit(st, node, lo + (1u << j), (int)((a >> j) & 1u));
                m = (m << 1) | bitv;
                st->alo = m << j;
            }
            if (m > amax) bad = VDM_ERR_CORRUPT;
            r = neg ? -(int32_t)m : (int32_t)m;
        } else {
            r = 0;
        }
    }
    st->use_z = use_z_save;
    if (bad != VDM_OK) return bad;
    v = P + r;
    if (st->dec) vdm_sub_put(g, pix, c, (uint32_t)v);

    /* updates */
    bc[0] += (int32_t)((int64_t)v * 8 - Pf);
    if (++bc[1] >= BIAS_HALVE) {
        bc[0] = (int32_t)vdm_cm_floordiv(bc[0], 2);
        bc[1] >>= 1;
    }
    bc2[0] += (int32_t)((int64_t)v * 8 - Pf);
    if (++bc2[1] >= BIAS_HALVE) {
        bc2[0] = (int32_t)vdm_cm_floordiv(bc2[0], 2);
        bc2[1] >>= 1;
    }
    for (unsigned j = 0; j < st->nxbp; j++) {
        int32_t *e = &M->xb[j][st->xbi[j] * 2];
        e[0] += (int32_t)(((int64_t)v - P) * 8);
        if (++e[1] >= XB_HALVE) {
            e[0] = (int32_t)vdm_cm_floordiv(e[0], 2);
            e[1] >>= 1;
        }
    }
    R->val[y % NVROW][x] = v;
    res_cur[x] = r;
    if (st->v7) {   /* energy: 4 |r| (x16) and 3/8 each of the sample above and the one before */
        int32_t *ec = R->eng[y & 1];
        const int32_t up = y ? R->eng[(y + 1) & 1][x] : 0, left = x ? ec[x - 1] : up;
        ec[x] = (64 * abs(r) + 6 * up + 6 * left) / 16;
    }
    uint32_t *pe = &R->perr[y % NPROW][x * NPRED_MAX];
    for (unsigned i = 0; i < np; i++) pe[i] = (uint32_t)abs(pred[i] - v);
    {
        int64_t en = NLMS_EPS;
        for (unsigned i = 0; i < nl; i++) en += (int64_t)in[i] * in[i];
        for (int li = 0; li < NLMS_K; li++) {
            const int64_t f = vdm_cm_floordiv(((int64_t)v * 8 - lp8[li]) * nlms_mu[li] * (1 << 14), en);
            for (unsigned i = 0; i < nl; i++)
                R->lw[li][i] = vdm_cm_clampi(R->lw[li][i] + vdm_cm_floordiv(f * in[i], 1 << 13),
                                      -(1 << 20), 1 << 20);
        }
    }
    {
        const int64_t oe = (int64_t)v * 8 - op8;
        double sw = 1.0 / (OLS_WK + (double)(oe < 0 ? -oe : oe) / 8.0);
        sw = sw / (1.0 + (double)eraw / OLS_LV);
        ols_update(&R->ols[0], x, in, v - n.W, sw);
        const int64_t oe2 = (int64_t)v * 8 - o2p8;
        double sw2 = 1.0 / (OLS_WK + (double)(oe2 < 0 ? -oe2 : oe2) / 8.0);
        sw2 = sw2 / (1.0 + (double)eraw2 / OLS_LV);
        ols_update(&R->ols[1], x, in2, v - n.W, sw2);
        if (st->v8) {
            const int64_t es = (int64_t)v * 8 - Ps;
            const double sw3 = 1.0 / (OLS_WK + (double)(es < 0 ? -es : es) / 8.0);
            ols_update(&R->stk, x, stk_in, (int32_t)((int64_t)v * 8 - Pb), sw3);
        }
    }
    return VDM_OK;
}

static vdm_status cm_run(cm_state *st)
{
    const vdm_subimage *g = st->g;
    const uint32_t w = g->width, h = g->height;
    const unsigned nch = g->nch;
    const int32_t maxv = (int32_t)g->maxval;
    st->maxv = maxv;

    /* Rows in raster order, the samples of a pixel in coding order.  Method
     * 9 (rgb) codes G two rows and R one row ahead of B (and the rest):
     * pass s codes G's row s, then R's row s - 1, then the row s - 2 of
     * the other positions, so that R sees G below and to the right of its
     * sample, and B sees G and R there.  Groups of coding positions
     * [gk[i], gk[i + 1]) lag glag[i] rows. */
    unsigned gk[4] = { 0, nch }, glag[3] = { 0 }, ngr = 1;
    if (st->lag) {
        gk[1] = 1; gk[2] = 2; gk[3] = nch;
        glag[1] = 1; glag[2] = 2;
        ngr = 3;
    }
    const uint32_t npass = h + glag[ngr - 1];
    for (uint32_t s = 0; s < npass; s++) {
        for (unsigned gi = 0; gi < ngr; gi++) {
            if (s < glag[gi] || s - glag[gi] >= h) continue;
            const uint32_t y = s - glag[gi];
            for (unsigned k = gk[gi]; k < gk[gi + 1]; k++) {
                for (int o = 0; o < NOLS; o++) ols_row_start(&st->rows[k].ols[o], w);
                if (st->v8) ols_row_start(&st->rows[k].stk, w);
            }
            for (uint32_t x = 0; x < w; x++) {
                if (st->tw) {
                    const uint32_t t = (y / st->th) * st->ntx + x / st->tw;
                    st->enc = st->tenc ? &st->tenc[t] : NULL;
                    st->dec = st->tdec && st->tuse[t] ? &st->tdec[t] : NULL;
                }
                for (unsigned k = gk[gi]; k < gk[gi + 1]; k++) {
                    vdm_status r = code_sample(st, k, x, y);
                    if (r != VDM_OK) return r;
                }
            }
        }
        if (!st->tw && st->dec && st->dec->overrun) return VDM_ERR_CORRUPT;
        if (!st->tw && st->enc && st->enc->oom) return VDM_ERR_NOMEM;
        if (g->progress && (s & 31) == 31 && g->progress(g->progress_user, (double)(s + 1) / npass)) return VDM_ERR_CANCELLED;
    }
    return VDM_OK;
}

/* ---- setup ---------------------------------------------------------------- */
static void rows_free(cm_rows *r)
{
    for (int i = 0; i < NVROW; i++) free(r->val[i]);
    for (int i = 0; i < NRROW; i++) free(r->res[i]);
    for (int i = 0; i < 2; i++) free(r->eng[i]);
    for (int i = 0; i < NPROW; i++) free(r->perr[i]);
    for (int o = 0; o < NOLS; o++) { free(r->ols[o].cacc); free(r->ols[o].hacc); }
    free(r->stk.cacc);
    free(r->stk.hacc);
}

static int ols_alloc(ols_t *O, uint32_t w, unsigned nl, double decay, double nu, unsigned period)
{
    O->period = period;
    O->nl = nl;
    O->T = nl * (nl + 1) / 2 + nl;
    O->decay = decay;
    O->nu = nu;
    O->cacc = calloc((size_t)w * O->T, sizeof(double));
    O->hacc = calloc(((size_t)w + period - 1) / period * O->T, sizeof(double));
    return O->cacc && O->hacc;
}

/* d1: OLS 1's window (decay) */
static int rows_alloc(cm_rows *r, uint32_t w, unsigned nl, unsigned nl2, double d1, int v5, int v6, int v7, int v8)
{
    memset(r, 0, sizeof *r);
    r->nl = nl;
    int ok = 1;
    for (int i = 0; i < NVROW; i++) ok &= (r->val[i] = calloc(w, sizeof(int32_t))) != NULL;
    for (int i = 0; i < NRROW; i++) ok &= (r->res[i] = calloc(w, sizeof(int32_t))) != NULL;
    for (int i = 0; v7 && i < 2; i++) ok &= (r->eng[i] = calloc(w, sizeof(int32_t))) != NULL;
    for (int i = 0; i < NPROW; i++)
        ok &= (r->perr[i] = calloc((size_t)w * NPRED_MAX, sizeof(uint32_t))) != NULL;
    /* solved at every x (method 4), even x (method 5; OLS 2 and the
     * stacking fit from then on), every 4th x (method 6's OLS 1 on) */
    const unsigned per = v5 ? 2 : 1;
    ok &= ols_alloc(&r->ols[0], w, nl, d1, ols_nu[0], v6 ? OLS1_PERIOD_V6 : per);
    ok &= ols_alloc(&r->ols[1], w, nl2, v8 ? OLS2_DECAY_V8 : ols_decay[1], ols_nu[1], per);
    if (v8) ok &= ols_alloc(&r->stk, w, NSTK, STK_DECAY, STK_NU, per);
    return ok;
}

static void model_free(chan_model *M)
{
    if (!M) return;
    for (int m = 0; m < NM4_MAX; m++) free(M->t[m]);
    free(M->ht[0]);   /* one block for every hashed table */
    for (int j = 0; j < NPAIR_MAX; j++) free(M->pt[j]);
    for (int j = 0; j < NXBP_MAX; j++) { free(M->xt[j]); free(M->xb[j]); }
    free(M->w2);
    free(M->w3);
    free(M->w1s);
    for (int j = 0; j < NMIX_MAX; j++) free(M->wn[j]);
    for (int j = 0; j < 3; j++) free(M->wx[j]);
    free(M->apm3);
    for (int j = 0; j < NH_MAX + NPAIR_MAX; j++) free(M->sm[j]);
    free(M->apm);
    free(M->apm2);
    free(M);
}

static int32_t model_size(int m)
{
    /* the bit-predictor models and the side model share one size */
    return m < NM_FIX ? model_size_fix[m] : BP_MODEL_SIZE > SIDE_MODEL_SIZE ? BP_MODEL_SIZE : SIDE_MODEL_SIZE;
}

static void apm_init(uint16_t *a, size_t rows)
{
    for (size_t i = 0; i < rows; i++)
        for (int j = 0; j < 33; j++) {
            const int32_t v = squash((j - 16) * 128);
            a[i * 33 + j] = (uint16_t)(v > 65535 ? 65535 : v);
        }
}

static counter *counters_new(size_t n)
{
    counter *t = malloc(n * sizeof(counter));
    if (t)
        for (size_t i = 0; i < n; i++) { t[i].p = 32768; t[i].n = 0; }
    return t;
}

/* The hashed tables (1 MiB each, read at random): one block, 2 MiB
 * aligned, in huge pages where the system offers them (fewer TLB misses;
 * the contents are the same either way). */
static counter *counters_new_large(size_t n)
{
    const size_t align = (size_t)1 << 21;
    const size_t bytes = (n * sizeof(counter) + align - 1) / align * align;
    counter *t = aligned_alloc(align, bytes);
    if (!t) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(t, bytes, MADV_HUGEPAGE);   /* advice only: ignored where unsupported */
#endif
    for (size_t i = 0; i < n; i++) { t[i].p = 32768; t[i].n = 0; }
    return t;
}

/* A mixer's weight row at the start: every model input MIX_INIT; the side
 * input, the constant and the padding 0. */
static void mix_row_init(int32_t *row, unsigned nm)
{
    for (unsigned i = 0; i < MIX_ROW; i++) row[i] = i < nm ? MIX_INIT : 0;
}

static int32_t *mix_rows_new(size_t sets, unsigned nm)
{
    int32_t *w = aligned_alloc(64, sizeof(int32_t) * sets * NNODE * MIX_ROW);
    if (w)
        for (size_t s = 0; s < sets * NNODE; s++) mix_row_init(&w[s * MIX_ROW], nm);
    return w;
}

static chan_model *model_alloc(unsigned nm4, unsigned nh, unsigned npair, int v5, int v6, int v7)
{
    /* 64-byte aligned (C11 aligned_alloc; sizes are multiples of 64): the
     * mixer rows are whole cache lines and the SIMD twin's aligned vectors */
    chan_model *M = aligned_alloc(64, sizeof *M);
    if (!M) return NULL;
    memset(M, 0, sizeof *M);
    const unsigned nm = nm4 + (v5 ? NXBP_MAX : 0) + nh + npair;   /* every model input */
    for (unsigned m = 0; m < nm4; m++)
        if (!(M->t[m] = counters_new((size_t)model_size((int)m) * NNODE))) { model_free(M); return NULL; }
    if (nh) {
        counter *blk = counters_new_large((size_t)nh << H_BITS);
        if (!blk) { model_free(M); return NULL; }
        for (unsigned j = 0; j < nh; j++) M->ht[j] = blk + ((size_t)j << H_BITS);
    }
    for (unsigned j = 0; j < npair; j++)
        if (!(M->pt[j] = counters_new((size_t)NBB * NBB * NNODE))) { model_free(M); return NULL; }
    M->apm = malloc(sizeof(uint16_t) * NNODE * NAPMC * 33);
    M->apm2 = malloc(sizeof(uint16_t) * NNODE * NAPM2C * 33);
    M->w2 = aligned_alloc(64, sizeof(int32_t) * NBQ * NNODE * MIX_ROW);
    if (!M->apm || !M->apm2 || !M->w2) { model_free(M); return NULL; }
    /* the constant input is the last mixer input: nm + 1 */
    for (int s = 0; s < NNODE; s++)
        mix_row_init(M->w[s], nm);
    for (size_t s = 0; s < (size_t)NBQ * NNODE; s++)
        mix_row_init(&M->w2[s * MIX_ROW], nm);
    apm_init(M->apm, (size_t)NNODE * NAPMC);
    apm_init(M->apm2, (size_t)NNODE * NAPM2C);
    if (v5) {
        if (!(M->w3 = mix_rows_new(NSEL3, nm))) { model_free(M); return NULL; }
        const unsigned nmix = v7 ? 6 : 3;   /* the final mix starts as the mean */
        for (int s = 0; s < NNODE; s++)
            for (unsigned j = 0; j < nmix; j++) M->wf[s][j] = 65536 / (int32_t)nmix;
        if (v7) {   /* mixers 1 and 4-6, and every mixer's row counts */
            int ok = (M->w1s = mix_rows_new(nsel_v7[0], nm)) != NULL;
            for (int j = 0; j < 3; j++) ok = ok && (M->wx[j] = mix_rows_new(nsel_v7[3 + j], nm)) != NULL;
            for (int j = 0; j < NMIX_MAX; j++) ok = ok && (M->wn[j] = calloc(nsel_v7[j] * NNODE, sizeof(uint16_t))) != NULL;
            if (!ok) { model_free(M); return NULL; }
        }
        if (!(M->apm3 = malloc(sizeof(uint16_t) * NA3 * 6 * 33))) { model_free(M); return NULL; }
        apm_init(M->apm3, (size_t)NA3 * 6);
        for (unsigned j = 0; j < (v6 ? 0 : nh + npair); j++) {   /* method 6 has no state maps */
            if (!(M->sm[j] = malloc(sizeof(uint16_t) * NNODE * 16 * 32))) { model_free(M); return NULL; }
            for (size_t e = 0; e < (size_t)NNODE * 16 * 32; e++) M->sm[j][e] = (uint16_t)((e & 31) * 2048 + 1024);
        }
    }
    return M;
}

/* method: 4, 5 or 6 */
static vdm_status cm_setup(cm_state *st, const vdm_subimage *g, const vdm_cm_side *side, unsigned method)
{
    memset(st, 0, sizeof *st);
    st->g = g;
    const int v5 = method >= VDM_CLASSICAL_CM5, v6 = method >= VDM_CLASSICAL_CM6, v7 = method >= VDM_CLASSICAL_CM7,
              v8 = method >= VDM_CLASSICAL_CM8, v9 = method >= VDM_CLASSICAL_CM9;
    st->v5 = v5;
    st->v6 = v6;
    st->v7 = v7;
    st->v8 = v8;
    st->v9 = v9;
    st->lag = v9 && g->rgb;
    st->mix_simd = vdm_cm4_simd_level() >= VDM_SIMD_AVX2;
    if (v5) {
        for (unsigned j = 0; j < (v6 ? NH_MAX : NH_V5); j++) st->hid[st->nh++] = (uint8_t)j;
        for (unsigned j = 0; j < NXBP_MAX; j++) st->xid[st->nxbp++] = (uint8_t)j;
        for (unsigned j = 0; j < NPAIR_MAX; j++) { st->pa[st->npair] = pair_a[j]; st->pb[st->npair] = pair_b[j]; st->npair++; }
    }
    if (g->nch < 1 || g->nch > 4 || g->maxval > 65535 || (g->rgb && g->nch < 3) ||
        g->width == 0 || g->width > VDM_CM4_MAX_WIDTH || g->height == 0 || !g->data ||
        g->stride < 1 || g->stride > 4)
        return VDM_ERR_ARG;
    for (unsigned c = 0; c < g->nch; c++)
        if (g->chan[c] >= g->stride) return VDM_ERR_ARG;
    if (side && g->rgb && g->nch == 3 && g->maxval == 255 && g->bit_depth == 8) {
        if (side->z) {
            if (!(side->alpha > 1e-6f && side->alpha < 1e6f) || !(side->sigma > 1e-6f && side->sigma < 1e6f))
                return VDM_ERR_ARG;
            st->use_z = 1;
        }
        st->use_xhat = side->xhat != NULL;
        if (st->use_z || st->use_xhat) st->side = side;
    }
    if (st->use_z) {
        const double sv = (double)side->sigma / (double)side->alpha * 127.5 * 4.0;   /* noise std, 1/4 value units */
        const uint32_t si = sv > 1e9 ? 1000000000u : (uint32_t)sv;
        const unsigned b = vdm_cm_quant_activity(si);
        st->nlev = (int32_t)(b > 15 ? 15 : b);
        if (!(st->lik = malloc(sizeof(double) * 257))) return VDM_ERR_NOMEM;
    }
    if (v5 && st->side) {
        /* the side image as a reference image, where it is neither nearly
         * exact nor nearly pure noise: noise std (in 8-bit values) within
         * [SIDE_REF_MIN, SIDE_REF_MAX]; xhat alone: always */
        const double nz = st->use_z ? (double)side->sigma / (double)side->alpha * 127.5 : 1.0;
        st->side_ref = nz >= SIDE_REF_MIN && nz <= SIDE_REF_MAX;
    }
    if (!(st->tab = malloc(sizeof *st->tab))) return VDM_ERR_NOMEM;
    init_tabs(st->tab);
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
    const unsigned nm4 = NM_FIX + NBP_PLAIN + (st->use_z ? 1 : 0) + (st->use_xhat ? 1 : 0) + (st->use_z ? NSIDE_M : 0);
    for (unsigned kk = 0; kk < g->nch; kk++) {
        const unsigned nl = 9 + (st->has_ref[kk] ? 6 : 0) + (g->rgb && kk == 2 ? 2 : 0) +
                            (st->lag && st->has_ref[kk] ? 4 * kk : v6 ? 4 : 0) + (v9 && kk == 0 ? 4 : 0);
        const unsigned nl2 = 6 + (v9 && kk == 0 ? 3 : 0) + (st->has_ref[kk] ? 4 : 0) + (g->rgb && kk == 2 ? 2 : 0) +
                             (st->side_ref && g->rgb && kk < 3 ? 5 : 0);   /* the side's values */
        if (!(st->cm[kk] = model_alloc(nm4, st->nh, st->npair, v5, v6, v7))) return VDM_ERR_NOMEM;
        for (unsigned j = 0; j < st->nxbp; j++) {
            chan_model *M = st->cm[kk];
            if (!(M->xt[j] = counters_new((size_t)NBB * NNODE))) return VDM_ERR_NOMEM;
            if (!(M->xb[j] = calloc((size_t)XB_SIZE * 2, sizeof(int32_t)))) return VDM_ERR_NOMEM;
        }
        const double d1 = st->lag && st->has_ref[kk] ? OLS1_DECAY_V9_REF
                        : v7 ? OLS1_DECAY_V7 : v6 ? OLS1_DECAY_V6 : ols_decay[0];
        if (!rows_alloc(&st->rows[kk], g->width, nl, nl2, d1, v5, v6, v7, v8)) return VDM_ERR_NOMEM;
    }
    return VDM_OK;
}

static void cm_teardown(cm_state *st)
{
    for (unsigned c = 0; c < 4; c++) { rows_free(&st->rows[c]); model_free(st->cm[c]); }
    free(st->tab);
    free(st->lik);
}

static vdm_status cmx_encode(unsigned method, const vdm_subimage *g, const vdm_cm_side *side, vdm_buf *out)
{
    VDM_RETURN_IF(!g || !out, VDM_ERR_ARG);
    cm_state st;
    vdm_status rc = cm_setup(&st, g, side, method);
    vdm_rc_enc enc;
    vdm_rc_enc_init(&enc);
    if (rc == VDM_OK) {
        st.enc = &enc;
        rc = cm_run(&st);
    }
    cm_teardown(&st);
    return vdm_cm_payload_done(g, &enc, out, rc);
}

static vdm_status cmx_decode(unsigned method, const vdm_subimage *g0, const vdm_cm_side *side, const uint8_t *in, size_t n)
{
    VDM_RETURN_IF(!g0 || (!in && n), VDM_ERR_ARG);
    vdm_subimage g;
    vdm_rc_dec dec;
    VDM_FORWARD(vdm_cm_payload_open(g0, in, n, &g, &dec));
    if (g.width > VDM_CM4_MAX_WIDTH) return VDM_ERR_CORRUPT;
    cm_state st;
    vdm_status rc = cm_setup(&st, &g, side, method);
    if (rc == VDM_OK) {
        st.dec = &dec;
        rc = cm_run(&st);
    }
    cm_teardown(&st);
    return vdm_cm_payload_check(&dec, rc);
}

/* Every tile's stream (out[t]) and, when whole != NULL, the whole image's
 * payload (as cmx_encode without side information) from the same pass: the
 * model state does not depend on where the bits go, so both are the bytes
 * the separate encoders write. */
static vdm_status cmx_tiles_encode(unsigned method, const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *out,
                                   vdm_buf *whole)
{
    uint64_t nt;
    VDM_FORWARD(vdm_cm_tiles_count(g, tw, th, &nt));
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    cm_state st;
    vdm_status rc = cm_setup(&st, g, NULL, method);
    vdm_rc_enc *enc = rc == VDM_OK ? vdm_cm_tiles_enc_new(nt) : NULL;
    if (rc == VDM_OK && !enc) rc = VDM_ERR_NOMEM;
    vdm_rc_enc wenc;
    vdm_rc_enc_init(&wenc);
    if (rc == VDM_OK) {
        st.tw = tw;
        st.th = th;
        st.ntx = (g->width + tw - 1) / tw;
        st.tenc = enc;
        st.wenc = whole ? &wenc : NULL;
        rc = cm_run(&st);
    }
    cm_teardown(&st);
    rc = vdm_cm_tiles_enc_done(enc, nt, out, rc);
    if (whole) return vdm_cm_payload_done(g, &wenc, whole, rc);
    free(wenc.buf);
    return rc;
}

static vdm_status cmx_tiles_decode(unsigned method, const vdm_subimage *g, uint32_t tw, uint32_t th,
                                   const uint8_t *const *in, const size_t *n)
{
    uint64_t nt;
    VDM_FORWARD(vdm_cm_tiles_count(g, tw, th, &nt));
    VDM_RETURN_IF(!in || !n, VDM_ERR_ARG);
    cm_state st;
    vdm_status rc = cm_setup(&st, g, NULL, method);
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

static int cm_method_ok(unsigned method)
{
    return method >= VDM_CLASSICAL_CM4 && method <= VDM_CLASSICAL_CM9;
}

vdm_status vdm_cm_encode(unsigned method, const vdm_subimage *g, const vdm_cm_side *side, vdm_buf *out)
{
    VDM_RETURN_IF(!cm_method_ok(method), VDM_ERR_ARG);
    return cmx_encode(method, g, side, out);
}

vdm_status vdm_cm_decode(unsigned method, const vdm_subimage *g, const vdm_cm_side *side, const uint8_t *in, size_t n)
{
    VDM_RETURN_IF(!cm_method_ok(method), VDM_ERR_ARG);
    return cmx_decode(method, g, side, in, n);
}

vdm_status vdm_cm_tiles_encode(unsigned method, const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *out)
{
    VDM_RETURN_IF(!cm_method_ok(method), VDM_ERR_ARG);
    return cmx_tiles_encode(method, g, tw, th, out, NULL);
}

vdm_status vdm_cm_tiles_decode(unsigned method, const vdm_subimage *g, uint32_t tw, uint32_t th,
                               const uint8_t *const *in, const size_t *n)
{
    VDM_RETURN_IF(!cm_method_ok(method), VDM_ERR_ARG);
    return cmx_tiles_decode(method, g, tw, th, in, n);
}

vdm_status vdm_cm_encode_tiled(unsigned method, const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *whole,
                               vdm_buf *tiles)
{
    VDM_RETURN_IF(!cm_method_ok(method) || !whole, VDM_ERR_ARG);
    return cmx_tiles_encode(method, g, tw, th, tiles, whole);
}
