/* conv_cpu.c — the fast 3x3 convolution for training and bound evaluation:
 * im2col over chunks of image rows + OpenBLAS sgemm.
 *
 * Where the CPU has AVX2, the forward (and the input gradient, itself a
 * convolution) instead runs the REF kernel's direct AVX2 loop split over
 * rows: for our layer shapes (K = 9*C <= 576, 16..64 outputs) it beats
 * im2col + sgemm (measured ~95 vs ~65 GFLOP/s per Zen 4 core, the copy into
 * the column buffer being a large part of the difference), and it gives the
 * REF bits for free.  The weight gradient always uses sgemm.
 *
 * Threads: each of our nthreads threads takes a contiguous share of the
 * image rows and runs im2col + a single-threaded sgemm on it, chunk by chunk
 * in its own column buffer.  OpenBLAS itself is kept at one thread: its own
 * pool busy-waits between calls, which on a 2-core machine fights our
 * threads (measured: 1.2x instead of ~1.9x from 2 threads).  The weight
 * gradient is summed per thread into private buffers and then added in
 * thread order.
 *
 * Not bit-reproducible across thread counts or BLAS builds; it agrees with
 * the REF kernel within float rounding (tests/test_kernels_cpu.c states the
 * tolerance).  The input gradient is itself a 3x3 convolution of dout with
 * the kernel flipped in space and transposed in channels,
 *   din[y,x,ci] = sum_{ky,kx,co} dout[y+ky-1, x+kx-1, co] * w[2-ky, 2-kx, ci, co],
 * so it reuses the forward path (no scatter, rows independent). */
#include <cblas.h>
#include <string.h>
#include "kernels/kernels.h"

#define CHUNK_PIX 2048 /* pixels per im2col block: 9*C columns stay cache-sized */

static int chunk_rows(int W)
{
    int r = CHUNK_PIX / W;
    return r < 1 ? 1 : r;
}

/* Per thread: a column block (chunk_rows(W)*W <= max(CHUNK_PIX, W) pixels by
 * 9*max(Cin,Cout)) and a private weight gradient (9*Cin*Cout); plus one
 * flipped kernel shared by all. */
static size_t col_floats(int W, int Cin, int Cout)
{
    const size_t cmax = (size_t)(Cin > Cout ? Cin : Cout);
    const size_t pix = (size_t)(W > CHUNK_PIX ? W : CHUNK_PIX);
    return pix * 9u * cmax;
}

size_t vdm_conv3x3_cpu_scratch_floats(int W, int Cin, int Cout, int nthreads)
{
    if (nthreads < 1) nthreads = 1;
    const size_t wsz = 9u * (size_t)Cin * (size_t)Cout;
    return (size_t)nthreads * (col_floats(W, Cin, Cout) + wsz) + wsz;
}

