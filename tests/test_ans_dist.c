/* test_ans_dist.c — distributions: uniform, categorical, discretised
 * Gaussian (random and adversarial parameters), 8-bit likelihood; round trips,
 * quantisation invariants, sampling by pop, code length against the ideal. */
#include <criterion/criterion.h>
#include <string.h>
#include "test_ans_util.h"

/* ------------------------------------------------------------- uniform -- */
Test(ans_dist, uniform_roundtrip)
{
    trng r = {11};
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    enum { N = 200000 };
    static uint64_t n[N];
    static uint32_t s[N];
    static const uint64_t special[] = {1, 2, 3, 255, 256, 65535, 65536, 65537, 1u << 24, (1u << 24) + 1,
                                       UINT64_C(1) << 31, (UINT64_C(1) << 31) + 1, UINT64_C(4294967295),
                                       UINT64_C(1) << 32};
    for (int i = 0; i < N; i++) {
        n[i] = (i % 3 == 0) ? special[trng_below(&r, sizeof special / sizeof *special)]
                            : 1 + trng_below(&r, (UINT64_C(1) << (1 + trng_below(&r, 32))));
        s[i] = (uint32_t)trng_below(&r, n[i]);
        cr_assert_eq(vdm_ans_uniform_push(a, s[i], n[i]), VDM_OK);
    }
    for (int i = N; i-- > 0;) {
        uint32_t v;
        cr_assert_eq(vdm_ans_uniform_pop(a, n[i], &v), VDM_OK);
        cr_assert_eq(v, s[i], "i=%d n=%llu", i, (unsigned long long)n[i]);
    }
    cr_assert_eq(vdm_ans_state(a), VDM_ANS_STATE_L);
    cr_assert_eq(vdm_ans_num_words(a), 0);
    cr_assert_eq(vdm_ans_uniform_push(a, 5, 5), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_uniform_push(a, 0, 0), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_uniform_push(a, 0, (UINT64_C(1) << 32) + 1), VDM_ERR_ARG);
    vdm_ans_free(a);
}

/* ---------------------------------------------------------- categorical -- */
Test(ans_dist, categorical_tables)
{
    trng r = {12};
    vdm_ans_cat *c = NULL;
    uint32_t f3[3] = {1, 2, 5};
    cr_assert_eq(vdm_ans_cat_create(f3, 3, 3, &c), VDM_OK);
    cr_assert_eq(vdm_ans_cat_freq(c, 2), 5);
    vdm_ans_cat_free(c);
    cr_assert_eq(vdm_ans_cat_create(f3, 3, 4, &c), VDM_ERR_ARG);   /* sums to 8, not 16 */
    cr_assert_null(c);
    uint32_t f0[4] = {0, 4, 0, 4};
    cr_assert_eq(vdm_ans_cat_create(f0, 4, 3, &c), VDM_OK);
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    cr_assert_eq(vdm_ans_cat_push(a, c, 0), VDM_ERR_ARG);          /* zero frequency */
    cr_assert_eq(vdm_ans_cat_push(a, c, 4), VDM_ERR_ARG);
    /* sampling never yields a zero-frequency symbol */
    for (int i = 0; i < 1000; i++) {
        uint32_t s;
        cr_assert_eq(vdm_ans_cat_pop(a, c, &s), VDM_OK);
        cr_assert(s == 1 || s == 3);
    }
    vdm_ans_cat_free(c);
    vdm_ans_reset(a);

    /* from counts: zeros and huge counts still give every symbol freq >= 1 */
    enum { K = 1000 };
    static uint64_t cnt[K];
    for (int i = 0; i < K; i++) cnt[i] = (i % 7 == 0) ? 0 : (i % 13 == 0 ? UINT64_C(1) << 50 : trng_below(&r, 1000));
    cr_assert_eq(vdm_ans_cat_from_counts(cnt, K, 20, &c), VDM_OK);
    uint64_t sum = 0;
    for (int i = 0; i < K; i++) { cr_assert_geq(vdm_ans_cat_freq(c, i), 1); sum += vdm_ans_cat_freq(c, i); }
    cr_assert_eq(sum, UINT64_C(1) << 20);
    enum { N = 200000 };
    static uint32_t s[N];
    for (int i = 0; i < N; i++) {
        s[i] = (uint32_t)trng_below(&r, K);
        cr_assert_eq(vdm_ans_cat_push(a, c, s[i]), VDM_OK);
    }
    for (int i = N; i-- > 0;) {
        uint32_t v;
        cr_assert_eq(vdm_ans_cat_pop(a, c, &v), VDM_OK);
        cr_assert_eq(v, s[i]);
    }
    cr_assert_eq(vdm_ans_state(a), VDM_ANS_STATE_L);
    vdm_ans_cat_free(c);
    uint64_t zeros[5] = {0};
    cr_assert_eq(vdm_ans_cat_from_counts(zeros, 5, 8, &c), VDM_OK);   /* all zero: uniform */
    for (int i = 0; i < 5; i++) cr_assert_geq(vdm_ans_cat_freq(c, i), 51);
    vdm_ans_cat_free(c);
    uint64_t big[2] = {UINT64_MAX, 1};
    cr_assert_eq(vdm_ans_cat_from_counts(big, 2, 8, &c), VDM_ERR_ARG);  /* total overflows */
    cr_assert_eq(vdm_ans_cat_from_counts(cnt, K, 10, &c), VDM_ERR_ARG); /* n > 2^(prec-1) */
    vdm_ans_free(a);
}

