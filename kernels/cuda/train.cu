// train.cu — the network's training forward and backward on the GPU
// (kernels/cuda_api.h, vdm_cuda_train_*).  Fast path, not the coding path:
// no bit-exactness with REF is promised (cuBLAS chooses its own summation
// order, TF32 may be on), only agreement within float rounding.
//
// Layout (P = N*H*W pixels, C = width, F = K*(1+2nf), all NHWC, device):
//   feat [P][F]; h_b, a_b = act(h_b) [P][C] b = 0..B; u_b = conv1_b(a_b) +
//   bias, v_b = act(u_b) [P][C] b < B; out [P][Ko] — what model/net.c keeps
//   for its backward, so the backward below is the same sequence of layers.
//
// A 3x3 convolution is out[P][Cout] = col[P][9Cin] @ w[9Cin][Cout] with
// col = im2col(in) (taps outside the image are 0), done in chunks of pixels
// so the column buffer stays bounded.  cuBLAS is column-major: a row-major
// [R][S] matrix is its column-major transpose (S x R, ld S), so
//   forward   out^T (Cout x P)  = w^T (Cout x 9Cin) . col^T (9Cin x P)
//             -> sgemm(N, N, m=Cout, n=P, k=9Cin, w, Cout, col, 9Cin, out, Cout)
//   weights   dw^T (Cout x 9Cin) += dout^T (Cout x P) . col (P x 9Cin)
//             -> sgemm(N, T, m=Cout, n=9Cin, k=P, dout, Cout, col, 9Cin, dw, Cout)
//   input     din = the forward convolution of dout with the kernel flipped in
//             space and transposed in channels, wf[ky][kx][co][ci] =
//             w[2-ky][2-kx][ci][co] (a gather: no scatter, no atomics).
// Bias gradients and the per-image channel sums of the gamma-embedding bias
// are two-stage column sums (fixed chunks of rows, then the chunks in order).
//
// Every CUDA and cuBLAS call is checked (VDM_ERR_CUDA); nothing prints.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>
#include "common/detmath_hd.h"
#include "kernels/cuda/cuda_internal.cuh"
#include "kernels/cuda_api.h"
#include "kernels/kernels.h"

#define VDM_CUBLAS(expr)                                                            \
    do {                                                                            \
        if ((expr) != CUBLAS_STATUS_SUCCESS) return VDM_ERR_CUDA;                   \
    } while (0)

// Rows per first-stage chunk of a column sum.
#define COLSUM_ROWS 256
// Floats of the im2col buffer (bounds device memory for any batch: 128 MiB).
// The host emulation (scripts/cuda-emu-check.sh) builds with a tiny value so
// that its small test batches run through many chunks.
#ifndef VDM_CU_COL_FLOATS
#define VDM_CU_COL_FLOATS ((size_t)32 << 20)
#endif
#define COL_FLOATS ((size_t)(VDM_CU_COL_FLOATS))

/* ================================================================ kernels */

// col[i], i = q*9C + (ky*3+kx)*C + ci for pixel p = p0 + q.
__global__ void vdm_cu_im2col_k(float *__restrict__ col, const float *__restrict__ in, size_t p0, int H,
                                int W, int C, size_t total)
{
    const size_t KC = 9 * (size_t)C, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const size_t j = i % KC, p = p0 + i / KC;
        const int tap = (int)(j / (size_t)C), ci = (int)(j % (size_t)C);
        const int x = (int)(p % (size_t)W);
        const size_t r = p / (size_t)W;
        const int y = (int)(r % (size_t)H);
        const size_t n = r / (size_t)H;
        const int yy = y + tap / 3 - 1, xx = x + tap % 3 - 1;
        col[i] = (yy < 0 || yy >= H || xx < 0 || xx >= W)
                     ? 0.0f
                     : in[((n * (size_t)H + (size_t)yy) * (size_t)W + (size_t)xx) * (size_t)C + (size_t)ci];
    }
}

