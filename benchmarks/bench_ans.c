/* bench_ans.c — push/pop throughput of the ans/ coder on one core.
 *
 * Cases: the discretised Gaussian at several sigma/delta ratios (window sizes)
 * and the 8-bit likelihood p(x|z0) at several gamma0 (likelihood widths), plus
 * raw 16-bit symbols and the cost of XOR cleaning.  Every run is decoded and
 * compared, so a number is only printed for a correct round trip.
 *
 * Times are process CPU time (one thread).
 *
 * usage: bench_ans [symbols]   (default 2000000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#include "ans/ans.h"

/* CPU time of this (single-threaded) process: steadier than wall time on
 * the shared 2-core machines, where other jobs take turns on the core. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rs = 0x1234567;
static uint64_t rnd(void)
{
    uint64_t z = (rs += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}
static double unif(void) { return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0; }
static double gauss(void) { return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif()); }

static int fail(const char *what)
{
    fprintf(stderr, "bench_ans: %s failed\n", what);
    return 1;
}

static void row(const char *name, size_t n, double tpush, double tpop, double bits)
{
    printf("| %-34s | %8.2f | %8.2f | %7.1f | %7.1f | %6.2f |\n", name, n / tpush / 1e6, n / tpop / 1e6,
           1e9 * tpush / n, 1e9 * tpop / n, bits / n);
}

static int bench_gauss(size_t n, double ratio, int clean_batches)
{
    const float delta = 1e-3f, sigma = (float)(delta * ratio);
    const size_t batch = 4096;
    float *mu = malloc(n * sizeof *mu);
    int32_t *k = malloc(n * sizeof *k), *k2 = malloc(n * sizeof *k2);
    for (size_t i = 0; i < n; i++) {
        mu[i] = (float)(gauss() * 0.5);
        k[i] = (int32_t)floor((mu[i] + sigma * gauss()) / delta + 0.5);
    }
    vdm_ans *a;
    if (vdm_ans_create(&a) != VDM_OK) return fail("create");
    uint8_t key[32];
    vdm_ans_clean_key(key, 0);
    double t0 = now();
    if (!clean_batches) {
        if (vdm_ans_gauss_push_vec(a, n, k, mu, &sigma, 0, delta, VDM_ANS_GAUSS_PREC_DEFAULT) != VDM_OK)
            return fail("push");
    } else {
        /* decoder-side order: unclean around each pushed batch */
        for (size_t b = 0; b < n; b += batch) {
            size_t m = n - b < batch ? n - b : batch;
            if (vdm_ans_unclean_begin(a, key, 0, 0, (uint32_t)(b / batch)) != VDM_OK ||
                vdm_ans_gauss_push_vec(a, m, k + b, mu + b, &sigma, 0, delta, VDM_ANS_GAUSS_PREC_DEFAULT) != VDM_OK ||
                vdm_ans_unclean_end(a) != VDM_OK)
                return fail("unclean push");
        }
    }
    double t1 = now();
    double bits = (double)vdm_ans_size_bits(a);
    if (!clean_batches) {
        if (vdm_ans_gauss_pop_vec(a, n, k2, mu, &sigma, 0, delta, VDM_ANS_GAUSS_PREC_DEFAULT) != VDM_OK)
            return fail("pop");
    } else {
        size_t nb = (n + batch - 1) / batch;
        for (size_t bi = nb; bi-- > 0;) {
            size_t b = bi * batch, m = n - b < batch ? n - b : batch;
            if (vdm_ans_clean_begin(a, key, 0, 0, (uint32_t)bi) != VDM_OK ||
                vdm_ans_gauss_pop_vec(a, m, k2 + b, mu + b, &sigma, 0, delta, VDM_ANS_GAUSS_PREC_DEFAULT) != VDM_OK ||
                vdm_ans_clean_end(a) != VDM_OK)
                return fail("clean pop");
        }
    }
    double t2 = now();
    if (memcmp(k, k2, n * sizeof *k) != 0 || vdm_ans_num_words(a) != 0) return fail("gauss round trip");
    vdm_ans_gauss g;
    vdm_ans_gauss_init(&g, 0, sigma, delta, VDM_ANS_GAUSS_PREC_DEFAULT);
    char name[80];
    snprintf(name, sizeof name, "gauss s/d=%g (W=%lld)%s", ratio, (long long)(g.khi - g.klo + 1),
             clean_batches ? " +XOR clean" : "");
    row(name, n, t1 - t0, t2 - t1, bits);
    vdm_ans_free(a);
    free(mu); free(k); free(k2);
    return 0;
}

