/* test_ans_stack.c — the rANS stack itself: raw push/pop, LIFO, precision
 * range, serialisation, garbage input, initial bits, argument errors. */
#include <criterion/criterion.h>
#include <string.h>
#include "test_ans_util.h"

typedef struct { uint32_t start, freq; unsigned prec; } sym;

static sym random_sym(trng *r)
{
    sym s;
    s.prec = 1 + (unsigned)trng_below(r, 31);
    uint64_t M = UINT64_C(1) << s.prec;
    /* mix tiny, typical and huge frequencies */
    uint64_t f;
    switch (trng_below(r, 3)) {
    case 0: f = 1; break;
    case 1: f = 1 + trng_below(r, M); break;
    default: f = M - trng_below(r, M < 16 ? M : 16); break;
    }
    if (f > M) f = M;
    if (f == 0) f = 1;
    s.freq = (uint32_t)f;
    s.start = (uint32_t)trng_below(r, M - f + 1);
    return s;
}

Test(ans_stack, raw_roundtrip_1e6)
{
    const size_t n = 1000000 / ANS_TEST_SCALE;
    trng r = {1};
    sym *s = malloc(n * sizeof *s);
    cr_assert_not_null(s);
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    for (size_t i = 0; i < n; i++) {
        s[i] = random_sym(&r);
        cr_assert_eq(vdm_ans_push(a, s[i].start, s[i].freq, s[i].prec), VDM_OK);
    }
    size_t bad = 0;
    for (size_t i = n; i-- > 0;) {
        uint32_t y = vdm_ans_peek(a, s[i].prec);
        if (y < s[i].start || y - s[i].start >= s[i].freq) { bad++; break; }
        if (vdm_ans_pop_advance(a, s[i].start, s[i].freq, s[i].prec) != VDM_OK) { bad++; break; }
    }
    cr_assert_eq(bad, 0, "pop did not return the pushed symbols");
    cr_assert_eq(vdm_ans_num_words(a), 0);
    cr_assert_eq(vdm_ans_state(a), VDM_ANS_STATE_L);
    cr_assert_eq(vdm_ans_initial_words(a), 0);
    vdm_ans_free(a);
    free(s);
}

Test(ans_stack, every_precision)
{
    trng r = {2};
    for (unsigned prec = 1; prec <= VDM_ANS_PREC_MAX; prec++) {
        vdm_ans *a;
        cr_assert_eq(vdm_ans_create(&a), VDM_OK);
        enum { N = 20000 };
        static uint32_t st[N], fr[N];
        uint64_t M = UINT64_C(1) << prec;
        for (int i = 0; i < N; i++) {
            fr[i] = (uint32_t)(1 + trng_below(&r, (i & 1) ? M : (M < 4 ? M : 4)));
            st[i] = (uint32_t)trng_below(&r, M - fr[i] + 1);
            cr_assert_eq(vdm_ans_push(a, st[i], fr[i], prec), VDM_OK);
            uint64_t x = vdm_ans_state(a);
            cr_assert(x >= VDM_ANS_STATE_L && x < (UINT64_C(1) << 63), "state out of range");
        }
        for (int i = N; i-- > 0;) {
            uint32_t y = vdm_ans_peek(a, prec);
            cr_assert(y >= st[i] && y - st[i] < fr[i], "prec %u symbol %d", prec, i);
            cr_assert_eq(vdm_ans_pop_advance(a, st[i], fr[i], prec), VDM_OK);
        }
        cr_assert_eq(vdm_ans_state(a), VDM_ANS_STATE_L);
        cr_assert_eq(vdm_ans_num_words(a), 0);
        vdm_ans_free(a);
    }
}

/* Interleaved pushes and pops against a reference stack of symbols. */
Test(ans_stack, lifo_interleaved)
{
    trng r = {3};
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    enum { N = 200000 };
    sym *ref = malloc(N * sizeof *ref);
    size_t depth = 0;
    for (int op = 0; op < N; op++) {
        if (depth == 0 || trng_below(&r, 5) < 3) {
            ref[depth] = random_sym(&r);
            cr_assert_eq(vdm_ans_push(a, ref[depth].start, ref[depth].freq, ref[depth].prec), VDM_OK);
            depth++;
        } else {
            depth--;
            uint32_t y = vdm_ans_peek(a, ref[depth].prec);
            cr_assert(y >= ref[depth].start && y - ref[depth].start < ref[depth].freq);
            cr_assert_eq(vdm_ans_pop_advance(a, ref[depth].start, ref[depth].freq, ref[depth].prec), VDM_OK);
        }
    }
    while (depth) {
        depth--;
        cr_assert_eq(vdm_ans_pop_advance(a, ref[depth].start, ref[depth].freq, ref[depth].prec), VDM_OK);
    }
    cr_assert_eq(vdm_ans_state(a), VDM_ANS_STATE_L);
    cr_assert_eq(vdm_ans_initial_words(a), 0);
    free(ref);
    vdm_ans_free(a);
}