// out[i] = (base ? base[i] : 0) + (bias ? bias[n*nstride + co] : 0); base may equal out.
__global__ void vdm_cu_bias_init_k(float *out, const float *base, const float *__restrict__ bias, size_t nstride,
                                   size_t HW, int Cout, size_t total)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        float v = base ? base[i] : 0.0f;
        if (bias) {
            const size_t co = i % (size_t)Cout, n = i / (size_t)Cout / HW;
            v = v + bias[n * nstride + co];
        }
        out[i] = v;
    }
}

// wf[(tap*Cout + co)*Cin + ci] = w[((8 - tap)*Cin + ci)*Cout + co].
__global__ void vdm_cu_flip_k(float *__restrict__ wf, const float *__restrict__ w, int Cin, int Cout, size_t total)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const size_t ci = i % (size_t)Cin, rest = i / (size_t)Cin;
        const size_t co = rest % (size_t)Cout, tap = rest / (size_t)Cout;
        wf[i] = w[((8 - tap) * (size_t)Cin + ci) * (size_t)Cout + co];
    }
}

// din = dout * act'(in) (accumulate: din += that); din may equal dout.
__global__ void vdm_cu_act_bwd_k(float *din, const float *__restrict__ in, const float *dout, size_t n, int act,
                                 int accumulate)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float x = in[i];
        float d;
        if (act == VDM_KACT_RELU) {
            d = x > 0.0f ? dout[i] : 0.0f;
        } else {
            const float s = 1.0f / (1.0f + vdm_expf_hd(-x));
            d = dout[i] * (s * (1.0f + x * (1.0f - s)));
        }
        din[i] = accumulate ? din[i] + d : d;
    }
}

// dz[p, c] = dfeat[p, c] + sum_k f_k (dsin_k cos(f_k z) - dcos_k sin(f_k z)).
__global__ void vdm_cu_fourier_bwd_k(float *__restrict__ dz, const float *__restrict__ z,
                                     const float *__restrict__ dfeat, size_t total, int C, vdm_cu_freqs fr, int nf)
{
    const size_t F = (size_t)C * (size_t)(1 + 2 * nf), stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const size_t p = i / (size_t)C;
        const int c = (int)(i % (size_t)C);
        const float *gp = dfeat + p * F;
        float d = gp[c];
        for (int k = 0; k < nf; k++) {
            const float a = fr.f[k] * z[i];
            const float *gs = gp + (size_t)C * (size_t)(1 + 2 * k);
            d += fr.f[k] * (gs[c] * vdm_cosf_hd(a) - gs[(size_t)C + (size_t)c] * vdm_sinf_hd(a));
        }
        dz[i] = d;
    }
}

// Stage 1: part[(g*nch + k)*C + c] = sum of x's rows [k*R, min((k+1)*R, L))
// of group g (rows g*L .. g*L + L - 1), column c, rows ascending.
__global__ void vdm_cu_colsum1_k(float *__restrict__ part, const float *__restrict__ x, size_t L, int C,
                                 size_t nch, size_t total)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const size_t c = i % (size_t)C, gk = i / (size_t)C, k = gk % nch, g = gk / nch;
        const size_t r0 = k * COLSUM_ROWS, r1 = r0 + COLSUM_ROWS < L ? r0 + COLSUM_ROWS : L;
        const float *xp = x + (g * L + r0) * (size_t)C + c;
        float s = 0.0f;
        for (size_t r = r0; r < r1; r++, xp += C) s += *xp;
        part[i] = s;
    }
}

// Stage 2: out[g*C + c] (= or +=) sum over k ascending of part[(g*nch + k)*C + c].
__global__ void vdm_cu_colsum2_k(float *out, const float *__restrict__ part, int C, size_t nch, int accumulate,
                                 size_t total)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const size_t c = i % (size_t)C, g = i / (size_t)C;
        const float *pp = part + g * nch * (size_t)C + c;
        float s = 0.0f;
        for (size_t k = 0; k < nch; k++, pp += C) s += *pp;
        out[i] = accumulate ? out[i] + s : s;
    }
}