/* ---------------------------------------------------- discretised Gaussian -- */
typedef struct { float mu, sigma, delta; unsigned prec; int32_t k; } gsym;

static unsigned random_prec(trng *r)
{
    static const unsigned common[] = {VDM_ANS_GAUSS_PREC_DEFAULT, 24, 31, 16};
    if (trng_below(r, 4)) return common[trng_below(r, 4)];
    return VDM_ANS_GAUSS_PREC_MIN + (unsigned)trng_below(r, 32 - VDM_ANS_GAUSS_PREC_MIN);
}

static gsym random_gsym(trng *r)
{
    gsym g;
    g.delta = (float)trng_logu(r, 1e-4, 1.0);
    g.sigma = (float)(g.delta * trng_logu(r, 1e-2, 1e5));
    g.mu = (float)(g.delta * (trng_unif(r) - 0.5) * 2e6);
    g.prec = random_prec(r);
    g.k = (trng_below(r, 50) == 0) ? (int32_t)trng_u32(r) : draw_gauss_k(r, g.mu, g.sigma, g.delta);
    return g;
}

/* Parameters chosen to break naive implementations. */
static gsym adversarial_gsym(trng *r)
{
    gsym g = random_gsym(r);
    switch (trng_below(r, 12)) {
    case 0: g.sigma = g.delta * 1e-9f; break;                             /* sigma << delta */
    case 1: g.sigma = g.delta * 1e-9f; g.mu = ((float)trng_below(r, 1000) + 0.5f) * g.delta; break;
    case 2: g.sigma = 1e30f; g.delta = 1e-3f; break;                      /* sigma >> any grid */
    case 3: g.mu = (trng_below(r, 2) ? 1 : -1) * 3e38f; g.delta = 1.0f; break;  /* mu far outside */
    case 4: g.mu = 1e20f; g.delta = 1e-3f; g.sigma = 1.0f; break;
    case 5: g.delta = 1e-45f; g.sigma = (float)trng_logu(r, 1e-45, 1e-30); g.mu = 0.0f; break;
    case 6: g.delta = 3e38f; g.sigma = (float)trng_logu(r, 1e-3, 3e38); break;
    case 7: g.sigma = 1.4e-45f; break;                                    /* denormal sigma */
    case 8: g.prec = VDM_ANS_GAUSS_PREC_MIN; g.sigma = g.delta * 1e4f; break;   /* capped window */
    case 9: g.prec = 31; g.sigma = g.delta * 1e9f; break;
    default: break;
    }
    switch (trng_below(r, 6)) {
    case 0: g.k = INT32_MIN; break;
    case 1: g.k = INT32_MAX; break;
    case 2: g.k = INT32_MIN + 1 + (int32_t)trng_below(r, 3); break;
    case 3: g.k = INT32_MAX - 1 - (int32_t)trng_below(r, 3); break;
    case 4: g.k = (int32_t)trng_u32(r); break;
    default: g.k = draw_gauss_k(r, g.mu, g.sigma, g.delta); break;
    }
    return g;
}