static void blas_one_thread(void)
{
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

/* col[(r-ra)*W + x][(ky*3+kx)*C + ci] = in[n, y+ky-1, x+kx-1, ci] or 0,
 * rows r in [ra, rb). */
static void im2col(float *col, const float *in, int H, int W, int C, int ra, int rb)
{
    const size_t Cs = (size_t)C;
    float *cp = col;
    for (int r = ra; r < rb; r++) {
        const int n = r / H, y = r % H;
        for (int x = 0; x < W; x++)
            for (int ky = 0; ky < 3; ky++) {
                const int yy = y + ky - 1;
                for (int kx = 0; kx < 3; kx++, cp += Cs) {
                    const int xx = x + kx - 1;
                    if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                        memset(cp, 0, sizeof(float) * Cs);
                    else
                        memcpy(cp, in + ((size_t)(n * H + yy) * (size_t)W + (size_t)xx) * Cs, sizeof(float) * Cs);
                }
            }
    }
}

typedef struct {
    float *out;
    const float *in, *w, *bias;
    size_t bias_nstride;
    int N, H, W, Cin, Cout, accumulate, nthreads;
    float *scratch;
    /* backward (dw) */
    const float *dout;
} cpu_job;

static void share(int R, int nt, int t, int *ra, int *rb)
{
    *ra = (int)((long long)R * t / nt);
    *rb = (int)((long long)R * (t + 1) / nt);
}

static void fwd_task(void *ctx, int t0, int t1)
{
    const cpu_job *j = (const cpu_job *)ctx;
    const int K = 9 * j->Cin, cr = chunk_rows(j->W);
    const size_t per = col_floats(j->W, j->Cin, j->Cout) + 9u * (size_t)j->Cin * (size_t)j->Cout;
    for (int t = t0; t < t1; t++) {
        float *col = j->scratch + (size_t)t * per;
        int r0, r1;
        share(j->N * j->H, j->nthreads, t, &r0, &r1);
        for (int ra = r0; ra < r1; ra += cr) {
            const int rb = ra + cr < r1 ? ra + cr : r1;
            const int P = (rb - ra) * j->W;
            im2col(col, j->in, j->H, j->W, j->Cin, ra, rb);
            float *oc = j->out + (size_t)ra * (size_t)j->W * (size_t)j->Cout;
            float beta = j->accumulate ? 1.0f : 0.0f;
            if (j->bias) {
                for (int r = ra; r < rb; r++) {
                    const float *b = j->bias + (size_t)(r / j->H) * j->bias_nstride;
                    float *op = j->out + (size_t)r * (size_t)j->W * (size_t)j->Cout;
                    for (int x = 0; x < j->W; x++, op += j->Cout)
                        for (int co = 0; co < j->Cout; co++) op[co] = j->accumulate ? op[co] + b[co] : b[co];
                }
                beta = 1.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, j->Cout, K, 1.0f, col, K, j->w,
                        j->Cout, beta, oc, j->Cout);
        }
    }
}

static void conv_fwd(float *out, const float *in, const float *w, const float *bias,
                     size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                     int accumulate, float *scratch, int nthreads)
{
    if (vdm_ref_simd_level() >= VDM_SIMD_AVX2) {
        (void)vdm_conv3x3_ref_mt(out, in, w, bias, bias_nstride, N, H, W, Cin, Cout, accumulate, nthreads);
        return;
    }
    if (nthreads < 1) nthreads = 1;
    if (nthreads > N * H) nthreads = N * H;
    blas_one_thread();
    cpu_job j = {out, in, w, bias, bias_nstride, N, H, W, Cin, Cout, accumulate, nthreads, scratch, NULL};
    (void)vdm_parallel_for(nthreads, nthreads, fwd_task, &j); /* complete even if a thread fails */
}

void vdm_conv3x3_cpu(float *out, const float *in, const float *w, const float *bias,
                     size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                     int accumulate, float *scratch, int nthreads)
{
    conv_fwd(out, in, w, bias, bias_nstride, N, H, W, Cin, Cout, accumulate, scratch, nthreads);
}

/* Thread t: dw_t = sum over its rows of col^T @ dout (private buffer). */
static void dw_task(void *ctx, int t0, int t1)
{
    const cpu_job *j = (const cpu_job *)ctx;
    const int K = 9 * j->Cin, cr = chunk_rows(j->W);
    const size_t cf = col_floats(j->W, j->Cin, j->Cout), wsz = 9u * (size_t)j->Cin * (size_t)j->Cout;
    for (int t = t0; t < t1; t++) {
        float *col = j->scratch + (size_t)t * (cf + wsz), *dwt = col + cf;
        memset(dwt, 0, sizeof(float) * wsz);
        int r0, r1;
        share(j->N * j->H, j->nthreads, t, &r0, &r1);
        for (int ra = r0; ra < r1; ra += cr) {
            const int rb = ra + cr < r1 ? ra + cr : r1;
            const int P = (rb - ra) * j->W;
            im2col(col, j->in, j->H, j->W, j->Cin, ra, rb);
            /* dw_t[K, Cout] += col^T[K, P] @ dout[P, Cout] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, j->Cout, P, 1.0f, col, K,
                        j->dout + (size_t)ra * (size_t)j->W * (size_t)j->Cout, j->Cout, 1.0f, dwt, j->Cout);
        }
    }
}

typedef struct {
    float *dw;
    const float *scratch;
    size_t per, wsz;
    int nthreads;
} red_job;

static void red_task(void *ctx, int i0, int i1)
{
    const red_job *j = (const red_job *)ctx;
    const size_t lo = (size_t)i0 * 1024u, hi0 = (size_t)i1 * 1024u, hi = hi0 < j->wsz ? hi0 : j->wsz;
    for (int t = 0; t < j->nthreads; t++) {
        const float *p = j->scratch + (size_t)t * j->per + (j->per - j->wsz);
        for (size_t k = lo; k < hi; k++) j->dw[k] += p[k];
    }
}

void vdm_conv3x3_backward_cpu(float *din, float *dw, float *db, const float *dout,
                              const float *in, const float *w,
                              int N, int H, int W, int Cin, int Cout,
                              float *scratch, int nthreads)
{
    const int R = N * H;
    if (nthreads < 1) nthreads = 1;
    if (nthreads > R) nthreads = R;
    const size_t wsz = 9u * (size_t)Cin * (size_t)Cout, cf = col_floats(W, Cin, Cout);
    if (db) {
        const float *g = dout;
        const size_t P = (size_t)R * (size_t)W;
        for (size_t p = 0; p < P; p++, g += Cout)
            for (int co = 0; co < Cout; co++) db[co] += g[co];
    }
    if (dw) {
        blas_one_thread();
        cpu_job j = {NULL, in, NULL, NULL, 0, N, H, W, Cin, Cout, 0, nthreads, scratch, dout};
        (void)vdm_parallel_for(nthreads, nthreads, dw_task, &j);
        red_job rj = {dw, scratch, cf + wsz, wsz, nthreads};
        (void)vdm_parallel_for(nthreads, (int)((wsz + 1023) / 1024), red_task, &rj);
    }
    if (din) {
        /* the flipped kernel lives after the per-thread areas */
        float *wf = scratch + (size_t)nthreads * (cf + wsz);
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++)
                for (int co = 0; co < Cout; co++)
                    for (int ci = 0; ci < Cin; ci++)
                        wf[((size_t)(ky * 3 + kx) * (size_t)Cout + (size_t)co) * (size_t)Cin + (size_t)ci] =
                            w[((size_t)((2 - ky) * 3 + (2 - kx)) * (size_t)Cin + (size_t)ci) * (size_t)Cout + (size_t)co];
        /* per-thread areas sized for (Cin, Cout) also fit (Cout, Cin) */
        conv_fwd(din, dout, wf, NULL, 0, N, H, W, Cout, Cin, 0, scratch, nthreads);
    }
}
