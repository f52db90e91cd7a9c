/* test_kernels_cpu.c — the CPU (im2col + OpenBLAS) convolution against the
 * REF kernels, forward and backward, including row chunks that cross image
 * boundaries (per-image bias) and images wider than one chunk.
 *
 * Tolerance: both compute the same sums of K terms in float32 in different
 * orders; each is within K * 2^-24 * sum|terms| of the exact value (the
 * classical bound for recursive summation, Higham 2002 §4.2; sgemm's blocked
 * sums obey it too), so they differ by at most twice that.  The test asserts
 * that bound per output of the forward, with sum|terms| computed in float64.
 * For the backward's long sums see the comment there. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"

static uint64_t rs = 0xdeadbeefcafef00dull;
static float *frand(size_t n, double scale)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        rs ^= rs << 13;
        rs ^= rs >> 7;
        rs ^= rs << 17;
        p[i] = (float)(scale * ((double)(rs >> 11) * 0x1.0p-52 - 1.0));
    }
    return p;
}

/* sum over taps of |in * w| (+ |bias|) for each output, in float64 */
static void abs_terms(double *out, const float *in, const float *w, const float *b, size_t bs,
                      int N, int H, int W, int Cin, int Cout)
{
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int co = 0; co < Cout; co++) {
                    double s = b ? fabs(b[n * bs + co]) : 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int yy = y + ky - 1, xx = x + kx - 1;
                            if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                            for (int ci = 0; ci < Cin; ci++)
                                s += fabs((double)in[((n * H + yy) * W + xx) * Cin + ci] * w[((ky * 3 + kx) * Cin + ci) * Cout + co]);
                        }
                    out[((n * H + y) * W + x) * Cout + co] = s;
                }
}

static double gamma_k(double K) { return 2.0 * K * 0x1.0p-24; }

typedef struct { int N, H, W, Cin, Cout; } shp;

static void check_forward(shp h, int nthreads, int per_image_bias, int accumulate)
{
    size_t ni = (size_t)h.N * h.H * h.W * h.Cin, no = (size_t)h.N * h.H * h.W * h.Cout, nw = 9u * h.Cin * h.Cout;
    float *in = frand(ni, 1.0), *w = frand(nw, 1.0), *b = frand((size_t)h.N * h.Cout, 1.0), *base = frand(no, 1.0);
    float *o_ref = malloc(sizeof(float) * no), *o_cpu = malloc(sizeof(float) * no);
    float *scratch = malloc(sizeof(float) * vdm_conv3x3_cpu_scratch_floats(h.W, h.Cin, h.Cout, 3));
    double *mag = malloc(sizeof(double) * no);
    size_t bs = per_image_bias ? (size_t)h.Cout : 0;
    memcpy(o_ref, base, sizeof(float) * no);
    memcpy(o_cpu, base, sizeof(float) * no);
    cr_assert_eq(vdm_conv3x3_ref_mt(o_ref, in, w, b, bs, h.N, h.H, h.W, h.Cin, h.Cout, accumulate, 2), VDM_OK);
    vdm_conv3x3_cpu(o_cpu, in, w, b, bs, h.N, h.H, h.W, h.Cin, h.Cout, accumulate, scratch, nthreads);
    abs_terms(mag, in, w, b, bs, h.N, h.H, h.W, h.Cin, h.Cout);
    const double gk = gamma_k(9.0 * h.Cin + 2);
    for (size_t i = 0; i < no; i++) {
        double m = mag[i] + (accumulate ? fabs(base[i]) : 0);
        cr_assert(fabs(o_ref[i] - o_cpu[i]) <= gk * m + 1e-30, "out %zu: ref %g cpu %g (bound %g)", i, o_ref[i],
                  o_cpu[i], gk * m);
    }
    free(in); free(w); free(b); free(base); free(o_ref); free(o_cpu); free(scratch); free(mag);
}

/* The im2col + sgemm path is what CPU kernels run when the REF kernels are
 * capped to scalar; uncapped on an AVX2 CPU they run the direct kernel. */
static void both_paths(void (*fn)(void))
{
    vdm_simd_level old = vdm_ref_simd_cap(VDM_SIMD_SCALAR);
    fn();
    vdm_ref_simd_cap(old);
    fn();
}