static void gauss_roundtrip(gsym *s, size_t n)
{
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    for (size_t i = 0; i < n; i++) {
        vdm_ans_gauss g;
        cr_assert_eq(vdm_ans_gauss_init(&g, s[i].mu, s[i].sigma, s[i].delta, s[i].prec), VDM_OK);
        cr_assert_eq(vdm_ans_gauss_push(a, &g, s[i].k), VDM_OK);
    }
    size_t bad = 0, first = 0;
    for (size_t i = n; i-- > 0;) {
        vdm_ans_gauss g;
        int32_t k;
        cr_assert_eq(vdm_ans_gauss_init(&g, s[i].mu, s[i].sigma, s[i].delta, s[i].prec), VDM_OK);
        cr_assert_eq(vdm_ans_gauss_pop(a, &g, &k), VDM_OK);
        if (k != s[i].k && !bad++) first = i;
    }
    cr_assert_eq(bad, 0, "%zu mismatches, first at %zu (mu %g sigma %g delta %g prec %u k %d)", bad, first,
                 (double)s[first].mu, (double)s[first].sigma, (double)s[first].delta, s[first].prec, s[first].k);
    cr_assert_eq(vdm_ans_state(a), VDM_ANS_STATE_L);
    cr_assert_eq(vdm_ans_num_words(a), 0);
    vdm_ans_free(a);
}

Test(ans_dist, gauss_roundtrip_random_1e6)
{
    const size_t n = 1000000 / ANS_TEST_SCALE;
    trng r = {13};
    gsym *s = malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) s[i] = random_gsym(&r);
    gauss_roundtrip(s, n);
    free(s);
}

Test(ans_dist, gauss_roundtrip_adversarial)
{
    const size_t n = 400000 / ANS_TEST_SCALE;
    trng r = {14};
    gsym *s = malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) s[i] = adversarial_gsym(&r);
    gauss_roundtrip(s, n);
    free(s);
}

