/* test_ans_bitsback.c — bits-back coding on a linear-Gaussian Markov chain,
 * XOR stream cleaning (keystream layout against RFC 8439 vectors; clean vs
 * not clean on a non-uniform stream), initial bits in a tile chain.
 *
 * The chain (one per latent dimension, all independent):
 *   x ~ N(0, s0^2) discretised on the integers (the "data"),
 *   z_i = z_{i-1} + N(0, b_i), i = 1..T (z_0 = x),
 * so the marginals are N(0, v_i), v_i = v_{i-1} + b_i, and the exact reverse
 * conditionals are p(z_{i-1} | z_i) = N(z_i v_{i-1}/v_i, v_{i-1} b_i / v_i),
 * prior N(0, v_T).  With these the ELBO is tight: net bits = -log2 P(x).
 * Encoding follows DESIGN.md's Bit-Swap order per tile of NDIM dimensions. */
#include <criterion/criterion.h>
#include <string.h>
#include "test_ans_util.h"

#define T 6
static const double S0 = 30.0;
static const double B[T] = {1.5 * 1.5, 4 * 4, 10 * 10, 20 * 20, 30 * 30, 40 * 40};

typedef struct {
    double v[T + 1];        /* marginal variances, v[0] = s0^2 */
    float delta[T + 1];     /* grid of z_i; delta[0] = 1 (the data grid) */
    float fsd[T + 1];       /* forward std sqrt(b_i), i >= 1 */
    float rm[T + 1];        /* reverse mean factor for p(z_{i-1} | z_i) */
    float rsd[T + 1];       /* reverse std */
    float prior_sd;
} chain;

/* var_scale != 1 makes the reverse model wrong on purpose (a loose ELBO). */
static void chain_init(chain *c, double var_scale)
{
    c->v[0] = S0 * S0;
    for (int i = 1; i <= T; i++) c->v[i] = c->v[i - 1] + B[i - 1];
    c->delta[0] = 1.0f;
    for (int i = 1; i <= T; i++) {
        c->fsd[i] = (float)sqrt(B[i - 1]);
        c->rm[i] = (float)(c->v[i - 1] / c->v[i]);
        c->rsd[i] = (float)sqrt(var_scale * c->v[i - 1] * B[i - 1] / c->v[i]);
    }
    for (int i = 1; i <= T; i++) {
        double m = c->fsd[i];
        if (i < T && c->rsd[i + 1] < m) m = c->rsd[i + 1];
        c->delta[i] = (float)(m / 32.0);
    }
    c->prior_sd = (float)sqrt(c->v[T]);
}

typedef struct {
    int n;
    int32_t *k[T + 1];      /* k[0] = x, k[i] = grid index of z_i */
    float *mu, *sd;
} work;

static void work_init(work *w, int n)
{
    w->n = n;
    for (int i = 0; i <= T; i++) w->k[i] = calloc((size_t)n, sizeof(int32_t));
    w->mu = malloc((size_t)n * sizeof(float));
    w->sd = malloc((size_t)n * sizeof(float));
}

static void work_free(work *w)
{
    for (int i = 0; i <= T; i++) free(w->k[i]);
    free(w->mu);
    free(w->sd);
}

/* means of q(z_i | z_{i-1}) and p(z_{i-1} | z_i), in float, same on both sides */
static void q_mean(const chain *c, const work *w, int i)
{
    for (int d = 0; d < w->n; d++) w->mu[d] = (float)w->k[i - 1][d] * c->delta[i - 1];
}
static void p_mean(const chain *c, const work *w, int i)
{
    for (int d = 0; d < w->n; d++) w->mu[d] = c->rm[i] * ((float)w->k[i][d] * c->delta[i]);
}

static const unsigned PREC = VDM_ANS_GAUSS_PREC_DEFAULT;