/* ================================================================ context */

struct vdm_cuda_train {
    vdm_cu_net_shape sh;
    int capN, capW;
    size_t cap_pix;
    cudaStream_t s;
    int have_stream;
    cublasHandle_t blas;
    int have_blas;
    float *w, *dw, *wf;               // params, their gradient, a flipped kernel
    float *z, *feat, *h, *a, *u, *v, *out, *gb;
    float *dout, *dh, *dt1, *dt2, *dfeat, *dz, *bsum;
    float *col, *part;
    size_t col_floats, part_floats;
    float *stage;                     // host [np]: the gradient on its way back
    int N, H, W, fwd_done;
};

static vdm_status calloc_dev(float **p, size_t n, int *fail)
{
    *p = NULL;
    if (*fail) return VDM_ERR_CUDA;
    if (cudaMalloc((void **)p, sizeof(float) * (n ? n : 1)) != cudaSuccess) {
        (void)cudaGetLastError();
        *p = NULL;
        *fail = 1;
        return VDM_ERR_CUDA;
    }
    return VDM_OK;
}

void vdm_cuda_train_free(vdm_cuda_train *g)
{
    if (!g) return;
    float **bufs[] = {&g->w, &g->dw, &g->wf, &g->z, &g->feat, &g->h, &g->a, &g->u, &g->v, &g->out, &g->gb,
                      &g->dout, &g->dh, &g->dt1, &g->dt2, &g->dfeat, &g->dz, &g->bsum, &g->col, &g->part};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vdm_cu_free(bufs[i]);
    if (g->have_blas) (void)cublasDestroy(g->blas);
    if (g->have_stream) (void)cudaStreamDestroy(g->s);
    (void)cudaGetLastError();
    vdm_cu_shape_free(&g->sh);
    free(g->stage);
    free(g);
}

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

static vdm_status alloc_all(vdm_cuda_train *g)
{
    const size_t P = g->cap_pix, C = (size_t)g->sh.C, B = (size_t)g->sh.B, F = (size_t)g->sh.F, K = (size_t)g->sh.K,
                 Ko = (size_t)g->sh.Ko, N = (size_t)g->capN;
    const size_t cmax = zmax(zmax(C, F), Ko);
    // the im2col chunk: at least one image row, at most COL_FLOATS (or all pixels)
    size_t chunk = COL_FLOATS / (9 * cmax);
    if (chunk < (size_t)g->capW) chunk = (size_t)g->capW;
    if (chunk > P) chunk = P;
    g->col_floats = chunk * 9 * cmax;
    g->part_floats = (P / COLSUM_ROWS + N + 1) * cmax;
    int fail = 0;
    calloc_dev(&g->w, g->sh.np, &fail);
    calloc_dev(&g->dw, g->sh.np, &fail);
    calloc_dev(&g->wf, 9 * cmax * cmax, &fail);
    calloc_dev(&g->z, P * K, &fail);
    calloc_dev(&g->feat, P * F, &fail);
    calloc_dev(&g->h, (B + 1) * P * C, &fail);
    calloc_dev(&g->a, (B + 1) * P * C, &fail);
    calloc_dev(&g->u, B * P * C, &fail);
    calloc_dev(&g->v, B * P * C, &fail);
    calloc_dev(&g->out, P * Ko, &fail);
    calloc_dev(&g->gb, B * N * C, &fail);
    calloc_dev(&g->dout, P * Ko, &fail);
    calloc_dev(&g->dh, P * C, &fail);
    calloc_dev(&g->dt1, P * C, &fail);
    calloc_dev(&g->dt2, P * C, &fail);
    calloc_dev(&g->dfeat, P * F, &fail);
    calloc_dev(&g->dz, P * K, &fail);
    calloc_dev(&g->bsum, B * N * C, &fail);
    calloc_dev(&g->col, g->col_floats, &fail);
    calloc_dev(&g->part, g->part_floats, &fail);
    return fail ? VDM_ERR_CUDA : VDM_OK;
}