Test(ans_dist, gauss_rejects_bad_parameters)
{
    vdm_ans_gauss g;
    cr_assert_eq(vdm_ans_gauss_init(&g, 0, 0, 1, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_gauss_init(&g, 0, -1, 1, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_gauss_init(&g, 0, 1, 0, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_gauss_init(&g, NAN, 1, 1, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_gauss_init(&g, INFINITY, 1, 1, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_gauss_init(&g, 0, INFINITY, 1, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_gauss_init(&g, 0, 1, NAN, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_gauss_init(&g, 0, 1, 1, VDM_ANS_GAUSS_PREC_MIN - 1), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_gauss_init(&g, 0, 1, 1, 32), VDM_ERR_ARG);
    /* a bad element anywhere in a vector is refused before anything is coded */
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    int32_t k[3] = {1, 2, 3};
    float mu[3] = {0, 0, 0}, sg[3] = {1, 1, -1};
    cr_assert_eq(vdm_ans_gauss_push_vec(a, 3, k, mu, sg, 1, 0.1f, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_state(a), VDM_ANS_STATE_L);
    cr_assert_eq(vdm_ans_gauss_pop_vec(a, 3, k, mu, sg, 1, 0.1f, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_initial_words(a), 0);
    vdm_ans_free(a);
}

/* The quantised table: every value has freq >= 1 and the table sums to 2^prec. */
Test(ans_dist, gauss_table_positive_and_complete)
{
    trng r = {15};
    for (int it = 0; it < 300; it++) {
        gsym s = (it % 2) ? random_gsym(&r) : adversarial_gsym(&r);
        vdm_ans_gauss g;
        cr_assert_eq(vdm_ans_gauss_init(&g, s.mu, s.sigma, s.delta, s.prec), VDM_OK);
        if (g.khi - g.klo > 200000) continue;
        uint64_t sum = 0;
        int esc;
        for (int64_t k = g.klo; k <= g.khi; k++) {
            uint32_t f = vdm_ans_gauss_freq(&g, (int32_t)k, &esc);
            cr_assert(f >= 1 && !esc);
            sum += f;
        }
        uint32_t fl = vdm_ans_gauss_freq(&g, INT32_MIN, &esc);
        cr_assert(fl >= 1 && esc);
        uint32_t fr = vdm_ans_gauss_freq(&g, INT32_MAX, &esc);
        cr_assert(fr >= 1 && esc);
        cr_assert_eq(sum + fl + fr, UINT64_C(1) << s.prec, "table sums to %llu",
                     (unsigned long long)(sum + fl + fr));
    }
}

/* Popping from random bits samples the quantised distribution (what bits-back
 * relies on): a chi-square test on the bins. */
Test(ans_dist, gauss_pop_samples_the_distribution)
{
    trng r = {16};
    const int N = 400000 / ANS_TEST_SCALE;
    size_t nbytes = 8 + 4 * (size_t)N * 2;
    uint8_t *buf = malloc(nbytes);
    for (size_t i = 0; i < nbytes; i++) buf[i] = (uint8_t)trng_u32(&r);
    buf[7] = 0x40;
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    cr_assert_eq(vdm_ans_deserialize(a, buf, nbytes), VDM_OK);
    vdm_ans_gauss g;
    cr_assert_eq(vdm_ans_gauss_init(&g, 0.3f, 2.5f, 1.0f, 20), VDM_OK);
    enum { B = 25 };
    double cnt[B] = {0};
    for (int i = 0; i < N; i++) {
        int32_t k;
        cr_assert_eq(vdm_ans_gauss_pop(a, &g, &k), VDM_OK);
        int b = k + B / 2;
        cnt[b < 0 ? 0 : (b >= B ? B - 1 : b)] += 1;
    }
    double chi2 = 0, pin = 0;
    for (int b = 1; b < B - 1; b++) {
        double p = (double)vdm_ans_gauss_freq(&g, b - B / 2, NULL) / (double)(1 << 20);
        pin += p;
        double e = p * N;
        chi2 += (cnt[b] - e) * (cnt[b] - e) / e;
    }
    double etail = (1 - pin) * N, otail = cnt[0] + cnt[B - 1];
    chi2 += (otail - etail) * (otail - etail) / etail;
    /* 23 degrees of freedom: 99.99th percentile ~ 56 */
    cr_assert(chi2 < 60, "chi2 = %.1f", chi2);
    vdm_ans_free(a);
    free(buf);
}

/* ------------------------------------------------------------------ lik8 -- */
Test(ans_dist, lik8_roundtrip_1e6)
{
    const size_t n = 1000000 / ANS_TEST_SCALE;
    trng r = {17};
    float *z = malloc(n * sizeof *z), *al = malloc(n * sizeof *al), *ga = malloc(n * sizeof *ga);
    unsigned *pr = malloc(n * sizeof *pr);
    uint8_t *x = malloc(n);
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    for (size_t i = 0; i < n; i++) {
        switch (trng_below(&r, 10)) {
        case 0: ga[i] = (float)(trng_unif(&r) * 200 - 100); break;        /* extreme schedule ends */
        case 1: ga[i] = -100.0f; break;
        case 2: ga[i] = 100.0f; break;
        default: ga[i] = (float)(-14 + 10 * trng_unif(&r)); break;
        }
        al[i] = (float)(trng_below(&r, 20) ? 1 - 1e-3 * trng_unif(&r) : trng_logu(&r, 1e-30, 1));
        pr[i] = trng_below(&r, 4) ? VDM_ANS_LIK8_PREC_DEFAULT : 9 + (unsigned)trng_below(&r, 23);
        uint32_t c = (uint32_t)trng_below(&r, 20);
        if (c == 0) z[i] = (float)(trng_normal(&r) * 1e30);                   /* far outside */
        else if (c == 1) z[i] = (trng_below(&r, 2) ? 1 : -1) * 3e38f;
        else z[i] = al[i] * (float)((2.0 * (double)trng_below(&r, 256) - 255) / 255 + 0.01 * trng_normal(&r));
        x[i] = (trng_below(&r, 10) == 0) ? (uint8_t)trng_below(&r, 256)
                                          : (uint8_t)draw_lik8_x(&r, z[i], al[i], ga[i]);
        vdm_ans_lik8 p;
        cr_assert_eq(vdm_ans_lik8_init(&p, al[i], ga[i], pr[i]), VDM_OK);
        cr_assert_eq(vdm_ans_lik8_push(a, &p, z[i], x[i]), VDM_OK);
    }
    size_t bad = 0;
    for (size_t i = n; i-- > 0;) {
        vdm_ans_lik8 p;
        uint8_t v;
        cr_assert_eq(vdm_ans_lik8_init(&p, al[i], ga[i], pr[i]), VDM_OK);
        cr_assert_eq(vdm_ans_lik8_pop(a, &p, z[i], &v), VDM_OK);
        bad += v != x[i];
    }
    cr_assert_eq(bad, 0);
    cr_assert_eq(vdm_ans_state(a), VDM_ANS_STATE_L);
    vdm_ans_free(a);
    free(z); free(al); free(ga); free(pr); free(x);
}

Test(ans_dist, lik8_table_and_accuracy)
{
    trng r = {18};
    vdm_ans_lik8 p;
    cr_assert_eq(vdm_ans_lik8_init(&p, 1, 0, 8), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_lik8_init(&p, 0, 0, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_lik8_init(&p, 1, 101, 24), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_lik8_init(&p, 1, NAN, 24), VDM_ERR_ARG);
    double worst = 0;
    for (int it = 0; it < 2000; it++) {
        float g0 = (float)(-16 + 14 * trng_unif(&r)), a0 = (float)(1 - 1e-3 * trng_unif(&r));
        float z0 = (float)(trng_unif(&r) * 2.4 - 1.2);
        cr_assert_eq(vdm_ans_lik8_init(&p, a0, g0, 24), VDM_OK);
        uint32_t f[256];
        cr_assert_eq(vdm_ans_lik8_freqs(&p, z0, f), VDM_OK);
        uint64_t sum = 0;
        for (int k = 0; k < 256; k++) { cr_assert_geq(f[k], 1); sum += f[k]; }
        cr_assert_eq(sum, UINT64_C(1) << 24);
        /* the likely values cost what the exact softmax says, up to quantisation */
        double ref[256];
        ref_lik8_all(z0, a0, g0, ref);
        for (int k = 0; k < 256; k++) {
            double ideal = ref[k];
            if (ideal > 10) continue;
            double got = vdm_ans_lik8_bits(&p, z0, (uint8_t)k);
            double err = fabs(got - ideal);
            if (err > worst) worst = err;
        }
    }
    /* 256 / 2^24 of the mass goes to the minimum frequencies: < 3e-5 bits; a
     * value of probability 2^-10 is quantised within 2^-14 relative. */
    cr_assert(worst < 2e-4, "worst lik8 cost error %.3g bits", worst);
    cr_assert_eq(vdm_ans_lik8_freqs(&p, NAN, (uint32_t[256]){0}), VDM_ERR_ARG);
}

/* ------------------------------------------------------------ code length -- */
/* A long message of realistic symbols: the stack's size must be within 0.1 %
 * + 8 bytes of the ideal -sum log2 P under the exact (libm) distributions. */
Test(ans_dist, code_length_near_ideal)
{
    const size_t n = 1000000 / ANS_TEST_SCALE;
    trng r = {19};
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    double ideal = 0, quant = 0, ideal_g = 0, ideal_l = 0;
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 4 != 3) {
            float delta = (float)trng_logu(&r, 1e-3, 1);
            float sigma = (float)(delta * trng_logu(&r, 0.3, 3000));
            float mu = (float)(trng_normal(&r) * 3);
            int32_t k = draw_gauss_k(&r, mu, sigma, delta);
            vdm_ans_gauss g;
            cr_assert_eq(vdm_ans_gauss_init(&g, mu, sigma, delta, VDM_ANS_GAUSS_PREC_DEFAULT), VDM_OK);
            cr_assert_eq(vdm_ans_gauss_push(a, &g, k), VDM_OK);
            double b = ref_gauss_bits(mu, sigma, delta, k);
            ideal += b;
            ideal_g += b;
            quant += vdm_ans_gauss_bits(&g, k);
            ng++;
        } else {
            float g0 = (float)(-13 + 8 * trng_unif(&r)), a0 = 0.999f;
            float z0 = (float)(trng_unif(&r) * 2.2 - 1.1);
            int x = draw_lik8_x(&r, z0, a0, g0);
            vdm_ans_lik8 p;
            cr_assert_eq(vdm_ans_lik8_init(&p, a0, g0, VDM_ANS_LIK8_PREC_DEFAULT), VDM_OK);
            cr_assert_eq(vdm_ans_lik8_push(a, &p, z0, (uint8_t)x), VDM_OK);
            double b = ref_lik8_bits(z0, a0, g0, x);
            ideal += b;
            ideal_l += b;
            quant += vdm_ans_lik8_bits(&p, z0, (uint8_t)x);
        }
    }
    double actual = (double)vdm_ans_size_bits(a);
    fprintf(stderr, "[ans code length] %zu symbols (%zu Gaussian): ideal %.1f bits (Gaussian %.1f, lik8 %.1f), "
            "quantised model %.1f, stack %.0f bits; excess %.4f %% (quantisation %.4f %%)\n",
            n, ng, ideal, ideal_g, ideal_l, quant, actual, 100 * (actual - ideal) / ideal,
            100 * (quant - ideal) / ideal);
    cr_assert(actual <= ideal * 1.001 + 64, "stack %.0f bits vs ideal %.1f", actual, ideal);
    cr_assert(actual >= quant - 64, "shorter than the model allows: a counting bug");
    vdm_ans_free(a);
}