/* Encode one tile (w->k[0] holds x).  clean: XOR cleaning before each pop. */
static void encode_tile(vdm_ans *a, const chain *c, work *w, const uint8_t *key, uint32_t tile, int clean)
{
    float zero = 0.0f;
    for (int i = 1; i <= T; i++) {
        q_mean(c, w, i);
        cr_assert_eq(vdm_ans_bb_sample(a, clean ? key : NULL, 0, tile, (uint32_t)i, (size_t)w->n, w->k[i], w->mu,
                                       &c->fsd[i], 0, c->delta[i], PREC), VDM_OK);
        p_mean(c, w, i);
        cr_assert_eq(vdm_ans_gauss_push_vec(a, (size_t)w->n, w->k[i - 1], w->mu, &c->rsd[i], 0, c->delta[i - 1], PREC),
                     VDM_OK);
    }
    for (int d = 0; d < w->n; d++) w->mu[d] = zero;
    cr_assert_eq(vdm_ans_gauss_push_vec(a, (size_t)w->n, w->k[T], w->mu, &c->prior_sd, 0, c->delta[T], PREC), VDM_OK);
}

/* Decode one tile: the mirror image; leaves x in w->k[0]. */
static void decode_tile(vdm_ans *a, const chain *c, work *w, const uint8_t *key, uint32_t tile, int clean)
{
    for (int d = 0; d < w->n; d++) w->mu[d] = 0.0f;
    cr_assert_eq(vdm_ans_gauss_pop_vec(a, (size_t)w->n, w->k[T], w->mu, &c->prior_sd, 0, c->delta[T], PREC), VDM_OK);
    for (int i = T; i >= 1; i--) {
        p_mean(c, w, i);
        cr_assert_eq(vdm_ans_gauss_pop_vec(a, (size_t)w->n, w->k[i - 1], w->mu, &c->rsd[i], 0, c->delta[i - 1], PREC),
                     VDM_OK);
        q_mean(c, w, i);
        cr_assert_eq(vdm_ans_bb_unsample(a, clean ? key : NULL, 0, tile, (uint32_t)i, (size_t)w->n, w->k[i], w->mu,
                                         &c->fsd[i], 0, c->delta[i], PREC), VDM_OK);
    }
}

static int32_t draw_x(trng *r) { return draw_gauss_k(r, 0.0, S0, 1.0); }
static double x_bits(int32_t x) { return ref_gauss_bits(0.0, S0, 1.0, x); }

/* Tight chain: net bits = -log2 P(x) within 0.5 %; later tiles borrow the bits
 * earlier tiles left, so only the first tile draws initial bits; the decoder
 * recovers every x and ends on exactly the initial words. */