/* Sampling pops from a random stack followed by the mirrored pushes restore it
 * bit for bit (the property bits-back rests on). */
Test(ans_stack, pop_then_push_restores)
{
    trng r = {4};
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    for (int i = 0; i < 5000; i++) cr_assert_eq(vdm_ans_push(a, trng_u32(&r) & 0xffff, 1, 16), VDM_OK);
    size_t n0;
    uint8_t *before = ans_dump(a, &n0);
    enum { K = 4000 };
    static sym s[K];
    for (int i = 0; i < K; i++) {
        s[i] = random_sym(&r);               /* a random freq and precision */
        uint64_t M = UINT64_C(1) << s[i].prec;
        /* the symbol of that freq that contains the current slot y */
        uint32_t y = vdm_ans_peek(a, s[i].prec);
        uint64_t off = trng_below(&r, s[i].freq);
        uint64_t st = y >= off ? y - off : 0;
        if (st + s[i].freq > M) st = M - s[i].freq;
        s[i].start = (uint32_t)st;
        cr_assert_eq(vdm_ans_pop_advance(a, s[i].start, s[i].freq, s[i].prec), VDM_OK);
    }
    for (int i = K; i-- > 0;) cr_assert_eq(vdm_ans_push(a, s[i].start, s[i].freq, s[i].prec), VDM_OK);
    size_t n1;
    uint8_t *after = ans_dump(a, &n1);
    cr_assert_eq(n0, n1);
    cr_assert(memcmp(before, after, n0) == 0);
    free(before);
    free(after);
    vdm_ans_free(a);
}

Test(ans_stack, serialise_and_rebuild)
{
    trng r = {5};
    vdm_ans *a, *b;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    cr_assert_eq(vdm_ans_create(&b), VDM_OK);
    enum { N = 50000 };
    static sym s[N];
    for (int i = 0; i < N; i++) {
        s[i] = random_sym(&r);
        cr_assert_eq(vdm_ans_push(a, s[i].start, s[i].freq, s[i].prec), VDM_OK);
    }
    size_t n;
    uint8_t *buf = ans_dump(a, &n);
    cr_assert_not_null(buf);
    cr_assert_eq(n, 8 + 4 * vdm_ans_num_words(a));
    cr_assert_eq(vdm_ans_size_bits(a), 8 * (uint64_t)n);
    /* layout: LE64 state first, then the top word */
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | buf[i];
    cr_assert_eq(x, vdm_ans_state(a));
    size_t written = 0;
    cr_assert_eq(vdm_ans_serialize(a, buf, n - 1, &written), VDM_ERR_LIMIT);
    cr_assert_eq(written, 0);
    cr_assert_eq(vdm_ans_serialize(a, buf, n, &written), VDM_OK);
    cr_assert_eq(vdm_ans_deserialize(b, buf, n), VDM_OK);
    for (int i = N; i-- > 0;) {
        uint32_t y = vdm_ans_peek(b, s[i].prec);
        cr_assert(y >= s[i].start && y - s[i].start < s[i].freq);
        cr_assert_eq(vdm_ans_pop_advance(b, s[i].start, s[i].freq, s[i].prec), VDM_OK);
    }
    cr_assert_eq(vdm_ans_state(b), VDM_ANS_STATE_L);
    cr_assert_eq(vdm_ans_num_words(b), 0);
    free(buf);
    vdm_ans_free(a);
    vdm_ans_free(b);
}