static int bench_lik8(size_t n, float gamma0)
{
    const float alpha0 = sqrtf(1.0f / (1.0f + expf(gamma0)));   /* alpha^2 = sigmoid(-gamma) */
    const float s0 = expf(0.5f * gamma0) * alpha0;               /* sigma0 */
    float *z = malloc(n * sizeof *z);
    uint8_t *x = malloc(n), *x2 = malloc(n);
    for (size_t i = 0; i < n; i++) {
        /* a smooth-ish image: neighbouring values, z0 = alpha0 x + sigma0 eps */
        x[i] = (uint8_t)((i / 7 + (rnd() & 3)) & 255);
        z[i] = (float)(alpha0 * ((2.0 * x[i] - 255) / 255.0) + s0 * gauss());
    }
    vdm_ans_lik8 p;
    vdm_ans *a;
    if (vdm_ans_lik8_init(&p, alpha0, gamma0, VDM_ANS_LIK8_PREC_DEFAULT) != VDM_OK || vdm_ans_create(&a) != VDM_OK)
        return fail("lik8 init");
    double t0 = now();
    if (vdm_ans_lik8_push_vec(a, &p, n, x, z) != VDM_OK) return fail("lik8 push");
    double t1 = now();
    double bits = (double)vdm_ans_size_bits(a);
    if (vdm_ans_lik8_pop_vec(a, &p, n, x2, z) != VDM_OK) return fail("lik8 pop");
    double t2 = now();
    if (memcmp(x, x2, n) != 0) return fail("lik8 round trip");
    char name[80];
    snprintf(name, sizeof name, "lik8 gamma0=%g (reach %d)", gamma0, p.reach);
    row(name, n, t1 - t0, t2 - t1, bits);
    vdm_ans_free(a);
    free(z); free(x); free(x2);
    return 0;
}

static int bench_raw(size_t n)
{
    uint32_t *s = malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) s[i] = (uint32_t)(rnd() & 0xffff);
    vdm_ans *a;
    if (vdm_ans_create(&a) != VDM_OK) return fail("create");
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        if (vdm_ans_push(a, s[i], 1, 16) != VDM_OK) return fail("raw push");
    double t1 = now();
    double bits = (double)vdm_ans_size_bits(a);
    for (size_t i = n; i-- > 0;) {
        uint32_t y = vdm_ans_peek(a, 16);
        if (y != s[i] || vdm_ans_pop_advance(a, y, 1, 16) != VDM_OK) return fail("raw round trip");
    }
    double t2 = now();
    row("raw 16-bit symbols", n, t1 - t0, t2 - t1, bits);
    vdm_ans_free(a);
    free(s);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 2000000;
    if (n == 0) n = 1;
    printf("ans/ throughput, one core (CPU time), %zu symbols per case (M/s = million symbols per second)\n\n", n);
    printf("| %-34s | %8s | %8s | %7s | %7s | %6s |\n", "case", "push M/s", "pop M/s", "push ns", "pop ns", "bits");
    printf("|%s|%s|%s|%s|%s|%s|\n", "------------------------------------", "----------", "----------", "---------",
           "---------", "--------");
    int rc = 0;
    rc |= bench_raw(n);
    rc |= bench_gauss(n, 0.3, 0);
    rc |= bench_gauss(n, 4, 0);
    rc |= bench_gauss(n, 64, 0);
    rc |= bench_gauss(n, 1024, 0);
    rc |= bench_gauss(n, 64, 1);
    rc |= bench_lik8(n, -13.0f);
    rc |= bench_lik8(n, -10.0f);
    rc |= bench_lik8(n, -6.0f);
    return rc;
}