Test(ans_bitsback, tight_chain_net_length)
{
    const int NDIM = 1024, TILES = 24 / ANS_TEST_SCALE + 2;
    trng r = {21};
    chain c;
    chain_init(&c, 1.0);
    uint8_t key[32];
    vdm_ans_clean_key(key, 0);
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    work w;
    work_init(&w, NDIM);
    int32_t *xs = malloc((size_t)NDIM * TILES * sizeof *xs);
    double ideal = 0;
    uint64_t drawn_after_first = 0;
    for (int t = 0; t < TILES; t++) {
        for (int d = 0; d < NDIM; d++) {
            xs[t * NDIM + d] = w.k[0][d] = draw_x(&r);
            ideal += x_bits(w.k[0][d]);
        }
        encode_tile(a, &c, &w, key, (uint32_t)t, 1);
        if (t == 0) drawn_after_first = vdm_ans_initial_words(a);
    }
    uint64_t drawn = vdm_ans_initial_words(a);
    double info = vdm_ans_info_bits(a) - 31.0;           /* the empty stack holds log2(L) = 31 */
    double net = info - 32.0 * (double)drawn;
    double total = (double)vdm_ans_size_bits(a);
    fprintf(stderr, "[ans bits-back, tight chain] %d data, T=%d: -log2 P(x) = %.1f bits (%.4f/datum); "
            "net %.1f (%.4f/datum, %+.4f %%); initial bits %llu (all in tile 0: %s); file %.0f bits\n",
            NDIM * TILES, T, ideal, ideal / (NDIM * TILES), net, net / (NDIM * TILES), 100 * (net - ideal) / ideal,
            (unsigned long long)(32 * drawn), drawn == drawn_after_first ? "yes" : "no", total);
    cr_assert(fabs(net - ideal) <= 0.005 * ideal, "net %.1f vs ideal %.1f", net, ideal);
    cr_assert_eq(drawn, drawn_after_first, "later tiles must borrow, not draw");
    cr_assert(total <= ideal * 1.005 + 32.0 * (double)drawn + 64);

    /* decode from the serialised bytes */
    size_t n;
    uint8_t *buf = ans_dump(a, &n);
    vdm_ans *b;
    cr_assert_eq(vdm_ans_create(&b), VDM_OK);
    cr_assert_eq(vdm_ans_deserialize(b, buf, n), VDM_OK);
    for (int t = TILES; t-- > 0;) {
        decode_tile(b, &c, &w, key, (uint32_t)t, 1);
        cr_assert(memcmp(w.k[0], xs + t * NDIM, (size_t)NDIM * sizeof(int32_t)) == 0, "tile %d differs", t);
    }
    uint64_t nw;
    cr_assert_eq(vdm_ans_check_pristine(b, &nw), VDM_OK);
    cr_assert_eq(nw, drawn);
    free(buf);
    free(xs);
    work_free(&w);
    vdm_ans_free(a);
    vdm_ans_free(b);
}

/* Expected net bits per datum of the (loose) chain, by Monte Carlo with libm:
 * E_q[ log q(z|x) - log p(x, z) ], grid widths cancelling between each
 * latent's pop and push (both on the same grid). */
static double elbo_bits_mc(const chain *c, trng *r, int samples)
{
    double acc = 0;
    for (int s = 0; s < samples; s++) {
        double z[T + 1];
        int32_t x = draw_x(r);
        z[0] = x;
        double nats = 0;
        for (int i = 1; i <= T; i++) {
            double e = trng_normal(r);
            z[i] = z[i - 1] + c->fsd[i] * e;
            nats += -0.5 * e * e - log(c->fsd[i]);                    /* log q(z_i | z_{i-1}) */
        }
        double zt = z[T] / c->prior_sd;
        nats -= -0.5 * zt * zt - log(c->prior_sd);                    /* - log p(z_T) */
        for (int i = T; i >= 2; i--) {
            double d = (z[i - 1] - c->rm[i] * z[i]) / c->rsd[i];
            nats -= -0.5 * d * d - log(c->rsd[i]);                    /* - log p(z_{i-1} | z_i) */
        }
        double bits = nats / log(2.0);
        bits += ref_gauss_bits(c->rm[1] * z[1], c->rsd[1], 1.0, x);   /* - log2 P(x | z_1) */
        acc += bits;
    }
    return acc / samples;
}

/* A stack whose bits are far from uniform (a payload of words with 1/16 of
 * their bits set, as a badly modelled earlier push leaves behind), then a loose
 * model coded with and without cleaning.  Both round-trip; cleaning must not
 * cost more, and with it the net length matches the ELBO. */