Test(ans_stack, deserialise_rejects_bad_input)
{
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    cr_assert_eq(vdm_ans_push(a, 5, 3, 4), VDM_OK);
    uint64_t x0 = vdm_ans_state(a);
    uint8_t buf[16] = {0};
    cr_assert_eq(vdm_ans_deserialize(a, buf, 7), VDM_ERR_TRUNCATED);
    cr_assert_eq(vdm_ans_deserialize(a, NULL, 0), VDM_ERR_TRUNCATED);
    vdm_put_le64(buf, VDM_ANS_STATE_L);
    cr_assert_eq(vdm_ans_deserialize(a, buf, 9), VDM_ERR_CORRUPT);
    cr_assert_eq(vdm_ans_deserialize(a, buf, 15), VDM_ERR_CORRUPT);
    vdm_put_le64(buf, VDM_ANS_STATE_L - 1);
    cr_assert_eq(vdm_ans_deserialize(a, buf, 8), VDM_ERR_CORRUPT);
    vdm_put_le64(buf, UINT64_C(1) << 63);
    cr_assert_eq(vdm_ans_deserialize(a, buf, 12), VDM_ERR_CORRUPT);
    cr_assert_eq(vdm_ans_state(a), x0, "a failed deserialise must not change the stack");
    vdm_put_le64(buf, (UINT64_C(1) << 63) - 1);
    cr_assert_eq(vdm_ans_deserialize(a, buf, 16), VDM_OK);
    cr_assert_eq(vdm_ans_num_words(a), 2);
    vdm_ans_free(a);
}

Test(ans_stack, argument_errors_leave_stack_unchanged)
{
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    for (int i = 0; i < 100; i++) cr_assert_eq(vdm_ans_push(a, (uint32_t)i, 7, 12), VDM_OK);
    uint64_t x = vdm_ans_state(a);
    size_t n = vdm_ans_num_words(a);
    cr_assert_eq(vdm_ans_push(a, 0, 0, 12), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_push(a, 4090, 7, 12), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_push(a, 0, 1, 0), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_push(a, 0, 1, 32), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_push(NULL, 0, 1, 8), VDM_ERR_ARG);
    uint32_t y = vdm_ans_peek(a, 12);
    cr_assert_eq(vdm_ans_pop_advance(a, y + 1, 5, 12), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_pop_advance(a, y > 3 ? y - 3 : 0, y > 3 ? 3 : 0, 12), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_peek(a, 0), 0);
    cr_assert_eq(vdm_ans_peek(a, 40), 0);
    cr_assert_eq(vdm_ans_state(a), x);
    cr_assert_eq(vdm_ans_num_words(a), n);
    /* cleaning modes gate the operations */
    uint8_t key[32];
    vdm_ans_clean_key(key, 1);
    cr_assert_eq(vdm_ans_clean_end(a), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_unclean_end(a), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_clean_begin(a, key, 1, 2, 3), VDM_OK);
    cr_assert_eq(vdm_ans_push(a, 0, 1, 8), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_clean_begin(a, key, 1, 2, 3), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_unclean_begin(a, key, 1, 2, 3), VDM_ERR_ARG);
    uint8_t tmp[8];
    cr_assert_eq(vdm_ans_serialize(a, tmp, sizeof tmp, NULL), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_clean_end(a), VDM_OK);
    cr_assert_eq(vdm_ans_unclean_begin(a, key, 1, 2, 3), VDM_OK);
    y = vdm_ans_peek(a, 8);
    cr_assert_eq(vdm_ans_pop_advance(a, y, 1, 8), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_unclean_end(a), VDM_OK);
    /* the clean/unclean pair with nothing in between is the identity */
    cr_assert_eq(vdm_ans_state(a), x);
    cr_assert_eq(vdm_ans_num_words(a), n);
    vdm_ans_free(a);
    vdm_ans_free(NULL);
}

/* Pops from an empty stack draw initial bits; pushing back regenerates them and
 * the decoder-side check recognises them. */
