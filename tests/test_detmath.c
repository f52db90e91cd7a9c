/* Deterministic maths: accuracy against libm (allowed in tests only) and a
 * golden hash over many inputs, which every build must reproduce bit for bit. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <stdint.h>
#include "common/detmath.h"

static double relerr(double got, double want)
{
    if (want == 0.0) return fabs(got);
    return fabs(got - want) / fabs(want);
}

/* deterministic sweep of float inputs in [lo, hi] */
#define SWEEP(var, lo, hi, n) for (int i_ = 0; i_ <= (n); i_++) for (float var = (float)((lo) + ((hi) - (lo)) * (double)i_ / (n)), *once_ = &var; once_; once_ = NULL)

Test(detmath, expf_accuracy)
{
    double worst = 0;
    SWEEP(x, -87.0, 88.0, 200000) { double e = relerr(vdm_expf(x), exp((double)x)); if (e > worst) worst = e; }
    cr_expect_lt(worst, 3e-7, "expf worst relative error %g", worst);
    cr_expect_eq(vdm_expf(-200.0f), 0.0f);
    cr_expect(isinf(vdm_expf(100.0f)));
    cr_expect(isnan(vdm_expf(NAN)));
    /* subnormal range */
    cr_expect_lt(relerr(vdm_expf(-100.0f), exp(-100.0)), 5e-2); /* 26 ulp of subnormal spacing */
}

Test(detmath, logf_expm1f_log1pf_accuracy)
{
    double w1 = 0, w2 = 0, w3 = 0;
    SWEEP(x, 1e-6, 1000.0, 200000) { double e = fabs(vdm_logf(x) - log((double)x)) / fmax(1.0, fabs(log((double)x))); if (e > w1) w1 = e; }
    SWEEP(x, -30.0, 30.0, 200000) { double e = relerr(vdm_expm1f(x), expm1((double)x)); if (e > w2) w2 = e; }
    SWEEP(x, -0.999, 100.0, 200000) { double e = relerr(vdm_log1pf(x), log1p((double)x)); if (e > w3) w3 = e; }
    cr_expect_lt(w1, 3e-7, "logf %g", w1);
    cr_expect_lt(w2, 3e-7, "expm1f %g", w2);
    cr_expect_lt(w3, 3e-7, "log1pf %g", w3);
    cr_expect_lt(relerr(vdm_logf(1e-40f), log(1e-40)), 1e-6); /* subnormal input */
    cr_expect_lt(relerr(vdm_expm1f(1e-7f), expm1(1e-7)), 1e-7);
    cr_expect(isinf(vdm_logf(0.0f)) && vdm_logf(0.0f) < 0);
    cr_expect(isnan(vdm_logf(-1.0f)));
}

Test(detmath, sigmoid_softplus_tanh)
{
    double w1 = 0, w2 = 0, w3 = 0;
    SWEEP(x, -80.0, 80.0, 100000) {
        double s = 1.0 / (1.0 + exp(-(double)x));
        double sp = log1p(exp((double)x));
        double e1 = relerr(vdm_sigmoidf(x), s), e2 = relerr(vdm_softplusf(x), sp);
        double e3 = fabs(vdm_tanhf(x) - tanh((double)x)) / fmax(1e-30, fabs(tanh((double)x)));
        if (e1 > w1) w1 = e1;
        if (e2 > w2) w2 = e2;
        if (e3 > w3) w3 = e3;
    }
    cr_expect_lt(w1, 5e-7, "sigmoid %g", w1);
    cr_expect_lt(w2, 5e-7, "softplus %g", w2);
    cr_expect_lt(w3, 5e-7, "tanh %g", w3);
}

Test(detmath, sin_cos_accuracy)
{
    double w = 0;
    SWEEP(x, -5000.0, 5000.0, 400000) {
        double e1 = fabs(vdm_sinf(x) - sin((double)x)), e2 = fabs(vdm_cosf(x) - cos((double)x));
        if (e1 > w) w = e1;
        if (e2 > w) w = e2;
    }
    cr_expect_lt(w, 1.2e-7, "sin/cos absolute %g", w);
}

Test(detmath, double_exp_log)
{
    double w1 = 0, w2 = 0, w3 = 0, w4 = 0;
    for (int i = 0; i <= 200000; i++) {
        double x = -700.0 + 1400.0 * i / 200000.0;
        double e = relerr(vdm_exp(x), exp(x)); if (e > w1) w1 = e;
        double y = pow(10.0, -300.0 + 600.0 * i / 200000.0);
        double l = fabs(vdm_log(y) - log(y)) / fmax(1.0, fabs(log(y))); if (l > w2) w2 = l;
        double z = -0.9 + 50.0 * i / 200000.0;
        double m = relerr(vdm_expm1(z), expm1(z)); if (m > w3) w3 = m;
        double q = relerr(vdm_log1p(z), log1p(z)); if (q > w4) w4 = q;
    }
    cr_expect_lt(w1, 1e-15, "exp %g", w1);
    cr_expect_lt(w2, 1e-15, "log %g", w2);
    cr_expect_lt(w3, 1e-15, "expm1 %g", w3);
    cr_expect_lt(w4, 1e-15, "log1p %g", w4);
}

Test(detmath, normal_cdf_tails)
{
    double w = 0;
    for (int i = 0; i <= 100000; i++) {
        double x = -37.0 + 74.0 * i / 100000.0;
        double want_sf = 0.5 * erfc(x / sqrt(2.0)), want_cdf = 0.5 * erfc(-x / sqrt(2.0));
        double e1 = relerr(vdm_norm_sf(x), want_sf), e2 = relerr(vdm_norm_cdf(x), want_cdf);
        if (e1 > w) w = e1;
        if (e2 > w) w = e2;
    }
    cr_expect_lt(w, 3e-7, "normal cdf/sf worst relative error %g", w);
    cr_expect_eq(vdm_norm_cdf(0.0), 0.5 * (1.0 + 0.0) + (vdm_norm_cdf(0.0) - 0.5)); /* finite */
    cr_expect_lt(fabs(vdm_norm_cdf(0.0) - 0.5), 1e-7);
}

/* FNV-1a over the bit patterns of every function on a fixed input set.  The
 * value is whatever the reference build produced; any build (compiler, -O
 * level, -march, sanitizers) that differs breaks the determinism contract. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 1099511628211ull; }
    return h;
}

Test(detmath, golden_bits)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 20000; i++) {
        float x = -60.0f + 120.0f * (float)i / 20000.0f;
        float xs = x * 37.0f;
        float v[9] = { vdm_expf(x), vdm_expm1f(x / 8), vdm_logf(fabsf(x) + 1e-3f), vdm_log1pf(fabsf(x)),
                       vdm_sigmoidf(x), vdm_softplusf(x), vdm_sinf(xs), vdm_cosf(xs), vdm_tanhf(x / 4) };
        double d[6] = { vdm_exp(x * 10.0), vdm_expm1(x / 8.0), vdm_log(fabs(x) + 1e-3), vdm_log1p(fabs(x)),
                        vdm_norm_cdf(x / 2.0), vdm_norm_sf(x / 2.0) };
        h = fnv(h, v, sizeof v);
        h = fnv(h, d, sizeof d);
    }
    cr_log_info("detmath golden hash %016llx", (unsigned long long)h);
    cr_expect_eq(h, 0x337b1fb68be6679full, "detmath bits changed: %016llx", (unsigned long long)h);
}