Test(ans_bitsback, cleaning_on_non_uniform_stream)
{
    const int NDIM = 2048, TILES = 3;
    const size_t NW0 = 60000;
    chain c;
    chain_init(&c, 2.5);
    uint8_t key[32];
    vdm_ans_clean_key(key, 7);
    trng rp = {31};
    uint8_t *payload = malloc(8 + 4 * NW0);
    for (size_t i = 0; i < 8 + 4 * NW0; i++) {
        uint8_t v = 0;
        for (int b = 0; b < 8; b++) v |= (uint8_t)((trng_below(&rp, 16) == 0) << b);
        payload[i] = v;
    }
    payload[7] = 0x00;
    payload[3] |= 0x80;                                  /* state in [L, 2^63) */
    double net[2] = {0, 0};
    double ideal = 0, elbo = 0;
    int32_t *xs = malloc((size_t)NDIM * TILES * sizeof *xs);
    trng rx = {32};
    for (int i = 0; i < NDIM * TILES; i++) { xs[i] = draw_x(&rx); ideal += x_bits(xs[i]); }
    for (int clean = 0; clean <= 1; clean++) {
        vdm_ans *a;
        cr_assert_eq(vdm_ans_create(&a), VDM_OK);
        cr_assert_eq(vdm_ans_deserialize(a, payload, 8 + 4 * NW0), VDM_OK);
        double i0 = vdm_ans_info_bits(a);
        work w;
        work_init(&w, NDIM);
        for (int t = 0; t < TILES; t++) {
            memcpy(w.k[0], xs + t * NDIM, (size_t)NDIM * sizeof(int32_t));
            encode_tile(a, &c, &w, key, (uint32_t)t, clean);
        }
        cr_assert_eq(vdm_ans_initial_words(a), 0, "the payload covers every pop");
        net[clean] = vdm_ans_info_bits(a) - i0;
        size_t n;
        uint8_t *buf = ans_dump(a, &n);
        vdm_ans *b;
        cr_assert_eq(vdm_ans_create(&b), VDM_OK);
        cr_assert_eq(vdm_ans_deserialize(b, buf, n), VDM_OK);
        for (int t = TILES; t-- > 0;) {
            decode_tile(b, &c, &w, key, (uint32_t)t, clean);
            cr_assert(memcmp(w.k[0], xs + t * NDIM, (size_t)NDIM * sizeof(int32_t)) == 0);
        }
        size_t m;
        uint8_t *back = ans_dump(b, &m);
        cr_assert_eq(m, 8 + 4 * NW0);
        cr_assert(memcmp(back, payload, m) == 0, "the payload below must come back unchanged");
        free(back);
        free(buf);
        work_free(&w);
        vdm_ans_free(a);
        vdm_ans_free(b);
    }
    trng re = {33};
    elbo = elbo_bits_mc(&c, &re, 400000 / ANS_TEST_SCALE) * NDIM * TILES;
    fprintf(stderr, "[ans cleaning] %d data, loose model: -log2 P(x) %.1f, ELBO %.1f bits; net without cleaning "
            "%.1f (%+.2f %% vs ELBO), with cleaning %.1f (%+.2f %%)\n",
            NDIM * TILES, ideal, elbo, net[0], 100 * (net[0] - elbo) / elbo, net[1], 100 * (net[1] - elbo) / elbo);
    /* What cleaning buys: the latents popped from a non-uniform stack are
     * samples of q again, so the net length tracks the ELBO.  Without it the
     * pops read the payload's skewed bits as if they were uniform: the
     * latents are biased and the net length drifts away from the bound (with
     * truncated sampling Gaussians it drifts DOWN here, because the skewed
     * payload bits are counted at face value although they carry less than
     * one bit each — the file is not really smaller in information terms). */
    cr_assert(fabs(net[1] - elbo) < fabs(net[0] - elbo),
              "cleaning must bring the net length closer to the ELBO: clean %.1f, raw %.1f, ELBO %.1f",
              net[1], net[0], elbo);
    cr_assert(fabs(net[1] - elbo) <= 0.015 * elbo, "clean net %.1f vs ELBO %.1f", net[1], elbo);
    free(xs);
    free(payload);
}

/* The keystream layout against RFC 8439: state mask = bytes 0..7, the word i
 * below the top = bytes 8+4i.. .  Two vectors: A.1 #1 (zero key and nonce,
 * block 0) and 2.3.2 (key 00..1f, nonce 00000009 0000004a 00000000, block 1,
 * which is bytes 64..127 of our stream). */