Test(ans_stack, initial_bits_and_pristine)
{
    trng r = {6};
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    vdm_ans_set_initial_seed(a, 12345);
    enum { K = 3000 };
    static uint32_t s[K];
    static unsigned p[K];
    for (int i = 0; i < K; i++) {
        p[i] = 1 + (unsigned)trng_below(&r, 31);
        s[i] = vdm_ans_peek(a, p[i]);
        cr_assert_eq(vdm_ans_pop_advance(a, s[i], 1, p[i]), VDM_OK);
    }
    uint64_t drawn = vdm_ans_initial_words(a);
    uint64_t want_bits = 0;
    for (int i = 0; i < K; i++) want_bits += p[i];
    /* each pop of prec bits with freq 1 consumes exactly prec bits */
    cr_assert(drawn * 32 >= want_bits - 32 && drawn * 32 <= want_bits + 32,
              "drawn %llu words for %llu bits", (unsigned long long)drawn, (unsigned long long)want_bits);
    cr_assert_eq(vdm_ans_initial_bits(a), 32 * drawn);
    for (int i = K; i-- > 0;) cr_assert_eq(vdm_ans_push(a, s[i], 1, p[i]), VDM_OK);
    uint64_t nw = 0;
    cr_assert_eq(vdm_ans_check_pristine(a, &nw), VDM_OK);
    cr_assert_eq(nw, drawn);
    /* a flipped bit is noticed; a different seed is noticed */
    size_t n;
    uint8_t *buf = ans_dump(a, &n);
    vdm_ans *b;
    cr_assert_eq(vdm_ans_create(&b), VDM_OK);
    vdm_ans_set_initial_seed(b, 12345);
    buf[n - 1] ^= 0x10;
    cr_assert_eq(vdm_ans_deserialize(b, buf, n), VDM_OK);
    cr_assert_eq(vdm_ans_check_pristine(b, &nw), VDM_ERR_CORRUPT);
    buf[n - 1] ^= 0x10;
    cr_assert_eq(vdm_ans_deserialize(b, buf, n), VDM_OK);
    cr_assert_eq(vdm_ans_check_pristine(b, NULL), VDM_OK);
    vdm_ans_set_initial_seed(b, 999);
    cr_assert_eq(vdm_ans_check_pristine(b, NULL), VDM_ERR_CORRUPT);
    /* the initial words are pseudo-random: about half the bits set */
    uint64_t ones = 0;
    for (size_t i = 8; i < n; i++) ones += (uint64_t)__builtin_popcount(buf[i]);
    double frac = (double)ones / (8.0 * (double)(n - 8));
    cr_assert(frac > 0.45 && frac < 0.55, "initial words bit density %.3f", frac);
    free(buf);
    vdm_ans_free(b);
    vdm_ans_free(a);
}

/* info_bits tracks the ideal cost: sum of -log2(f/M) over pushes. */
Test(ans_stack, info_bits_tracks_ideal_cost)
{
    trng r = {7};
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    double ideal = 0, i0 = vdm_ans_info_bits(a);
    cr_assert_float_eq(i0, 31.0, 1e-9);
    for (int i = 0; i < 200000; i++) {
        unsigned prec = 8 + (unsigned)trng_below(&r, 17);
        uint32_t f = 1 + (uint32_t)trng_below(&r, (UINT64_C(1) << prec) - 1);
        cr_assert_eq(vdm_ans_push(a, 0, f, prec), VDM_OK);
        ideal += (double)prec - log2((double)f);
    }
    double got = vdm_ans_info_bits(a) - i0;
    cr_assert(fabs(got - ideal) <= 1e-4 * ideal + 2.0, "info %.3f vs ideal %.3f", got, ideal);
    cr_assert(vdm_ans_size_bits(a) >= (uint64_t)got);
    vdm_ans_free(a);
}

/* Arbitrary bytes: whatever deserialise accepts can be popped from with any
 * distribution, and pushing back restores it (drawn words appear below). */