static void fwd_cases(void)
{
    const shp list[] = {{1, 1, 1, 1, 1}, {2, 4, 5, 3, 4}, {3, 5, 7, 15, 32}, {2, 9, 11, 32, 3}, {1, 6, 33, 48, 40}};
    for (size_t s = 0; s < 5; s++)
        for (int mode = 0; mode < 4; mode++) check_forward(list[s], 1 + (mode & 1), mode & 1, mode >> 1);
}

Test(kernels_cpu, forward_matches_ref) { both_paths(fwd_cases); }

static void chunk_cases(void)
{
    /* chunk = 2048/W rows: W=500 -> 4 rows per chunk, crossing images of 5 rows */
    check_forward((shp){3, 5, 500, 2, 3}, 2, 1, 0);
    /* W wider than a chunk: one row per chunk */
    check_forward((shp){1, 3, 2500, 2, 2}, 2, 1, 1);
}

Test(kernels_cpu, forward_chunks_cross_images_and_wide_rows) { both_paths(chunk_cases); }

static double max_rel(const float *a, const float *b, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(a[i] - b[i])), m = fmax(m, fabs(a[i]));
    return m > 0 ? e / m : (e > 0 ? INFINITY : 0);
}

static void bwd_cases(void)
{
    const shp list[] = {{2, 4, 5, 3, 4}, {3, 5, 7, 15, 16}, {2, 6, 9, 16, 3}, {1, 3, 2100, 2, 3}};
    for (size_t s = 0; s < 4; s++) {
        shp h = list[s];
        size_t ni = (size_t)h.N * h.H * h.W * h.Cin, no = (size_t)h.N * h.H * h.W * h.Cout, nw = 9u * h.Cin * h.Cout;
        float *in = frand(ni, 1.0), *w = frand(nw, 1.0), *g = frand(no, 1.0);
        float *dw0 = frand(nw, 1.0), *db0 = frand((size_t)h.Cout, 1.0);
        float *din_r = malloc(sizeof(float) * ni), *din_c = malloc(sizeof(float) * ni);
        float *dw_r = malloc(sizeof(float) * nw), *dw_c = malloc(sizeof(float) * nw);
        float *db_r = malloc(sizeof(float) * h.Cout), *db_c = malloc(sizeof(float) * h.Cout);
        memcpy(dw_r, dw0, sizeof(float) * nw); memcpy(dw_c, dw0, sizeof(float) * nw);
        memcpy(db_r, db0, sizeof(float) * h.Cout); memcpy(db_c, db0, sizeof(float) * h.Cout);
        float *scratch = malloc(sizeof(float) * vdm_conv3x3_cpu_scratch_floats(h.W, h.Cin, h.Cout, 3));
        memset(din_c, 0xff, sizeof(float) * ni); /* "=" semantics: old contents must not matter */
        vdm_conv3x3_backward_ref(din_r, dw_r, db_r, g, in, w, h.N, h.H, h.W, h.Cin, h.Cout);
        vdm_conv3x3_backward_cpu(din_c, dw_c, db_c, g, in, w, h.N, h.H, h.W, h.Cin, h.Cout, scratch, 1 + (int)(s % 3));
        /* The sums here are long (dw sums over all P pixels), where the
         * worst-case bound is far above real float error; assert instead
         * that the largest difference is below 1e-5 of the largest value
         * (rounding of K-term sums is ~sqrt(K) 2^-24 relative, < 1e-6). */
        cr_assert(max_rel(din_r, din_c, ni) <= 1e-5, "din: %g", max_rel(din_r, din_c, ni));
        cr_assert(max_rel(dw_r, dw_c, nw) <= 1e-5, "dw: %g", max_rel(dw_r, dw_c, nw));
        cr_assert(max_rel(db_r, db_c, (size_t)h.Cout) <= 1e-5, "db: %g", max_rel(db_r, db_c, (size_t)h.Cout));
        /* and they are not trivially equal to the starting values */
        cr_assert(memcmp(dw_c, dw0, sizeof(float) * nw) != 0);
        /* NULL outputs */
        vdm_conv3x3_backward_cpu(NULL, NULL, NULL, g, in, w, h.N, h.H, h.W, h.Cin, h.Cout, scratch, 2);
        free(in); free(w); free(g); free(dw0); free(db0); free(din_r); free(din_c); free(dw_r); free(dw_c);
        free(db_r); free(db_c); free(scratch);
    }
}

Test(kernels_cpu, backward_matches_ref) { both_paths(bwd_cases); }