static const uint8_t rfc_a1[64] = {
    0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd, 0x28,
    0xbd, 0xd2, 0x19, 0xb8, 0xa0, 0x8d, 0xed, 0x1a, 0xa8, 0x36, 0xef, 0xcc, 0x8b, 0x77, 0x0d, 0xc7,
    0xda, 0x41, 0x59, 0x7c, 0x51, 0x57, 0x48, 0x8d, 0x77, 0x24, 0xe0, 0x3f, 0xb8, 0xd8, 0x4a, 0x37,
    0x6a, 0x43, 0xb8, 0xf4, 0x15, 0x18, 0xa1, 0x1c, 0xc3, 0x87, 0xb6, 0x69, 0xb2, 0xee, 0x65, 0x86};
static const uint8_t rfc_232[64] = {
    0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20, 0x71, 0xc4,
    0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22, 0xaa, 0x9a, 0xc3, 0xd4, 0x6c, 0x4e,
    0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa, 0x09, 0x14, 0xc2, 0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2,
    0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e};

static void keystream_via_unclean(const uint8_t key[32], uint32_t c0, uint32_t c1, uint32_t c2,
                                  uint8_t *ks, size_t nks, unsigned *lead_out)
{
    /* two stacks doing the same pushes, one inside an unclean section */
    vdm_ans *p, *q;
    cr_assert_eq(vdm_ans_create(&p), VDM_OK);
    cr_assert_eq(vdm_ans_create(&q), VDM_OK);
    cr_assert_eq(vdm_ans_unclean_begin(q, key, c0, c1, c2), VDM_OK);
    trng r = {41};
    while (8 + 4 * vdm_ans_num_words(p) < nks) {
        uint32_t s = trng_u32(&r) & 0xffff;
        cr_assert_eq(vdm_ans_push(p, s, 1, 16), VDM_OK);
        cr_assert_eq(vdm_ans_push(q, s, 1, 16), VDM_OK);
    }
    cr_assert_eq(vdm_ans_unclean_end(q), VDM_OK);
    cr_assert_eq(vdm_ans_last_clean_words(q), vdm_ans_num_words(q));
    size_t n1, n2;
    uint8_t *s1 = ans_dump(p, &n1), *s2 = ans_dump(q, &n2);
    cr_assert_eq(n1, n2);
    for (size_t i = 0; i < nks; i++) ks[i] = s1[i] ^ s2[i];
    /* the state mask only covers the bits below the state's leading one */
    *lead_out = 63 - (unsigned)__builtin_clzll(vdm_ans_state(p));
    free(s1);
    free(s2);
    vdm_ans_free(p);
    vdm_ans_free(q);
}

Test(ans_bitsback, keystream_matches_rfc8439)
{
    uint8_t key[32] = {0}, ks[128];
    unsigned lead;
    keystream_via_unclean(key, 0, 0, 0, ks, 64, &lead);
    cr_assert(memcmp(ks + 8, rfc_a1 + 8, 56) == 0, "words: A.1 #1 block");
    /* state: bytes 0..7 as LE64, restricted to the bits below the leading one */
    uint64_t want = vdm_get_le64(rfc_a1) & ((UINT64_C(1) << lead) - 1);
    cr_assert_eq(vdm_get_le64(ks), want, "state mask is not bytes 0..7");
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)i;
    keystream_via_unclean(key, 0x09000000u, 0x4a000000u, 0, ks, 128, &lead);
    cr_assert(memcmp(ks + 64, rfc_232, 64) == 0, "block 1: RFC 8439 2.3.2");
    /* the key derivation is SHA-256 of the tag and the seed */
    uint8_t k0[32], k1[32];
    vdm_ans_clean_key(k0, 0);
    vdm_ans_clean_key(k1, 1);
    cr_assert(memcmp(k0, k1, 32) != 0);
}

/* Cleaning round trip from an empty stack, with initial words consumed inside
 * clean sections; the mirror restores everything, including those words. */