Test(ans_stack, garbage_bytes_never_crash)
{
    trng r = {8};
    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    int accepted = 0;
    for (int it = 0; it < 3000 / ANS_TEST_SCALE + 100; it++) {
        size_t n = (size_t)trng_below(&r, 200);
        uint8_t *buf = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)trng_u32(&r);
        if (trng_below(&r, 2) && n >= 8) buf[7] &= 0x7f;   /* often a valid state */
        if (vdm_ans_deserialize(a, buf, n) != VDM_OK) { free(buf); continue; }
        accepted++;
        enum { K = 64 };
        int32_t k[K];
        float mu[K], sg[K];
        float delta = (float)trng_logu(&r, 1e-6, 1e3);
        for (int i = 0; i < K; i++) {
            mu[i] = (float)(trng_normal(&r) * trng_logu(&r, 1e-3, 1e12));
            sg[i] = (float)trng_logu(&r, 1e-8, 1e12);
        }
        unsigned prec = VDM_ANS_GAUSS_PREC_MIN + (unsigned)trng_below(&r, 32 - VDM_ANS_GAUSS_PREC_MIN);
        cr_assert_eq(vdm_ans_gauss_pop_vec(a, K, k, mu, sg, 1, delta, prec), VDM_OK);
        vdm_ans_lik8 lp;
        cr_assert_eq(vdm_ans_lik8_init(&lp, (float)trng_logu(&r, 1e-3, 1), (float)(trng_unif(&r) * 40 - 20),
                                       9 + (unsigned)trng_below(&r, 23)), VDM_OK);
        uint8_t x[K];
        float z0[K];
        for (int i = 0; i < K; i++) z0[i] = (float)(trng_normal(&r) * 2);
        cr_assert_eq(vdm_ans_lik8_pop_vec(a, &lp, K, x, z0), VDM_OK);
        cr_assert_eq(vdm_ans_lik8_push_vec(a, &lp, K, x, z0), VDM_OK);
        cr_assert_eq(vdm_ans_gauss_push_vec(a, K, k, mu, sg, 1, delta, prec), VDM_OK);
        size_t m;
        uint8_t *after = ans_dump(a, &m);
        uint64_t d = vdm_ans_initial_words(a);
        cr_assert_eq(m, n + 4 * d);
        cr_assert(memcmp(after, buf, n) == 0, "stack not restored");
        /* the extra words below are exactly the drawn initial words */
        uint8_t *tail = malloc(8 + 4 * d);
        vdm_put_le64(tail, VDM_ANS_STATE_L);
        memcpy(tail + 8, after + n, 4 * d);
        vdm_ans *t;
        cr_assert_eq(vdm_ans_create(&t), VDM_OK);
        cr_assert_eq(vdm_ans_deserialize(t, tail, 8 + 4 * d), VDM_OK);
        uint64_t nw;
        cr_assert_eq(vdm_ans_check_pristine(t, &nw), VDM_OK);
        cr_assert_eq(nw, d);
        vdm_ans_free(t);
        free(tail);
        free(after);
        free(buf);
    }
    cr_assert(accepted > 50);
    vdm_ans_free(a);
}

/* Golden vectors from format-spec/ans.md: any change to the coder's arithmetic,
 * the quantisation, the keystream layout or the detmath functions they use
 * changes these bytes, i.e. the file format. */
static void expect_bytes(const vdm_ans *a, const char *hexstr)
{
    size_t n;
    uint8_t *b = ans_dump(a, &n);
    char got[256];
    cr_assert(2 * n < sizeof got);
    for (size_t i = 0; i < n; i++) snprintf(got + 2 * i, 3, "%02x", b[i]);
    cr_assert_str_eq(got, hexstr);
    free(b);
}

Test(ans_stack, golden_vectors)
{
    uint8_t key[32];
    vdm_ans_clean_key(key, 0);
    char kh[65];
    vdm_hex(kh, key, 32);
    cr_assert_str_eq(kh, "9d881d1a55e46226137cdf1b778581c454bedfe350a52c98e727cccddd06cde7");

    vdm_ans *a;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    cr_assert_eq(vdm_ans_push(a, 5, 3, 4), VDM_OK);
    expect_bytes(a, "a7aaaaaa02000000");
    cr_assert_eq(vdm_ans_uniform_push(a, 1234, 10000), VDM_OK);
    expect_bytes(a, "67971f3e26680000");
    vdm_ans_gauss g;
    cr_assert_eq(vdm_ans_gauss_init(&g, 0.25f, 1.5f, 0.5f, 26), VDM_OK);
    cr_assert_eq(g.klo, -22);
    cr_assert_eq(g.khi, 24);
    static const uint32_t fq[9] = {4526089, 6297310, 7848297, 8761638, 8761636, 7848297, 6297310, 4526089, 2913925};
    for (int k = -3; k <= 5; k++) cr_assert_eq(vdm_ans_gauss_freq(&g, k, NULL), fq[k + 3], "freq(%d)", k);
    cr_assert_eq(vdm_ans_gauss_push(a, &g, 3), VDM_OK);
    expect_bytes(a, "641b13e3e4550400");
    cr_assert_eq(vdm_ans_gauss_push(a, &g, -100000), VDM_OK);
    expect_bytes(a, "000000c8ab08000001804443641b13e3");
    vdm_ans_lik8 l;
    cr_assert_eq(vdm_ans_lik8_init(&l, 0.99f, -10.0f, 24), VDM_OK);
    uint32_t f[256];
    cr_assert_eq(vdm_ans_lik8_freqs(&l, 0.57f, f), VDM_OK);
    cr_assert_eq(f[200], 4450670);
    cr_assert_eq(f[201], 7747358);
    cr_assert_eq(f[208], 2);
    cr_assert_eq(vdm_ans_lik8_push(a, &l, 0.57f, 200), VDM_OK);
    expect_bytes(a, "b56c17acaf20000001804443641b13e3");
    cr_assert_eq(vdm_ans_clean_begin(a, key, 1, 2, 3), VDM_OK);
    cr_assert_eq(vdm_ans_gauss_init(&g, 0.0f, 2.0f, 0.1f, 26), VDM_OK);
    static const int32_t want[3] = {-46, 20, -20};
    for (int i = 0; i < 3; i++) {
        int32_t k;
        cr_assert_eq(vdm_ans_gauss_pop(a, &g, &k), VDM_OK);
        cr_assert_eq(k, want[i]);
    }
    cr_assert_eq(vdm_ans_clean_end(a), VDM_OK);
    cr_assert_eq(vdm_ans_last_clean_words(a), 1);
    expect_bytes(a, "daf7d69712167800641b13e3");
    vdm_ans_free(a);

    /* pops from an empty stack: the initial words R_0 = e220a839, R_1 = 6e789e6a */
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    static const uint32_t us[4] = {0, 127, 884, 767};
    for (int i = 0; i < 4; i++) {
        uint32_t s;
        cr_assert_eq(vdm_ans_uniform_pop(a, 1000, &s), VDM_OK);
        cr_assert_eq(s, us[i]);
    }
    cr_assert_eq(vdm_ans_initial_words(a), 2);
    expect_bytes(a, "6a9e786ebaa88c00");
    vdm_ans_free(a);
}