vdm_status vdm_cuda_train_create(const vdm_cuda_net_desc *d, int N, int H, int W, vdm_cuda_train **out)
{
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    *out = NULL;
    VDM_RETURN_IF(N < 1 || H < 1 || W < 1 || (long long)N * H > (1LL << 30) || (long long)N * H * W > (1LL << 31),
                  VDM_ERR_ARG);
    vdm_cu_net_shape sh;
    VDM_FORWARD(vdm_cu_shape_init(&sh, d));
    vdm_status st = vdm_cu_ready();
    vdm_cuda_train *g = st == VDM_OK ? (vdm_cuda_train *)calloc(1, sizeof *g) : NULL;
    if (!g) {
        vdm_cu_shape_free(&sh);
        return st == VDM_OK ? VDM_ERR_NOMEM : st;
    }
    g->sh = sh;
    g->capN = N;
    g->capW = W;
    g->cap_pix = (size_t)N * (size_t)H * (size_t)W;
    g->stage = (float *)malloc(sizeof(float) * (sh.np ? sh.np : 1));
    if (!g->stage) st = VDM_ERR_NOMEM;
    if (st == VDM_OK) {
        if (cudaStreamCreateWithFlags(&g->s, cudaStreamNonBlocking) == cudaSuccess) g->have_stream = 1;
        else st = VDM_ERR_CUDA;
    }
    if (st == VDM_OK) {
        if (cublasCreate(&g->blas) == CUBLAS_STATUS_SUCCESS) g->have_blas = 1;
        else st = VDM_ERR_CUDA;
    }
    if (st == VDM_OK && (cublasSetStream(g->blas, g->s) != CUBLAS_STATUS_SUCCESS ||
                         cublasSetMathMode(g->blas, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS))
        st = VDM_ERR_CUDA;
    if (st == VDM_OK) st = alloc_all(g);
    if (st != VDM_OK) {
        (void)cudaGetLastError();
        vdm_cuda_train_free(g);
        return st;
    }
    *out = g;
    return VDM_OK;
}

vdm_status vdm_cuda_train_set_tf32(vdm_cuda_train *g, int on)
{
    VDM_RETURN_IF(!g, VDM_ERR_ARG);
    VDM_CUBLAS(cublasSetMathMode(g->blas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    return VDM_OK;
}

/* ============================================================ layer ops */

// out[P][Cout] = (base or 0) + bias + conv3x3(in; w), P = g->N*H*W.
static vdm_status conv_fwd(vdm_cuda_train *g, float *out, const float *in, const float *w, const float *bias,
                           size_t nstride, const float *base, int Cin, int Cout)
{
    const size_t P = (size_t)g->N * (size_t)g->H * (size_t)g->W, HW = (size_t)g->H * (size_t)g->W;
    const size_t KC = 9 * (size_t)Cin, chunk = g->col_floats / KC;
    const size_t tot = P * (size_t)Cout;
    vdm_cu_bias_init_k<<<vdm_cu_blocks(tot), VDM_CU_THREADS, 0, g->s>>>(out, base, bias, nstride, HW, Cout, tot);
    VDM_CU(cudaGetLastError());
    const float one = 1.0f;
    for (size_t p0 = 0; p0 < P; p0 += chunk) {
        const size_t np = P - p0 < chunk ? P - p0 : chunk, ct = np * KC;
        vdm_cu_im2col_k<<<vdm_cu_blocks(ct), VDM_CU_THREADS, 0, g->s>>>(g->col, in, p0, g->H, g->W, Cin, ct);
        VDM_CU(cudaGetLastError());
        VDM_CUBLAS(cublasSgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, Cout, (int)np, (int)KC, &one, w, Cout, g->col,
                               (int)KC, &one, out + p0 * (size_t)Cout, Cout));
    }
    return VDM_OK;
}

// out[G][C] (= or +=) column sums of x's G groups of L rows each.
static vdm_status colsum(vdm_cuda_train *g, float *out, const float *x, size_t G, size_t L, int C, int accumulate)
{
    const size_t nch = (L + COLSUM_ROWS - 1) / COLSUM_ROWS, t1 = G * nch * (size_t)C, t2 = G * (size_t)C;
    VDM_RETURN_IF(t1 > g->part_floats, VDM_ERR_INTERNAL);
    vdm_cu_colsum1_k<<<vdm_cu_blocks(t1), VDM_CU_THREADS, 0, g->s>>>(g->part, x, L, C, nch, t1);
    VDM_CU(cudaGetLastError());
    vdm_cu_colsum2_k<<<vdm_cu_blocks(t2), VDM_CU_THREADS, 0, g->s>>>(out, g->part, C, nch, accumulate, t2);
    VDM_CU(cudaGetLastError());
    return VDM_OK;
}

// din = dL/din (=, may be NULL), dw += dL/dw, db += dL/db (may be NULL).
static vdm_status conv_bwd(vdm_cuda_train *g, float *din, float *dw, float *db, const float *dout,
                           const float *in, const float *w, int Cin, int Cout)
{
    const size_t P = (size_t)g->N * (size_t)g->H * (size_t)g->W;
    if (db) VDM_FORWARD(colsum(g, db, dout, 1, P, Cout, 1));
    const size_t KC = 9 * (size_t)Cin, chunk = g->col_floats / KC;
    const float one = 1.0f;
    for (size_t p0 = 0; p0 < P; p0 += chunk) {
        const size_t np = P - p0 < chunk ? P - p0 : chunk, ct = np * KC;
        vdm_cu_im2col_k<<<vdm_cu_blocks(ct), VDM_CU_THREADS, 0, g->s>>>(g->col, in, p0, g->H, g->W, Cin, ct);
        VDM_CU(cudaGetLastError());
        VDM_CUBLAS(cublasSgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, Cout, (int)KC, (int)np, &one,
                               dout + p0 * (size_t)Cout, Cout, g->col, (int)KC, &one, dw, Cout));
    }
    if (din) {
        const size_t tw = 9 * (size_t)Cin * (size_t)Cout;
        vdm_cu_flip_k<<<vdm_cu_blocks(tw), VDM_CU_THREADS, 0, g->s>>>(g->wf, w, Cin, Cout, tw);
        VDM_CU(cudaGetLastError());
        VDM_FORWARD(conv_fwd(g, din, dout, g->wf, NULL, 0, NULL, Cout, Cin));
    }
    return VDM_OK;
}

static vdm_status act_fwd(vdm_cuda_train *g, float *out, const float *in, size_t n)
{
    VDM_CU(vdm_cu_act(g->s, out, in, n, g->sh.act));
    return VDM_OK;
}

static vdm_status act_bwd(vdm_cuda_train *g, float *din, const float *in, const float *dout, size_t n,
                          int accumulate)
{
    vdm_cu_act_bwd_k<<<vdm_cu_blocks(n), VDM_CU_THREADS, 0, g->s>>>(din, in, dout, n, g->sh.act, accumulate);
    VDM_CU(cudaGetLastError());
    return VDM_OK;
}

/* ============================================================ forward */

static vdm_status enqueue_forward(vdm_cuda_train *g)
{
    const size_t P = (size_t)g->N * (size_t)g->H * (size_t)g->W, C = (size_t)g->sh.C, PC = P * C;
    const float *w = g->w;
    VDM_CU(vdm_cu_fourier(g->s, g->feat, g->z, P, g->sh.K, g->sh.fr, g->sh.nf));
    VDM_FORWARD(conv_fwd(g, g->h, g->feat, w + g->sh.in_w, w + g->sh.in_b, 0, NULL, g->sh.F, g->sh.C));
    VDM_FORWARD(act_fwd(g, g->a, g->h, PC));
    for (int b = 0; b < g->sh.B; b++) {
        float *hb = g->h + (size_t)b * PC, *ab = g->a + (size_t)b * PC;
        float *ub = g->u + (size_t)b * PC, *vb = g->v + (size_t)b * PC;
        VDM_FORWARD(conv_fwd(g, ub, ab, w + g->sh.w1[b], g->gb + (size_t)b * (size_t)g->N * C, C, NULL, g->sh.C,
                             g->sh.C));
        VDM_FORWARD(act_fwd(g, vb, ub, PC));
        VDM_FORWARD(conv_fwd(g, hb + PC, vb, w + g->sh.w2[b], w + g->sh.b2[b], 0, hb, g->sh.C, g->sh.C));
        VDM_FORWARD(act_fwd(g, ab + PC, hb + PC, PC));
    }
    return conv_fwd(g, g->out, g->a + (size_t)g->sh.B * PC, w + g->sh.out_w, w + g->sh.out_b, 0, NULL, g->sh.C,
                    g->sh.Ko);
}

// Drain the stream whatever happened (queued work may still read host
// buffers) and fold a failure of the drain into st.
static vdm_status finish(vdm_cuda_train *g, vdm_status st)
{
    if (cudaStreamSynchronize(g->s) != cudaSuccess && st == VDM_OK) st = VDM_ERR_CUDA;
    if (st != VDM_OK) (void)cudaGetLastError();
    return st;
}

static vdm_status forward_run(vdm_cuda_train *g, const float *params, const float *z, const float *blk_bias,
                              float *out)
{
    const size_t P = (size_t)g->N * (size_t)g->H * (size_t)g->W;
    const size_t ngb = (size_t)g->sh.B * (size_t)g->N * (size_t)g->sh.C;
    VDM_CU(cudaMemcpyAsync(g->w, params, sizeof(float) * g->sh.np, cudaMemcpyHostToDevice, g->s));
    VDM_CU(cudaMemcpyAsync(g->z, z, sizeof(float) * P * (size_t)g->sh.K, cudaMemcpyHostToDevice, g->s));
    VDM_CU(cudaMemcpyAsync(g->gb, blk_bias, sizeof(float) * ngb, cudaMemcpyHostToDevice, g->s));
    VDM_FORWARD(enqueue_forward(g));
    VDM_CU(cudaMemcpyAsync(out, g->out, sizeof(float) * P * (size_t)g->sh.Ko, cudaMemcpyDeviceToHost, g->s));
    return VDM_OK;
}

vdm_status vdm_cuda_train_forward(vdm_cuda_train *g, const float *params, const float *z,
                                  const float *blk_bias, int N, int H, int W, float *out)
{
    VDM_RETURN_IF(!g || !params || !z || !blk_bias || !out, VDM_ERR_ARG);
    VDM_RETURN_IF(N < 1 || H < 1 || W < 1 || N > g->capN || W > g->capW, VDM_ERR_ARG);
    VDM_RETURN_IF((size_t)N * (size_t)H * (size_t)W > g->cap_pix, VDM_ERR_ARG);
    VDM_CU(cudaSetDevice(0));
    g->N = N;
    g->H = H;
    g->W = W;
    g->fwd_done = 0;
    vdm_status st = finish(g, forward_run(g, params, z, blk_bias, out));
    if (st == VDM_OK) g->fwd_done = 1;
    return st;
}

/* ============================================================ backward */

static vdm_status backward_run(vdm_cuda_train *g, const float *dout_host, float *bias_grad, float *dz)
{
    const size_t P = (size_t)g->N * (size_t)g->H * (size_t)g->W, C = (size_t)g->sh.C, PC = P * C;
    const size_t HW = (size_t)g->H * (size_t)g->W, B = (size_t)g->sh.B;
    const float *w = g->w;
    float *dw = g->dw;
    VDM_CU(cudaMemsetAsync(dw, 0, sizeof(float) * g->sh.np, g->s));
    VDM_CU(cudaMemcpyAsync(g->dout, dout_host, sizeof(float) * P * (size_t)g->sh.Ko, cudaMemcpyHostToDevice, g->s));
    // out = conv_out(a_B), a_B = act(h_B)
    VDM_FORWARD(conv_bwd(g, g->dt1, dw + g->sh.out_w, dw + g->sh.out_b, g->dout, g->a + B * PC, w + g->sh.out_w,
                         g->sh.C, g->sh.Ko));
    VDM_FORWARD(act_bwd(g, g->dh, g->h + B * PC, g->dt1, PC, 0));
    for (int b = g->sh.B - 1; b >= 0; b--) {
        const size_t o = (size_t)b * PC;
        // h_{b+1} = h_b + conv2(v_b): dh passes through the residual unchanged
        VDM_FORWARD(conv_bwd(g, g->dt1, dw + g->sh.w2[b], dw + g->sh.b2[b], g->dh, g->v + o, w + g->sh.w2[b], g->sh.C,
                             g->sh.C));
        VDM_FORWARD(act_bwd(g, g->dt1, g->u + o, g->dt1, PC, 0)); // du
        // u_b = conv1(a_b) + bias[n]: the per-image bias gets du summed per image
        VDM_FORWARD(colsum(g, g->bsum + (size_t)b * (size_t)g->N * C, g->dt1, (size_t)g->N, HW, g->sh.C, 0));
        VDM_FORWARD(conv_bwd(g, g->dt2, dw + g->sh.w1[b], NULL, g->dt1, g->a + o, w + g->sh.w1[b], g->sh.C, g->sh.C));
        VDM_FORWARD(act_bwd(g, g->dh, g->h + o, g->dt2, PC, 1)); // dh += act'(h_b) dt2
    }
    VDM_FORWARD(conv_bwd(g, dz ? g->dfeat : NULL, dw + g->sh.in_w, dw + g->sh.in_b, g->dh, g->feat, w + g->sh.in_w,
                         g->sh.F, g->sh.C));
    if (dz) {
        const size_t tz = P * (size_t)g->sh.K;
        vdm_cu_fourier_bwd_k<<<vdm_cu_blocks(tz), VDM_CU_THREADS, 0, g->s>>>(g->dz, g->z, g->dfeat, tz, g->sh.K,
                                                                             g->sh.fr, g->sh.nf);
        VDM_CU(cudaGetLastError());
        VDM_CU(cudaMemcpyAsync(dz, g->dz, sizeof(float) * tz, cudaMemcpyDeviceToHost, g->s));
    }
    VDM_CU(cudaMemcpyAsync(bias_grad, g->bsum, sizeof(float) * B * (size_t)g->N * C, cudaMemcpyDeviceToHost, g->s));
    VDM_CU(cudaMemcpyAsync(g->stage, dw, sizeof(float) * g->sh.np, cudaMemcpyDeviceToHost, g->s));
    return VDM_OK;
}

static void add_range(float *dst, const float *src, size_t o, size_t n)
{
    for (size_t i = o; i < o + n; i++) dst[i] += src[i];
}

vdm_status vdm_cuda_train_backward(vdm_cuda_train *g, const float *dout, float *dparams, float *bias_grad,
                                   float *dz)
{
    VDM_RETURN_IF(!g || !dout || !dparams || !bias_grad || !g->fwd_done, VDM_ERR_ARG);
    VDM_CU(cudaSetDevice(0));
    VDM_FORWARD(finish(g, backward_run(g, dout, bias_grad, dz)));
    // only the tensors this backward owns (the rest of the block is the caller's)
    const size_t C = (size_t)g->sh.C, F = (size_t)g->sh.F, Ko = (size_t)g->sh.Ko;
    add_range(dparams, g->stage, g->sh.in_w, 9 * F * C);
    add_range(dparams, g->stage, g->sh.in_b, C);
    for (int b = 0; b < g->sh.B; b++) {
        add_range(dparams, g->stage, g->sh.w1[b], 9 * C * C);
        add_range(dparams, g->stage, g->sh.w2[b], 9 * C * C);
        add_range(dparams, g->stage, g->sh.b2[b], C);
    }
    add_range(dparams, g->stage, g->sh.out_w, 9 * C * Ko);
    add_range(dparams, g->stage, g->sh.out_b, Ko);
    return VDM_OK;
}