Test(ans_bitsback, clean_roundtrip_from_empty)
{
    trng r = {51};
    uint8_t key[32];
    vdm_ans_clean_key(key, 3);
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    enum { STEPS = 200, N = 37 };
    static int32_t k[STEPS][N];
    static float mu[STEPS][N], sd[STEPS];
    static uint8_t x[STEPS][N];
    static float z0[STEPS][N];
    vdm_ans_lik8 lp;
    cr_assert_eq(vdm_ans_lik8_init(&lp, 0.9999f, -11.0f, VDM_ANS_LIK8_PREC_DEFAULT), VDM_OK);
    for (int s = 0; s < STEPS; s++) {
        sd[s] = (float)trng_logu(&r, 0.01, 10);
        for (int i = 0; i < N; i++) {
            mu[s][i] = (float)trng_normal(&r);
            z0[s][i] = (float)(trng_unif(&r) * 2 - 1);
            x[s][i] = (uint8_t)trng_below(&r, 256);
        }
        cr_assert_eq(vdm_ans_clean_begin(a, key, 9, 0, (uint32_t)s), VDM_OK);
        cr_assert_eq(vdm_ans_gauss_pop_vec(a, N, k[s], mu[s], &sd[s], 0, 0.001f, 30), VDM_OK);
        cr_assert_eq(vdm_ans_clean_end(a), VDM_OK);
        cr_assert_eq(vdm_ans_lik8_push_vec(a, &lp, N, x[s], z0[s]), VDM_OK);
    }
    uint64_t drawn = vdm_ans_initial_words(a);
    cr_assert_gt(drawn, 0);
    for (int s = STEPS; s-- > 0;) {
        uint8_t v[N];
        cr_assert_eq(vdm_ans_lik8_pop_vec(a, &lp, N, v, z0[s]), VDM_OK);
        cr_assert(memcmp(v, x[s], N) == 0);
        cr_assert_eq(vdm_ans_unclean_begin(a, key, 9, 0, (uint32_t)s), VDM_OK);
        cr_assert_eq(vdm_ans_gauss_push_vec(a, N, k[s], mu[s], &sd[s], 0, 0.001f, 30), VDM_OK);
        cr_assert_eq(vdm_ans_unclean_end(a), VDM_OK);
    }
    uint64_t nw;
    cr_assert_eq(vdm_ans_check_pristine(a, &nw), VDM_OK);
    cr_assert_eq(nw, drawn);
    vdm_ans_free(a);
}

/* The bits-back helpers validate first: a bad parameter changes nothing. */
Test(ans_bitsback, helpers_validate_before_touching)
{
    uint8_t key[32];
    vdm_ans_clean_key(key, 1);
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    for (int i = 0; i < 50; i++) cr_assert_eq(vdm_ans_push(a, (uint32_t)i, 1, 10), VDM_OK);
    uint64_t x = vdm_ans_state(a);
    size_t n = vdm_ans_num_words(a);
    int32_t k[4];
    float mu[4] = {0, 0, NAN, 0}, sd = 1.0f;
    cr_assert_eq(vdm_ans_bb_sample(a, key, 0, 0, 0, 4, k, mu, &sd, 0, 0.01f, 26), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_bb_unsample(a, key, 0, 0, 0, 4, k, mu, &sd, 0, 0.01f, 26), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_bb_sample(a, key, 0, 0, 0, 4, k, mu, &sd, 0, 0.0f, 26), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_state(a), x);
    cr_assert_eq(vdm_ans_num_words(a), n);
    mu[2] = 0.5f;
    cr_assert_eq(vdm_ans_bb_sample(a, key, 0, 0, 0, 4, k, mu, &sd, 0, 0.01f, 26), VDM_OK);
    cr_assert_eq(vdm_ans_bb_unsample(a, key, 0, 0, 0, 4, k, mu, &sd, 0, 0.01f, 26), VDM_OK);
    cr_assert_eq(vdm_ans_state(a), x);
    cr_assert_eq(vdm_ans_num_words(a), n);
    vdm_ans_free(a);
}