/* copy: a snapshot continues exactly like the original (the codec tries a
 * tile one way, goes back, tries another); info_bits_int is the integer
 * floor of info_bits. */
Test(ans_stack, copy_and_integer_info)
{
    trng r = {9};
    vdm_ans *a, *b;
    cr_assert_eq(vdm_ans_create(&a), VDM_OK);
    cr_assert_eq(vdm_ans_create(&b), VDM_OK);
    vdm_ans_set_initial_seed(a, 77);
    for (int i = 0; i < 500; i++) {   /* pops first: draws initial words */
        uint32_t s = vdm_ans_peek(a, 12);
        cr_assert_eq(vdm_ans_pop_advance(a, s, 1, 12), VDM_OK);
    }
    for (int i = 0; i < 20000; i++) cr_assert_eq(vdm_ans_push(a, (uint32_t)trng_below(&r, 4096), 1, 12), VDM_OK);
    cr_assert_eq(vdm_ans_copy(b, a), VDM_OK);
    cr_assert_eq(vdm_ans_initial_words(b), vdm_ans_initial_words(a));
    for (int k = 0; k < 2; k++) {
        vdm_ans *x = k ? b : a;
        trng q = {10};
        for (int i = 0; i < 5000; i++) {
            uint32_t s = vdm_ans_peek(x, 16);
            cr_assert_eq(vdm_ans_pop_advance(x, s, 1, 16), VDM_OK);
            cr_assert_eq(vdm_ans_push(x, (uint32_t)trng_below(&q, 200), 7, 11), VDM_OK);
        }
        double f = vdm_ans_info_bits(x);
        uint64_t n = vdm_ans_info_bits_int(x);
        cr_assert((double)n <= f + 1e-9 && f < (double)n + 1.0, "int %llu vs %.4f", (unsigned long long)n, f);
    }
    size_t na, nb;
    uint8_t *da = ans_dump(a, &na), *db = ans_dump(b, &nb);
    cr_assert_eq(na, nb);
    cr_assert(memcmp(da, db, na) == 0, "the copy went its own way");
    free(da);
    free(db);
    /* the copy is independent of its source, and copying onto itself is a no-op */
    cr_assert_eq(vdm_ans_push(a, 1, 1, 8), VDM_OK);
    cr_assert_neq(vdm_ans_info_bits_int(a), vdm_ans_info_bits_int(b));
    cr_assert_eq(vdm_ans_copy(a, a), VDM_OK);
    /* not inside a cleaning section */
    uint8_t key[32] = {0};
    cr_assert_eq(vdm_ans_clean_begin(a, key, 0, 0, 0), VDM_OK);
    cr_assert_eq(vdm_ans_copy(b, a), VDM_ERR_ARG);
    cr_assert_eq(vdm_ans_clean_end(a), VDM_OK);
    vdm_ans_free(a);
    vdm_ans_free(b);
}
